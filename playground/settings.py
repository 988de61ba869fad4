"""What the app may do where it runs: public mode (a Space or --public), its allow-lists and caps, where runs
live, and whose runs a request may see (a public app keeps each visitor's runs apart)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.engines.spec import DEFAULT_OPENAI_URL, parse_spec
from core.errors import ConfigError, SpecError
from core.models import PACKAGED, polyglot_home

PUBLIC_UPLOAD_BYTES = 1_000_000  # an uploaded prompt file on a public app: plenty for prompts, too small to abuse
PUBLIC_MAX_LIMIT = 200  # items per task and language a visitor may ask for


@dataclass(frozen=True)
class PublicLimits:
    """The caps a public app puts on each visitor and on itself; each can be set by an env variable."""

    max_tokens: int = 512  # per answer (Arena, /chat, Language check)
    max_turns: int = 8  # user turns kept in an Arena conversation
    max_prompt_chars: int = 4000  # one typed prompt
    max_models: int = 4  # models in one request
    jobs_per_visitor: int = 2  # running at once, per visitor
    stored_jobs_per_visitor: int = 20
    running_jobs: int = 4  # running at once, the whole app
    disk_bytes: int = 2_000_000_000  # all visitors' runs together; the oldest go first when it is full
    keep_days: float = 7.0  # a visitor's runs are deleted this long after their last change
    votes_per_minute: int = 30

    @classmethod
    def from_env(cls) -> PublicLimits:
        """Defaults, overridden by POLYGLOT_PUBLIC_<FIELD> (e.g. POLYGLOT_PUBLIC_MAX_TOKENS=256)."""
        values = {}
        for name, default in cls().__dict__.items():
            raw = os.environ.get(f"POLYGLOT_PUBLIC_{name.upper()}")
            if raw is None:
                continue
            try:
                values[name] = type(default)(raw)
            except ValueError as exc:
                raise ConfigError(f"POLYGLOT_PUBLIC_{name.upper()}={raw!r} is not a number; "
                                  f"unset it or give a {type(default).__name__} like {default}.") from exc
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    """The app's settings; `from_env` reads them as a Space (or `python app.py`) sets them."""

    public: bool = False
    runs_dir: Path = Path("runs")
    data_dir: Path | None = None
    allowed: tuple[str, ...] = ()  # extra model specs a public app may load, besides the packaged ones
    default_models: tuple[str, ...] = ("smollm2-135m", "gemma3-270m")
    upload_bytes: int | None = None
    serve: bool = True  # GGUF models in a shared llama-server (batched across visitors), not in process
    judge_urls: tuple[str, ...] = (DEFAULT_OPENAI_URL,)  # judge endpoints a public app may call
    limits: PublicLimits = field(default_factory=PublicLimits)
    visitor: str = ""  # in public mode, the visitor whose view this is ("" for the app itself)
    app_runs_dir: Path | None = None  # the app's runs dir when runs_dir is one visitor's
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, public: bool = False, runs_dir: str | None = None, data_dir: str | None = None,
                 serve: bool | None = None) -> Settings:
        """Public when asked or on a Hugging Face Space (it sets SPACE_ID); POLYGLOT_ALLOWED_MODELS adds specs,
        POLYGLOT_JUDGE_URLS sets the judge endpoints; POLYGLOT_SERVE=0 keeps GGUF models in process."""
        public = public or bool(os.environ.get("SPACE_ID")) or os.environ.get("POLYGLOT_PUBLIC") == "1"
        allowed = tuple(s.strip() for s in os.environ.get("POLYGLOT_ALLOWED_MODELS", "").split(",") if s.strip())
        urls = tuple(_url(u) for u in os.environ.get("POLYGLOT_JUDGE_URLS", DEFAULT_OPENAI_URL).split(",")
                     if u.strip())
        data = data_dir or os.environ.get("POLYGLOT_DATA_DIR")
        return cls(public=public, runs_dir=Path(runs_dir or os.environ.get("POLYGLOT_RUNS", "runs")).absolute(),
                   data_dir=Path(data).absolute() if data else None, allowed=allowed,
                   upload_bytes=PUBLIC_UPLOAD_BYTES if public else None, judge_urls=urls,
                   limits=PublicLimits.from_env() if public else PublicLimits(),
                   serve=serve if serve is not None else os.environ.get("POLYGLOT_SERVE", "1") != "0")

    def for_visitor(self, visitor: str) -> Settings:
        """A public app's view for one visitor: their own runs dir under `visitors/`; the app's view otherwise."""
        if not self.public or not visitor:
            return self
        root = self.app_runs_dir or self.runs_dir
        return replace(self, runs_dir=root / "visitors" / visitor, visitor=visitor, app_runs_dir=root)

    @property
    def root_runs_dir(self) -> Path:
        """The app's own runs dir (a visitor's view lives under it)."""
        return self.app_runs_dir or self.runs_dir

    @property
    def model_choices(self) -> list[str]:
        """The specs offered in every model picker."""
        choices = [*PACKAGED, *(f"hf:{name}" for name in PACKAGED), *self.allowed]
        return list(dict.fromkeys(choices))

    def check_model(self, spec: str) -> str:
        """`spec` stripped, if it parses and (in public mode) is allow-listed; else SpecError with the fix."""
        spec = (spec or "").strip()
        parse_spec(spec)  # a malformed spec says what the valid forms are
        if self.public and spec not in self.model_choices:
            raise SpecError(f"This public app loads only its listed models ({', '.join(self.model_choices)}), "
                            f"not {spec!r}; run Polyglot Lab yourself (`python app.py`) to load any model.")
        return spec

    def check_models(self, specs: list[str]) -> list[str]:
        """Each spec checked; a public app also caps how many one request names."""
        if self.public and len(specs) > self.limits.max_models:
            raise ConfigError(f"This public app compares up to {self.limits.max_models} models per request, "
                              f"not {len(specs)}; remove some.")
        return [self.check_model(s) for s in specs]

    def check_limit(self, limit: int | None) -> int | None:
        """A public app caps the items per task and language."""
        if self.public and (limit is None or limit > PUBLIC_MAX_LIMIT):
            return PUBLIC_MAX_LIMIT
        return limit

    def cap_tokens(self, max_tokens: int) -> int:
        """A public app caps the tokens of one answer; a local app takes what it is given."""
        return min(int(max_tokens), self.limits.max_tokens) if self.public else int(max_tokens)

    def check_prompt(self, text: str) -> None:
        """A public app refuses a typed prompt longer than its cap, saying the cap."""
        if self.public and len(text) > self.limits.max_prompt_chars:
            raise ConfigError(f"The prompt has {len(text):,} characters; this public app takes up to "
                              f"{self.limits.max_prompt_chars:,}. Shorten it, or run Polyglot Lab yourself.")

    def check_judge_url(self, url: str | None) -> str:
        """The judge endpoint: any URL on a local app; on a public app only one the operator listed
        (POLYGLOT_JUDGE_URLS), so no visitor can make the app call a host they name."""
        url = _url(url or DEFAULT_OPENAI_URL)
        if self.public and url not in self.judge_urls:
            raise ConfigError(f"This public app calls only the judge endpoints its operator listed "
                              f"({', '.join(self.judge_urls)}), not {url!r}. Nothing was sent.")
        return url

    def redact(self, text: str) -> str:
        """`text` with the server's own paths replaced by short names, on a public app (no server path
        reaches a visitor's page); unchanged on a local app."""
        if not self.public or not text:
            return text
        roots = [(self.runs_dir, "runs"), (self.root_runs_dir, "runs"), (polyglot_home(), "cache"),
                 (Path(__file__).resolve().parents[1], "."), (Path.home(), "~")]
        roots += [(self.data_dir, "data")] if self.data_dir else []
        roots.append((Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio"), "upload"))
        for path, name in sorted(roots, key=lambda r: -len(str(r[0]))):  # the longest (most specific) first
            text = text.replace(str(path), name)
        return text


def _url(url: str) -> str:
    return url.strip().rstrip("/")

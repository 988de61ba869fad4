"""What the app may do where it runs: public mode (a Space or --public), its allow-list, where runs live."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.engines.spec import parse_spec
from core.errors import SpecError
from core.models import DEFAULT_MODEL, PACKAGED

PUBLIC_UPLOAD_BYTES = 1_000_000  # an uploaded prompt file on a public app: plenty for prompts, too small to abuse
PUBLIC_MAX_LIMIT = 200  # items per task and language a visitor may ask for


@dataclass(frozen=True)
class Settings:
    """The app's settings; `from_env` reads them as a Space (or `python app.py`) sets them."""

    public: bool = False
    runs_dir: Path = Path("runs")
    data_dir: Path | None = None
    allowed: tuple[str, ...] = ()  # extra model specs a public app may load, besides the packaged ones
    default_models: tuple[str, ...] = (DEFAULT_MODEL, "smollm2-135m")
    upload_bytes: int | None = None
    serve: bool = True  # GGUF models in a shared llama-server (batched across visitors), not in process
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, public: bool = False, runs_dir: str | None = None, data_dir: str | None = None,
                 serve: bool | None = None) -> Settings:
        """Public when asked or on a Hugging Face Space (it sets SPACE_ID); POLYGLOT_ALLOWED_MODELS adds specs;
        POLYGLOT_SERVE=0 keeps GGUF models in process."""
        public = public or bool(os.environ.get("SPACE_ID")) or os.environ.get("POLYGLOT_PUBLIC") == "1"
        allowed = tuple(s.strip() for s in os.environ.get("POLYGLOT_ALLOWED_MODELS", "").split(",") if s.strip())
        data = data_dir or os.environ.get("POLYGLOT_DATA_DIR")
        return cls(public=public, runs_dir=Path(runs_dir or os.environ.get("POLYGLOT_RUNS", "runs")).absolute(),
                   data_dir=Path(data).absolute() if data else None, allowed=allowed,
                   upload_bytes=PUBLIC_UPLOAD_BYTES if public else None,
                   serve=serve if serve is not None else os.environ.get("POLYGLOT_SERVE", "1") != "0")

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

    def check_limit(self, limit: int | None) -> int | None:
        """A public app caps the items per task and language."""
        if self.public and (limit is None or limit > PUBLIC_MAX_LIMIT):
            return PUBLIC_MAX_LIMIT
        return limit

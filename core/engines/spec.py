"""Model spec strings: one line that names a model and the backend that runs it."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import SpecError
from core.models import PACKAGED

BACKENDS = ("hf", "gguf", "openai", "served")
SERVED_OPTIONS = {"parallel": 1, "ctx": 64, "timeout": 1, "cache": 0}  # +key=N options of served:, their minimum
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"

_FORMS = [
    (" | ".join(PACKAGED), "a packaged model (runs on the gguf backend)"),
    (f"hf:{next(iter(PACKAGED))}", "the same packaged model through transformers"),
    ("gguf:path/to/model.gguf", "a GGUF file through llama.cpp"),
    ("hf:path/to/dir | hf:org/name", "a transformers model directory or hub id (or hf:model.gguf)"),
    ("hf:BASE+adapter=DIR", "with a PEFT adapter; repeat +adapter=NAME:DIR for several"),
    ("openai:MODEL@http://host:port/v1", "an OpenAI-compatible server (key from $OPENAI_API_KEY)"),
    ("served:MODEL[+parallel=8][+ctx=4096][+cache=0]", "a packaged model or .gguf in a managed llama-server"),
    ("served:MODEL+adapter=NAME:FILE.gguf", "with LoRA adapters in llama.cpp's format, chosen per request"),
]
VALID_FORMS = "Valid model specs:\n" + "\n".join(f"  {form:<34} {what}" for form, what in _FORMS)


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: which backend, which model, and backend options."""

    backend: str
    model: str
    adapters: tuple[tuple[str, str], ...] = ()  # (name, directory; a .gguf file for served:)
    base_url: str | None = None
    options: tuple[tuple[str, int], ...] = ()  # served: parallel, ctx, timeout, cache

    def option(self, key: str, default: int) -> int:
        return dict(self.options).get(key, default)

    @property
    def packaged(self) -> bool:
        return self.model in PACKAGED

    def __str__(self) -> str:
        if self.backend == "openai":
            return f"openai:{self.model}@{self.base_url}"
        extra = "".join(f"+{key}={value}" for key, value in self.options)
        extra += "".join(f"+adapter={name}:{path}" for name, path in self.adapters)
        return f"{self.backend}:{self.model}{extra}"


def display_name(spec: str) -> str:
    """How tables and pickers name a model: a served model by the model it serves (`served:X+parallel=16` gives
    the same tokens and text as `X`), anything else by its spec."""
    if spec.startswith("served:"):
        return spec.removeprefix("served:").split("+")[0]
    return spec


def _fail(spec: str, why: str) -> SpecError:
    close = difflib.get_close_matches(spec, list(PACKAGED), n=2, cutoff=0.5)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return SpecError(f"Bad model spec {spec!r}: {why}.{hint}\n{VALID_FORMS}")


def _parse_served_option(spec: str, option: str) -> tuple[str, int]:
    key, _, value = option.partition("=")
    if key not in SERVED_OPTIONS or not value.isdigit() or int(value) < SERVED_OPTIONS[key]:
        valid = ", ".join(f"{k}=N (N >= {low})" for k, low in SERVED_OPTIONS.items())
        raise _fail(spec, f"bad option {option!r}; served: takes {valid} and adapter=NAME:FILE.gguf")
    return key, int(value)


def _parse_adapter(spec: str, option: str) -> tuple[str, str]:
    key, _, value = option.partition("=")
    if key != "adapter" or not value:
        raise _fail(spec, f"unknown option {option!r} (the only option is adapter=DIR or adapter=NAME:DIR)")
    name, sep, path = value.partition(":")
    if not sep:
        name, path = (Path(value).stem if value.endswith(".gguf") else Path(value).name) or "adapter", value
    if not name or not path:
        raise _fail(spec, f"adapter option {option!r} needs a name and a directory")
    return name, path


def parse_spec(spec: str) -> ModelSpec:
    """Parse a spec string; a malformed one raises SpecError listing the valid forms."""
    text = (spec or "").strip()
    if not text:
        raise _fail(spec or "", "it is empty")
    if text in PACKAGED:
        return ModelSpec("gguf", text)
    backend, sep, rest = text.partition(":")
    if not sep or backend not in BACKENDS:
        if text.endswith(".gguf"):
            return ModelSpec("gguf", text)
        raise _fail(text, "it is neither a packaged model nor BACKEND:MODEL with a backend in "
                          f"{', '.join(BACKENDS)}")
    if not rest.strip():
        raise _fail(text, f"nothing follows '{backend}:'")
    if backend == "openai":
        model, at, url = rest.partition("@")
        url = url if at else os.environ.get("OPENAI_BASE_URL", DEFAULT_OPENAI_URL)
        if not model or not url.startswith(("http://", "https://")):
            raise _fail(text, "an openai spec is openai:MODEL or openai:MODEL@http(s)://host:port/v1")
        return ModelSpec("openai", model, base_url=url.rstrip("/"))
    model, *options = rest.split("+")
    if not model:
        raise _fail(text, "the model part is empty")
    served_options = [o for o in options if backend == "served" and not o.startswith("adapter=")]
    served = tuple(_parse_served_option(text, o) for o in served_options)
    adapters = tuple(_parse_adapter(text, o) for o in options if o not in served_options)
    if backend == "served":
        if len({k for k, _ in served}) != len(served):
            raise _fail(text, "an option is given twice")
        if any(not path.endswith(".gguf") for _, path in adapters):
            raise _fail(text, "served: adapters are llama.cpp LoRA files (.gguf); make one with "
                              "`python -m quantize lora --adapter DIR --base MODEL --out NAME.gguf`")
    elif adapters and backend != "hf":
        raise _fail(text, "adapters need the hf backend, or served: with a LoRA .gguf (or merge the adapter, then "
                          "export to GGUF)")
    names = [n for n, _ in adapters]
    if len(set(names)) != len(names):
        raise _fail(text, f"adapter names repeat ({', '.join(names)}); name them with adapter=NAME:DIR")
    return ModelSpec(backend, model, adapters=adapters, options=served)

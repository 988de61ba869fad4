"""One Engine protocol, four backends: `load("gemma3-270m")`, `load("hf:...")`, `load("openai:m@url")`,
`load("served:gemma3-270m")`."""

from __future__ import annotations

from typing import Any

from core.engines.base import Engine, LoglikelihoodResult, complete
from core.engines.spec import VALID_FORMS, ModelSpec, parse_spec

__all__ = ["Engine", "LoglikelihoodResult", "ModelSpec", "VALID_FORMS", "complete", "load", "parse_spec"]


def load(spec: str | ModelSpec, **options: Any) -> Engine:
    """Open the model a spec names; options go to the backend (n_ctx, device, chat_format, ...)."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if parsed.backend == "hf":
        from core.engines.hf import HFEngine

        return HFEngine(parsed, **options)
    if parsed.backend == "gguf":
        from core.engines.gguf import GGUFEngine

        return GGUFEngine(parsed, **options)
    if parsed.backend == "served":
        from core.engines.served import ServedEngine

        return ServedEngine(parsed, **options)
    from core.engines.openai_api import OpenAIEngine

    return OpenAIEngine(parsed, **options)

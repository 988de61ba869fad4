"""The quantize jobs' configs: each is the flags of its `python -m quantize` subcommand and what the experiments'
export stage passes. See core.job_config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic

from core.job_config import arg, config_dataclass

_MODEL = "a transformers model dir, or an hf: spec (e.g. hf:gemma3-270m)"


@config_dataclass
class GgufJob:
    """export to GGUF (f32/f16/bf16) and llama.cpp quant types, verified"""

    model: str = arg(help=_MODEL)
    out: Path = arg(help="the directory for the files and card.json", identity=False)
    types: list[str] = arg(help="comma-separated: f32, f16, bf16, q8_0, q4_k_m, ...",
                           default_factory=lambda: ["f16", "q8_0", "q4_k_m"])
    verify: bool = arg(True, help="skip the comparison with the transformers model")
    verify_types: list[str] | None = arg(None, help="verify only these of the types (default: all)")

    def run_args(self) -> dict:
        """quantize.gguf_job.run's arguments (its `check` is the --no-verify flag's opposite)."""
        kw = dict(vars(self))
        kw["check"] = kw.pop("verify")
        return kw

    @pydantic.field_validator("types", "verify_types")
    @classmethod
    def _lower(cls, types: list[str] | None) -> list[str] | None:
        return [t.lower() for t in types] if types else types


@config_dataclass
class BnbJob:
    """save a bitsandbytes 4-bit (NF4) or 8-bit checkpoint, reloaded and verified"""

    model: str = arg(help=_MODEL)
    out: Path = arg(identity=False)
    bits: Literal[4, 8] = arg(4)


@config_dataclass
class LoraJob:
    """write a LoRA adapter as a llama.cpp adapter GGUF (use with lora_path)"""

    adapter: Path = arg(help="a PEFT LoRA adapter directory")
    base: str = arg(help="the base the adapter was trained on (dir or hf: spec)")
    out: Path = arg(help="the .gguf file to write", identity=False)


@config_dataclass
class OnnxJob:
    """export to ONNX through optimum-onnx (its own environment), verified in onnxruntime"""

    model: str = arg(help=_MODEL)
    out: Path = arg(identity=False)
    verify: bool = arg(True, help="skip the comparison with the transformers model")

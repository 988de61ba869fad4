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


@config_dataclass
class LadderJob:
    """export a ladder of llama.cpp types and measure each against f16 per language (FLORES-200), recommend one"""

    model: str = arg(help=_MODEL)
    out: Path = arg(help="the directory for the files, card.json and heatmap.png (rerun to resume)", identity=False)
    types: list[str] = arg(help="comma-separated llama.cpp types, largest first; TYPE@en / TYPE@langs / TYPE@text / "
                                "TYPE@file quantize with an importance matrix (i-quants need one)",
                           default_factory=lambda: ["f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k"])
    langs: list[str] = arg(help="languages to measure (codes, FLORES codes or names)",
                           default_factory=lambda: ["en", "de", "es", "sw", "ru", "bg", "ar", "hi", "zh", "ja", "ko",
                                                    "el"])
    data_dir: Path | None = arg(None, help="the folder holding flores200_devtest/ (and sib200/ for calibration)",
                                identity=False)
    sentences: int = arg(24, help="FLORES devtest sentences per language (the same ones in every language)")
    imatrix: Path | None = arg(None, help="a ready importance matrix (llama-imatrix output) for TYPE@file")
    calib_text: Path | None = arg(None, help="a text file (e.g. the training mix's text) for TYPE@text")
    calib_chunks: int = arg(48, help="chunks of 256 tokens llama-imatrix reads (the same for every calibration)")
    bench: list[str] | None = arg(None, help="benchmarks (e.g. xcopa) to score every file on, in the ladder's "
                                            "languages that the benchmark has: accuracy change from f16")
    bench_limit: int | None = arg(None, help="the first N items per benchmark language")
    prompts: str | None = arg(None, help="a prompt set (e.g. examples) every file answers: agreement, LCB line "
                                         "pass rate and answer health against f16")
    prompts_limit: int | None = arg(None, help="the first N prompts per language")
    recommend: bool = arg(False, help="name the smallest type that meets the floors in every language")
    max_kl: float = arg(0.05, help="--recommend's floor: mean KL divergence from f16, per language", identity=False)
    min_top1: float = arg(0.90, help="--recommend's floor: top-1 agreement with f16, per language", identity=False)
    max_ppl_change: float | None = arg(None, help="--recommend's floor: perplexity increase in %%, per language",
                                       identity=False)
    max_bench_drop: float = arg(1.0, help="--recommend's floor: accuracy points below f16 on a --bench task",
                                identity=False)

    @pydantic.field_validator("types")
    @classmethod
    def _lower(cls, types: list[str]) -> list[str]:
        return [t.lower() for t in types]

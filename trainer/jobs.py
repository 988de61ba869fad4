"""The trainer jobs' configs: each is the flags of its `python -m trainer` subcommand. The recipe and training
YAMLs they name are configs of their own (trainer.data.recipe, trainer.config), changed by key=value overrides."""

from __future__ import annotations

from pathlib import Path

from core.job_config import arg, config_dataclass

_OVERRIDES = "key=value overrides (before or after the options)"


@config_dataclass
class DataJob:
    """build a multilingual mix from a recipe YAML"""

    recipe: str = arg(help="recipe YAML (see configs/recipes/)", positional=True)
    out: Path = arg(help="output directory (mix.jsonl, card.json, ...)", identity=False)
    overrides: list[str] = arg(help=_OVERRIDES + ", e.g. mixture.size=300", positional=True, nargs="*",
                               default_factory=list)
    data_dir: Path = arg(Path("."), help="directory that relative `path:` entries are resolved under",
                         identity=False)
    dry_run: bool = arg(False, help="load and plan, print the cost estimate; no API call", identity=False)


@config_dataclass
class TrainJob:
    """fine-tune a LoRA/QLoRA adapter from a training config YAML"""

    config: str = arg(help="training config YAML (see configs/train/)", positional=True)
    overrides: list[str] = arg(help=_OVERRIDES + ", e.g. max_steps=20 lora.r=8", positional=True, nargs="*",
                               default_factory=list)
    resume: bool = arg(False, help="continue from the latest checkpoint in the out dir", identity=False)


@config_dataclass
class MergeJob:
    """merge an adapter into its base and verify the logits"""

    base: str = arg(help="the base the adapter was trained on (spec, dir or hub id)")
    adapter: Path = arg(help="the adapter directory")
    out: Path = arg(help="the merged model's directory", identity=False)
    dtype: str = arg("fp32", help="fp32, bf16 or fp16")


@config_dataclass
class XInstructJob:
    """X-Instruction: mine (English instruction, native response) pairs; a rerun resumes"""

    recipe: str = arg(help="X-Instruction recipe YAML (see configs/recipes/xinstruct-zh.yaml)", positional=True)
    out: Path = arg(help="output directory (card.json, mix.jsonl, stage files)", identity=False)
    overrides: list[str] = arg(help=_OVERRIDES + ", e.g. refine.iterations=2", positional=True, nargs="*",
                               default_factory=list)
    data_dir: Path = arg(Path("."), help="where relative `path:` entries are resolved", identity=False)
    until: str | None = arg(None, help="stop after this stage (seeds, corpus, reverse-train, candidates, "
                                       "iteration-K, diversify, mix)", identity=False)

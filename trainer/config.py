"""The training config: a dataclass loaded from YAML (`configs/train/`), validated on load, with
`key=value` overrides from the command line. Defaults follow Bactrian-X's LoRA recipe where it applies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pydantic

from core.config import config_dataclass, language_codes, load_config


@config_dataclass
class Lora:
    r: int = 16  # Bactrian-X: 64 for the multilingual model, 16 for monolingual ones
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"
    dora: bool = False

    def __post_init__(self):
        if self.r < 1 or self.alpha < 1 or not 0 <= self.dropout < 1:
            raise ValueError("lora.r and lora.alpha must be >= 1 and lora.dropout in [0, 1)")


@config_dataclass
class TrainConfig:
    base: str  # any spec the hf engine opens: hub id, local dir, packaged name, path.gguf
    data: str  # a mix.jsonl built by `python -m trainer data` (or its directory)
    out: str = "runs/train"
    chat_template: str | None = None  # a named format (chatml, gemma, alpaca, guanaco), a .jinja file, or None
    max_length: int = 1024
    packing: bool = False  # a batch's examples packed whole into rows of max_length, attending block-diagonally
    group_by_length: bool = True  # batches of similar length: less compute spent on padding
    supervised_head: bool = True  # project to the vocabulary only at positions with a trained label
    chunked_loss: bool = True  # fused cross-entropy in row chunks: the [tokens x vocab] logits are never held
    gap_dropout: bool = True  # on CPU, LoRA dropout drawn by geometric gaps: the same Bernoulli drops, ~4x cheaper
    lora: Lora = dataclasses.field(default_factory=Lora)
    qlora: bool = False  # load the base in 4-bit NF4 (bitsandbytes) and train LoRA on top
    learning_rate: float = 3e-4
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_steps: int = 200
    batch_size: int = 4
    grad_accum: int = 1
    gradient_checkpointing: bool = False
    eval_fraction: float = 0.05  # held out per language
    eval_max_rows: int = 200
    eval_every: int = 50
    log_every: int = 10
    save_every: int = 50
    keep_checkpoints: int = 2
    seed: int = 0
    languages: list[str] | None = None  # train on these languages of the mix only
    per_language: list[list[str]] | None = None  # one adapter per group: [[de], [fr, it]]
    tensorboard: bool = False
    recipe: str = "sft_lora"  # the training method registered in trainer/recipes/ (not a data recipe)

    @pydantic.field_validator("recipe")
    @classmethod
    def _known_recipe(cls, name: str) -> str:
        from trainer.recipes import names  # lazily: recipe modules import this one

        if name not in names():
            raise ValueError(f"unknown recipe {name!r}; registered: {', '.join(names())}")
        return name

    def __post_init__(self):
        if self.max_length < 16 or self.batch_size < 1 or self.grad_accum < 1 or self.max_steps < 1:
            raise ValueError("max_length >= 16, batch_size >= 1, grad_accum >= 1 and max_steps >= 1 are required")
        if min(self.eval_every, self.log_every, self.save_every, self.keep_checkpoints) < 1:
            raise ValueError("eval_every, log_every, save_every and keep_checkpoints must be >= 1")
        if not 0 <= self.eval_fraction < 1:
            raise ValueError("eval_fraction must be in [0, 1)")
        if self.languages:
            self.languages = language_codes(self.languages)
        if self.per_language:
            self.per_language = [language_codes(group) for group in self.per_language]

    @property
    def data_path(self) -> Path:
        p = Path(self.data).expanduser()
        return p / "mix.jsonl" if p.is_dir() else p


def load_train_config(path: str | Path, overrides: list[str] | tuple = ()) -> TrainConfig:
    """Read and validate a training config YAML."""
    return load_config(TrainConfig, path, overrides)

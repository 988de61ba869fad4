"""The X-Instruction recipe: a dataclass loaded from YAML (`configs/recipes/xinstruct-*.yaml`), validated on load.

Three LoRA models are trained on `base`, each with `train` (any TrainConfig field) plus its own settings: the
reverse model (target-language text -> English instruction), the evaluator (rates a pair 0/1/2) and the
cross-lingual model (English instruction -> target-language response)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from core.config import config_dataclass, language_code, load_config
from trainer.config import TrainConfig
from trainer.data.recipe import Source
from trainer.xinstruct.diversify import DEFAULT_ENCODER


@config_dataclass
class Seeds:
    instructions: Source  # English instructions (the user turns)
    responses: Source  # target-language responses with the same ids (row-aligned files: the same id_prefix)
    held_out: int = 60  # pairs kept out of training, for the evaluator's rating sets

    def __post_init__(self):
        if self.held_out < 4:
            raise ValueError("seeds.held_out must be >= 4 (the evaluator's rating sets are built from them)")


@config_dataclass
class Reverse:
    train: dict[str, Any] = dataclasses.field(default_factory=lambda: {"max_steps": 60})
    max_tokens: int = 48  # an instruction is one line
    require_english: bool = True  # drop generated instructions fastText does not read as English


@config_dataclass
class Refine:
    iterations: int = 3
    model_share: float = 0.5  # of the rating-1 examples, the share taken from the previous cross-lingual model
    test_fraction: float = 0.25  # of the held-out pairs: the evaluator's test set, the same in every iteration
    evaluator_train: dict[str, Any] = dataclasses.field(default_factory=lambda: {"max_steps": 40})
    model_train: dict[str, Any] = dataclasses.field(default_factory=lambda: {"max_steps": 40})
    model_max_tokens: int = 96  # the cross-lingual model's answers used as rating-1 examples
    train_last_model: bool = False  # the last iteration's cross-lingual model is not needed for the mix
    keep_at_least: int = 0  # 0: keep only candidates rated 2 (the paper); N: fill up to N by P(2), said in stats

    def __post_init__(self):
        if self.iterations < 1 or not 0 <= self.model_share <= 1 or not 0 < self.test_fraction < 1:
            raise ValueError("refine: iterations >= 1, model_share in [0, 1] and test_fraction in (0, 1) are required")
        if self.keep_at_least < 0:
            raise ValueError(f"refine.keep_at_least must be >= 0, got {self.keep_at_least}")


@config_dataclass
class Diversify:
    encoder: str = DEFAULT_ENCODER  # or a sentence-transformers model dir / hub id
    clusters: int = 1000  # the paper's number at full scale; capped at the number of samples
    per_cluster: int | None = None  # None: the smallest cluster's size (every cluster gives the same number)


@config_dataclass
class XInstructRecipe:
    lang: str  # the target (response) language
    seeds: Seeds
    corpus: dict[str, Source]  # unlabeled native text: rows (their assistant turns) or text segments
    name: str = "xinstruct"
    base: str = "smollm2-135m"
    train: dict[str, Any] = dataclasses.field(default_factory=dict)  # TrainConfig fields for all three models
    corpus_limit: int | None = None  # first N usable texts
    min_chars: int = 20
    max_chars: int = 800
    reverse: Reverse = dataclasses.field(default_factory=Reverse)
    refine: Refine = dataclasses.field(default_factory=Refine)
    diversify: Diversify = dataclasses.field(default_factory=Diversify)
    seed: int = 0

    def __post_init__(self):
        self.lang = language_code(self.lang)
        if not self.corpus:
            raise ValueError("`corpus:` needs at least one source of native text")
        if not 1 <= self.min_chars <= self.max_chars:
            raise ValueError("1 <= min_chars <= max_chars is required")
        left = self.seeds.held_out - self.test_pairs
        if left < 2:
            raise ValueError(f"seeds.held_out={self.seeds.held_out} with refine.test_fraction="
                             f"{self.refine.test_fraction} leaves {left} pair(s) to train the evaluator (2 or more "
                             f"needed): lower refine.test_fraction or raise seeds.held_out")
        if self.diversify.clusters < 1 or (self.diversify.per_cluster is not None and self.diversify.per_cluster < 1):
            raise ValueError("diversify.clusters and diversify.per_cluster must be >= 1")
        for name in ("reverse", "evaluator", "model"):  # a typo in a training setting fails now, not an hour in
            self.train_config(name, Path("mix.jsonl"), Path("out"))

    @property
    def test_pairs(self) -> int:
        """Held-out pairs in the evaluator's test set (the rest of the held-out pairs train it)."""
        return max(2, round(self.seeds.held_out * self.refine.test_fraction))

    def stage_names(self) -> list[str]:
        """The pipeline's stages in order (what --until accepts)."""
        return ["seeds", "corpus", "reverse-train", "candidates",
                *(f"iteration-{k}" for k in range(1, self.refine.iterations + 1)), "diversify", "mix"]

    def train_config(self, model: str, data: Path, out: Path) -> TrainConfig:
        """The TrainConfig of one of the three models (reverse, evaluator, model)."""
        own = {"reverse": self.reverse.train, "evaluator": self.refine.evaluator_train,
               "model": self.refine.model_train}[model]
        return load_config(TrainConfig, {"seed": self.seed, **self.train, **own, "base": self.base,
                                         "data": str(data), "out": str(out)})


def load_xinstruct(path: str | Path, overrides: list[str] | tuple = ()) -> XInstructRecipe:
    """Read and validate an X-Instruction recipe YAML."""
    return load_config(XInstructRecipe, path, overrides)

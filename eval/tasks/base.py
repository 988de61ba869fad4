"""What a benchmark task is: where its rows come from, and how a row becomes scored requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

Rows = Iterator[tuple[str, dict]]  # (where the row came from, the row in the hub dataset's schema)


@dataclass(frozen=True)
class Item:
    """One question. Multiple choice: a (context, continuation) request per option and the index of the right
    one. Generative: the prompt per style ("chat" messages, "raw" text) and the gold answers."""

    id: str
    requests: tuple[tuple[str, str], ...] = ()
    gold: int = -1
    prompt: dict = field(default_factory=dict)
    golds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    """A benchmark: log-likelihood multiple choice in lm-evaluation-harness's format (same prompts, same split),
    or generation scored by `score(output, item, lang) -> {metric: value}`."""

    name: str
    langs: tuple[str, ...]  # our language codes; `hub_config` maps them to the dataset's config names
    hub: str  # the dataset id on the Hugging Face hub
    split: str  # the split lm-eval scores
    fields: tuple[str, ...]  # the raw fields `to_item` reads
    to_item: Callable[[dict, str, str], Item]  # (row, lang, id) -> Item
    hub_config: Callable[[str], str] = lambda lang: lang
    local: Callable[[Path, str], tuple[Path, Rows]] | None = None  # (data_dir, lang) -> (file, rows)
    local_note: str = ""  # how the local copy differs from what lm-eval reads, if it does
    id_field: str | None = None  # the row's own id, else its position
    score: Callable[[str, Item, str], dict] | None = None  # generative tasks only
    max_tokens: int = 48
    stop: Callable[[str], list[str]] = lambda lang: ["\n"]  # generation stops (per language)
    # Metrics over a whole (task, lang) run, e.g. F1 across classes: records -> {metric: value}.
    corpus: Callable[[list[dict]], dict] | None = None
    # Where the hub copy of one language lives when languages come from different datasets: (id, config, split).
    hub_source: Callable[[str], tuple[str, str | None, str]] | None = None
    class_names: bool = False  # the hub dataset stores labels as ClassLabel ints: read them as their names
    # A tiny row in the hub schema and its language: the contract test builds and scores requests from it.
    example: tuple[str, dict] | None = None

    def hub_of(self, lang: str) -> tuple[str, str | None, str]:
        """(dataset id, config, split) of `lang` on the hub; "" as the id means the task has no hub copy."""
        return self.hub_source(lang) if self.hub_source else (self.hub, self.hub_config(lang), self.split)

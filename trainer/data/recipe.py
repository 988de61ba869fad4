"""A data recipe: which sources to load, how to mix their languages, and the optional steps
(translate-and-distill, translation demos, LID filter, stats). Loaded from YAML and validated on load."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from core.config import config_dataclass, language_code, language_codes, load_config

FORMATS = ("alpaca", "bactrian-x", "dolly", "seed_tasks", "sharegpt", "lima", "messages", "mt_bench", "oasst",
           "text", "squad")
TEXT_FORMATS = ("text", "squad")  # aligned text for translation demos, not conversations
MIXTURES = ("all", "mono", "parallel", "sampled", "multi_i", "weighted")

# Instructions that mention code are not translated (translation mangles code); Bactrian-X filters the same way.
CODE_KEYWORDS = ["code", "python", "java", "javascript", "c++", "c#", "sql", "html", "css", "json", "regex",
                 "function", "program", "script", "algorithm", "compile", "variable", "array", "class",
                 "def", "return", "print(", "api", "bash", "shell", "query"]


@config_dataclass
class Source:
    """One input: a local file (`path`, resolved under --data-dir) and/or a hub dataset (`hub`)."""

    format: Literal[FORMATS]
    lang: str | None = None  # declared language of every row; or set lang_field
    langs: list[str] | None = None  # expand "{lang}" in path/config into one input per language
    lang_field: str | None = None
    path: str | None = None
    hub: str | None = None
    config: str | None = None
    split: str = "train"
    revision: str | None = None
    answers: str | None = None  # mt_bench: the reference_answer file ("{lang}" expands too)
    id_field: str | None = None  # default: the format's own id field, else the row's position
    id_prefix: str = ""  # ids are "<prefix><position>"; the same prefix on row-aligned files pairs them
    text_field: str | None = None  # text format on csv/jsonl: the column that holds the text
    limit: int | None = None  # first N rows of each input

    def __post_init__(self):
        if not self.path and not self.hub:
            raise ValueError("a source needs `path:` (a local file) or `hub:` (a hub dataset id), or both")
        if (self.lang is None) == (self.langs is None) and not self.lang_field:
            raise ValueError("a source needs exactly one of `lang:` or `langs:` (or `lang_field:`)")
        if self.lang:
            self.lang = language_code(self.lang)
        if self.langs:
            self.langs = language_codes(self.langs)
            if "{lang}" not in (self.path or self.config or ""):
                raise ValueError("`langs:` needs '{lang}' in `path:` (or, for a hub-only source, in `config:`) "
                                 "to tell the inputs apart")
        if self.limit is not None and self.limit < 1:
            raise ValueError("`limit` must be >= 1")


@config_dataclass
class Mixture:
    """How languages are mixed; see trainer/data/mixtures.py for each kind."""

    kind: Literal[MIXTURES] = "all"
    languages: list[str] | None = None  # default: every language in the pool (base language first)
    size: int | None = None
    per_language: int | None = None  # multi_i: examples substituted per added language
    base: str = "en"  # multi_i: the language the N starting examples are in
    temperature: float | None = None  # weighted: p(lang) ~ n^(1/T)
    weights: dict[str, float] | None = None  # weighted: explicit p(lang) (normalized)
    sources: list[str] | None = None  # which sources feed the pool; default all conversation sources

    def __post_init__(self):
        if self.languages:
            self.languages = language_codes(self.languages)
        self.base = language_code(self.base)
        if self.weights:
            self.weights = {language_code(k): v for k, v in self.weights.items()}
            if any(v < 0 for v in self.weights.values()) or not any(v > 0 for v in self.weights.values()):
                raise ValueError("mixture.weights must be >= 0 and not all 0")
        if self.size is not None and self.size < 1:
            raise ValueError("mixture.size must be >= 1")
        if self.kind == "mono" and (not self.languages or len(self.languages) != 1):
            raise ValueError("mixture kind 'mono' needs exactly one language in `languages`")
        if self.kind == "multi_i" and (self.size is None or not self.languages):
            raise ValueError("mixture kind 'multi_i' needs `size` and `languages` (base first, then the added "
                             "languages in order)")
        if self.kind == "weighted" and (self.temperature is None) == (self.weights is None):
            raise ValueError("mixture kind 'weighted' needs exactly one of `temperature` or `weights`")
        if self.kind == "weighted" and self.size is None:
            raise ValueError("mixture kind 'weighted' needs `size`")
        if self.temperature is not None and self.temperature <= 0:
            raise ValueError("mixture.temperature must be > 0")


@config_dataclass
class Price:
    input: float  # USD per million prompt tokens
    output: float  # USD per million completion tokens


@config_dataclass
class Translate:
    """Bactrian-X style: translate instructions (and inputs), then let a teacher answer in the target language."""

    translator: str  # model spec, e.g. openai:gpt-4o-mini or openai:model@http://127.0.0.1:8000/v1
    languages: list[str]
    teacher: str | None = None  # default: the translator
    source_lang: str = "en"
    sources: list[str] | None = None  # default: every conversation source in source_lang
    limit: int | None = None  # translate the first N source rows (in file order) only
    skip_code: bool = True
    code_keywords: list[str] = dataclasses.field(default_factory=lambda: list(CODE_KEYWORDS))
    teacher_system: str | None = "Answer in {language}."
    concurrency: int = 4
    translate_max_tokens: int = 1024
    max_tokens: int = 1024  # teacher responses
    temperature: float = 0.7  # teacher; translation is greedy
    max_retries: int = 5  # per request, with exponential backoff on 429 / 5xx / timeouts
    timeout: float = 120.0
    api_key_env: str = "OPENAI_API_KEY"
    cache: str | None = None  # sqlite file; default $POLYGLOT_HOME/api-cache.sqlite
    prices: dict[str, Price] = dataclasses.field(default_factory=dict)  # model -> USD per 1M tokens
    max_cost: float | None = None  # refuse to start when the estimate is higher (USD)

    def __post_init__(self):
        self.languages = language_codes(self.languages)
        self.source_lang = language_code(self.source_lang)
        if self.source_lang in self.languages:
            raise ValueError(f"translate.languages contains the source language {self.source_lang!r}")
        if self.teacher_system:
            try:
                self.teacher_system.format(language="German")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"translate.teacher_system may only use {{language}}, not {exc}") from None
        if self.concurrency < 1 or self.max_retries < 0:
            raise ValueError("translate.concurrency must be >= 1 and translate.max_retries >= 0")


@config_dataclass
class Demos:
    """CrossAlpaca: translation-following demonstrations from aligned text, both directions."""

    corpus: list[str]  # names of text sources (format text or squad)
    languages: list[str]  # target languages (the base language is the other side)
    per_direction: int  # N base->x and N x->base demonstrations per language
    base: str = "en"
    ratio: float | None = None  # demos per instruction row in the final mix; None = all built demos

    def __post_init__(self):
        self.languages = language_codes(self.languages)
        self.base = language_code(self.base)
        if self.per_direction < 1:
            raise ValueError("demos.per_direction must be >= 1")
        if self.ratio is not None and self.ratio <= 0:
            raise ValueError("demos.ratio must be > 0")


@config_dataclass
class LidFilter:
    """Keep rows whose assistant text fastText identifies as the declared language."""

    min_confidence: float = 0.8
    action: Literal["drop", "flag"] = "drop"
    min_letters: int = 10  # shorter answers ("4", "Positive.") are kept unjudged


@config_dataclass
class Stats:
    tokenizer: str | None = "gemma3-270m"  # any model spec; None counts characters only


@config_dataclass
class Recipe:
    name: str
    sources: dict[str, Source]
    mixture: Mixture = dataclasses.field(default_factory=Mixture)
    description: str = ""
    seed: int = 0
    shuffle: bool = True
    max_bad_fraction: float = 0.01  # per source; over it the build stops and lists the bad rows
    translate: Translate | None = None
    lid_filter: LidFilter | None = None
    demos: Demos | None = None
    stats: Stats = dataclasses.field(default_factory=Stats)

    def __post_init__(self):
        if not self.sources:
            raise ValueError("the recipe has no sources")
        names = set(self.sources)
        for step, listed in (("mixture.sources", self.mixture.sources),
                             ("translate.sources", self.translate and self.translate.sources),
                             ("demos.corpus", self.demos and self.demos.corpus)):
            unknown = sorted(set(listed or []) - names)
            if unknown:
                raise ValueError(f"{step} names unknown source(s) {unknown}; the recipe's sources are "
                                 f"{sorted(names)}")
        if self.demos:
            not_text = [n for n in self.demos.corpus if self.sources[n].format not in TEXT_FORMATS]
            if not_text:
                raise ValueError(f"demos.corpus sources must have format text or squad: {not_text}")


def load_recipe(path: str | Path, overrides: list[str] | tuple = ()) -> Recipe:
    """Read and validate a recipe YAML (unknown keys and languages are errors that name the fix)."""
    return load_config(Recipe, path, overrides)

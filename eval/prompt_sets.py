"""Open-ended prompt sets (for language agreement and the judge), read from local copies under --data-dir:
each yields (id, category, turns) per language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from core.errors import ConfigError, DataError
from core.readers import Unparsable, read_local


@dataclass(frozen=True)
class Prompt:
    """One open-ended question: one or more user turns."""

    id: str
    category: str
    turns: tuple[str, ...]


@dataclass(frozen=True)
class PromptSet:
    name: str
    langs: tuple[str, ...]
    path: Callable[[str], str | tuple[str, ...]]  # lang -> its file, or its files one per source, under --data-dir
    description: str

    def files(self, lang: str) -> tuple[str, ...]:
        rel = self.path(lang)
        return (rel,) if isinstance(rel, str) else rel


# The Language Confusion Benchmark's sources per language. Monolingual: the prompt is in the language;
# cross-lingual: an English prompt asks for an answer in it. Either way the answer should be in that language.
LCB_MONO = {"aya": ("ar", "en", "pt", "tr", "zh"), "dolly": ("ar", "es", "fr", "hi", "ru"),
            "native": ("es", "fr", "ja", "ko"), "okapi": ("ar", "de", "en", "es", "fr", "id", "it", "pt", "vi", "zh")}
LCB_CROSS = ("complex_prompts", "okapi", "sharegpt")
LCB_CROSS_LANGS = ("ar", "de", "es", "fr", "hi", "id", "it", "ja", "ko", "pt", "ru", "tr", "vi", "zh")


def _lcb_mono(lang: str) -> tuple[str, ...]:
    return tuple(f"language_confusion_lcb/monolingual/{src}/{lang}.csv" for src, ls in LCB_MONO.items()
                 if lang in ls)


M2LINGUAL = {"bn": "bengali", "de": "de", "es": "es", "fr": "fr", "gu": "gujarati", "hi": "hindi", "it": "it",
             "ja": "jp", "nl": "nl", "pt": "pt", "ta": "tamil", "th": "thai", "ur": "urdu"}

SETS = {s.name: s for s in (
    PromptSet("hplt", ("bg", "bn", "cs", "en", "es", "fi", "fr", "hi", "no", "ru", "zh"),
              lambda lang: f"hplt_mono_multi_alpaca_test/test_{lang}.jsonl",
              "HPLT test prompts (OASST, human-translated), 50 per language"),
    PromptSet("mt_bench_x", ("de", "en", "es", "fr", "it"),
              lambda lang: f"mt_bench_x/mt_bench_{lang.upper()}/question.jsonl",
              "MT-Bench-X: human-corrected MT-Bench translations, 80 two-turn questions"),
    PromptSet("mt_bench_multilingual", tuple(M2LINGUAL),
              lambda lang: f"mt_bench_multilingual_m2lingual/mt_bench_{M2LINGUAL[lang]}/question.jsonl",
              "Multilingual MT-Bench (M2Lingual), 80 two-turn questions"),
    PromptSet("lcb_monolingual", tuple(sorted({lang for ls in LCB_MONO.values() for lang in ls})), _lcb_mono,
              "Language Confusion Benchmark, monolingual: 100 prompts per source (Aya, Dolly, native, Okapi)"),
    PromptSet("lcb_crosslingual", LCB_CROSS_LANGS,
              lambda lang: tuple(f"language_confusion_lcb/crosslingual/{src}/{lang}.csv" for src in LCB_CROSS),
              "Language Confusion Benchmark, cross-lingual: English prompts asking for an answer in the language"),
    PromptSet("mt_bench", ("en",), lambda lang: "mt_bench/mt_bench/question.jsonl", "MT-Bench, 80 two-turn"),
    PromptSet("vicuna80", ("en",), lambda lang: "mt_bench/vicuna_bench/question.jsonl", "Vicuna bench, 80"),
    PromptSet("alpaca_eval", ("en",), lambda lang: "alpaca_eval/alpaca_eval_instructions_example_outputs.json",
              "AlpacaEval, 805 instructions"),
)}


def get_set(name: str) -> PromptSet:
    """The prompt set called `name`; an unknown one lists the valid ones."""
    if name not in SETS:
        raise ConfigError(f"Unknown prompt set {name!r}; the sets are: {', '.join(SETS)}.")
    return SETS[name]


def load_prompts(ps: PromptSet, lang: str, data_dir: Path | None, limit: int | None = None) -> list[Prompt]:
    """The first `limit` prompts of `ps` in `lang`; unreadable lines are skipped (upstream has one in hi)."""
    if lang not in ps.langs:
        raise ConfigError(f"{ps.name} has no language {lang!r}; its languages are: {', '.join(ps.langs)}.")
    if data_dir is None:
        raise ConfigError(f"{ps.name} is read from a local copy: pass --data-dir (the directory that holds "
                          f"{ps.files(lang)[0]}).")
    by_source = not isinstance(ps.path(lang), str)
    tables = [_read(data_dir, rel, source=Path(rel).parent.name if by_source else None) for rel in ps.files(lang)]
    # several sources: take them in turn, so that a limit samples every source
    out = [p for group in zip_longest(*tables) for p in group if p is not None]
    return out[:limit] if limit is not None else out


def _read(data_dir: Path, rel: str, source: str | None) -> list[Prompt]:
    """The prompts of one file; with `source` (one of several files per language) ids and categories name it."""
    path = data_dir / rel
    if not path.is_file():
        raise DataError(f"{path} not found; point --data-dir at the directory that holds {rel}.")
    out = []
    for n, (where, row) in enumerate(read_local(path)):
        if isinstance(row, Unparsable):
            continue  # counted by nobody: the one known case is upstream's line 50 of test_hi.jsonl
        text = row.get("prompt") or row.get("instruction")
        turns = row.get("turns") or ([text] if text else None)
        if not turns:
            raise DataError(f"{where}: a prompt needs `turns`, `prompt` or `instruction`.")
        id = str(row.get("question_id", row.get("id", n)))  # AlpacaEval has no ids: its position is one
        category = source or row.get("category", row.get("dataset", ""))
        out.append(Prompt(f"{source}/{id}" if source else id, category, tuple(turns)))
    return out

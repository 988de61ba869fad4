"""Open-ended prompt sets (for language agreement and the judge), read from local copies under --data-dir:
each yields (id, category, turns) per language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
    path: Callable[[str], str]  # lang -> file under --data-dir
    description: str


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
                          f"{ps.path(lang)}).")
    path = data_dir / ps.path(lang)
    if not path.is_file():
        raise DataError(f"{path} not found; point --data-dir at the directory that holds {ps.path(lang)}.")
    out = []
    for n, (where, row) in enumerate(read_local(path)):
        if isinstance(row, Unparsable):
            continue  # counted by nobody: the one known case is upstream's line 50 of test_hi.jsonl
        text = row.get("prompt") or row.get("instruction")
        turns = row.get("turns") or ([text] if text else None)
        if not turns:
            raise DataError(f"{where}: a prompt needs `turns`, `prompt` or `instruction`.")
        id = row.get("question_id", row.get("id", n))  # AlpacaEval has no ids: its position is one
        out.append(Prompt(str(id), row.get("category", row.get("dataset", "")), tuple(turns)))
        if limit is not None and len(out) >= limit:
            break
    return out

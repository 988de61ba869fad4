"""Open-ended prompt sets (for language agreement and the judge): each yields (id, category, turns) per language.
Most are read from local copies under --data-dir; `examples` ships with Polyglot Lab, and a user's .jsonl file
(one {"lang": ..., "prompt": ...} object per line) is a set of its own, named by its path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from core.errors import ConfigError, DataError, UnknownLanguageError
from core.languages import get_language, register_languages, table
from core.readers import Unparsable, read_local
from eval.prompt_files import MAX_LANG_CHARS, MAX_PROMPT_CHARS, ROW_HINT, nested_too_deeply, read_rows


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
    path: Callable[[str], str | tuple[str, ...]]  # lang -> its file(s), one per source; relative: under --data-dir
    description: str
    lang_rows: bool = False  # one JSONL file (absolute path) for every language, each row naming its `lang`

    @property
    def by_source(self) -> bool:
        """Whether a language has one file per source (as the LCB has), each prompt's category naming its source."""
        return not self.lang_rows and not isinstance(self.path(self.langs[0]), str)

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


EXAMPLES = Path(__file__).with_name("example_prompts.jsonl")
EXAMPLE_LANGS = ("en", "de", "fr", "es", "it", "pt", "ru", "zh", "ja", "ko", "ar", "hi", "sw", "tr", "vi", "id")

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
    PromptSet("examples", EXAMPLE_LANGS, lambda lang: str(EXAMPLES),
              "Polyglot Lab's own prompts, 5 per language in 5 categories (packaged: no --data-dir)", lang_rows=True),
    PromptSet("mt_bench", ("en",), lambda lang: "mt_bench/mt_bench/question.jsonl", "MT-Bench, 80 two-turn"),
    PromptSet("vicuna80", ("en",), lambda lang: "mt_bench/vicuna_bench/question.jsonl", "Vicuna bench, 80"),
    PromptSet("alpaca_eval", ("en",), lambda lang: "alpaca_eval/alpaca_eval_instructions_example_outputs.json",
              "AlpacaEval, 805 instructions"),
)}
for _set in SETS.values():
    register_languages(_set.name, _set.langs)


def get_set(name: str) -> PromptSet:
    """The prompt set called `name`, or the user's .jsonl prompt file at path `name`; an unknown name lists the sets."""
    if name in SETS:
        return SETS[name]
    path = Path(name)
    if path.suffix or path.name != name or path.exists():  # looks like a file, not a misspelt set name
        return file_set(name)
    raise ConfigError(f"Unknown prompt set {name!r}; the sets are: {', '.join(SETS)}; or give the path of a .jsonl "
                      f"file with {ROW_HINT}")


def file_set(name: str) -> PromptSet:
    """The .jsonl prompt file `name`, a set over the languages its rows name; read whole now, before any model."""
    path = Path(name).expanduser().resolve()  # absolute: the set still reads it after a change of directory
    langs = tuple(_read_lang_rows(path))
    return PromptSet(name, langs, lambda lang: str(path), f"prompts from {name}", lang_rows=True)


def load_prompts(ps: PromptSet, lang: str, data_dir: Path | None, limit: int | None = None) -> list[Prompt]:
    """The first `limit` prompts of `ps` in `lang`; unreadable lines are skipped (upstream has one in hi)."""
    if lang not in ps.langs:
        raise ConfigError(f"{ps.name} has no language {lang!r}; its languages are: {', '.join(ps.langs)}.")
    if ps.lang_rows:
        return _read_lang_rows(Path(ps.files(lang)[0]))[lang][:limit]
    if data_dir is None:
        raise ConfigError(f"{ps.name} is read from a local copy: pass --data-dir (the directory that holds "
                          f"{ps.files(lang)[0]}).")
    tables = [_read(data_dir, rel, source=Path(rel).parent.name if ps.by_source else None) for rel in ps.files(lang)]
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
        out.append(_prompt(where, row, n, source))
    return out


def _read_lang_rows(path: Path) -> dict[str, list[Prompt]]:
    """A JSONL file's prompts by language; unlike the upstream sets, any bad line stops it (the user can fix it)."""
    if path.suffix.lower() != ".jsonl":
        raise ConfigError(f"{path}: a prompt file must be JSON Lines (.jsonl), not {path.suffix or 'no suffix'}; "
                          f"convert it to {ROW_HINT}")
    if not path.is_file():
        raise DataError(f"{path} not found; give the path of an existing .jsonl file, or a set name: "
                        f"{', '.join(SETS)}.")
    out: dict[str, list[Prompt]] = {}
    seen: set[tuple[str, str]] = set()
    for n, (where, row) in enumerate(read_rows(path)):
        try:
            lang, prompt = _lang_row(where, row, n)
        except RecursionError:  # a row json could parse, nested just short of the limit: str() of it recurses
            raise nested_too_deeply(where) from None
        if (lang, prompt.id) in seen:  # generate resumes by (lang, id): a repeated id would never be answered
            raise DataError(f"{where}: id {prompt.id!r} repeats in {lang}; give every row of a language its own id.")
        seen.add((lang, prompt.id))
        out.setdefault(lang, []).append(prompt)
    if not out:
        raise DataError(f"{path} holds no prompts; write {ROW_HINT}")
    return out


def _lang_row(where: str, row: object, n: int) -> tuple[str, Prompt]:
    """One row of a user's file as (language code, Prompt), or the DataError that says what to fix."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: a JSON {type(row).__name__}, not an object; a prompt file has {ROW_HINT}")
    lang = _row_lang(where, row)
    prompt = _prompt(where, row, n, None)
    # upstream sets carry a few empty turns (M2Lingual pt:20, th:14); a user's file gets no such slack
    texts = prompt.turns if isinstance(row.get("turns", []), list) else (None,)
    if not all(isinstance(t, str) and t.strip() for t in texts):
        raise DataError(f"{where}: an empty or non-text prompt; `prompt` must be a non-empty string, or `turns` a "
                        f"list of them.")
    size = sum(map(len, texts))
    if size > MAX_PROMPT_CHARS:
        raise DataError(f"{where}: a prompt of {size:,} characters; a prompt (all its turns) may have at most "
                        f"{MAX_PROMPT_CHARS:,}. Shorten it, or split it into several rows.")
    return lang, prompt


def _row_lang(where: str, row: dict) -> str:
    code = row.get("lang")
    if not code:
        raise DataError(f"{where}: no `lang`; give every row the language of its prompt, e.g. \"lang\": \"de\".")
    if not isinstance(code, str):
        raise DataError(f"{where}: `lang` is a JSON {type(code).__name__}; give it as a string, e.g. \"lang\": \"de\".")
    if len(code) > MAX_LANG_CHARS:
        raise DataError(f"{where}: `lang` is {len(code):,} characters long, not a language; give a code or name of "
                        f"up to {MAX_LANG_CHARS}, e.g. \"lang\": \"de\".")
    try:
        return get_language(code).code
    except UnknownLanguageError as exc:
        raise DataError(_unknown_lang(where, code, exc)) from exc


def _unknown_lang(where: str, code: str, exc: UnknownLanguageError) -> str:
    """Why `code` is refused (it names no language langcodes knows), with the codes the table lists."""
    return f"{where}: {exc} Its codes: {', '.join(table())}."


def _prompt(where: str, row: dict, n: int, source: str | None) -> Prompt:
    """One row as a Prompt: `turns`, or `prompt` / `instruction` as the single turn."""
    text = row.get("prompt") or row.get("instruction")
    turns = row.get("turns") or ([text] if text else None)
    if not turns:
        raise DataError(f"{where}: no prompt text; give the row a non-empty `prompt` (or `instruction`, or `turns`: "
                        f"a list of strings).")
    id = str(row.get("question_id", row.get("id", n)))  # AlpacaEval has no ids: its position is one
    category = source or row.get("category", row.get("dataset", ""))
    return Prompt(f"{source}/{id}" if source else id, category, tuple(turns))

"""Language confusion of one response, scored exactly as the Language Confusion Benchmark scores it (Marchisio et
al. 2024; for-ai/language-confusion, compute_metrics.py): the text is cut at the first "\\nQ:", stripped of ASCII
punctuation, em dashes and Arabic commas, and split into lines; lines of at least 5 tokens are identified by
fastText lid.176 (its top label if the score is above 0.3, else "unknown"); in six non-Latin-script languages a
lowercase English word longer than 3 letters from the benchmark's word list is a word-level error."""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from pathlib import Path

from core.errors import DataError
from core.languages import LID176_LABELS, lid_model

MIN_TOKENS = 5  # shorter lines are not identified (too little text for fastText)
LINE_THRESHOLD = 0.3  # a line's top label counts only above this score
WORD_LANGS = ("ar", "hi", "ja", "ko", "ru", "zh")  # word-level check: English words stand out only in these scripts
UNKNOWN = "unknown"
NOT_IDENTIFIABLE = "not identifiable by the language-ID model"
WORDS_FILE = "language_confusion_lcb/en_words.txt"  # the benchmark's `words` list, under --data-dir
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """The benchmark's cleaning: cut at the first "\\nQ:" (a base model starting the next question), drop ASCII
    punctuation and Arabic commas, turn em dashes into spaces."""
    text = text.split("\nQ:")[0].strip().translate(_PUNCTUATION)
    return text.replace("—", " ").replace("،", "")


@functools.cache
def _ja_tagger():
    from fugashi import Tagger  # with unidic-lite, installed offline from PyPI

    return Tagger("-O wakati -b 50000")


@functools.cache
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@functools.lru_cache(maxsize=2**16)
def tokenize(line: str, lang: str) -> tuple[str, ...]:
    """The benchmark's tokens of a line: jieba for zh (spaces are tokens too), MeCab (fugashi) for ja, else
    whitespace."""
    if lang == "zh":
        return tuple(_jieba().cut(line))
    if lang == "ja":
        return tuple(_ja_tagger().parse(line).split())
    return tuple(line.split())


def line_language(line: str) -> str:
    """lid.176's top label of one line if its score is above 0.3, else "unknown" (no other correction)."""
    (label,), (score,) = lid_model().predict(line)
    return label.removeprefix("__label__") if score > LINE_THRESHOLD else UNKNOWN


@functools.cache
def english_words(data_dir: Path) -> frozenset[str]:
    """The benchmark's English words: the lowercase entries longer than 3 letters of its word list."""
    path = Path(data_dir) / WORDS_FILE
    if not path.is_file():
        raise DataError(f"{path} not found: the word-level pass rate needs the LCB English word list; point "
                        f"--data-dir at the directory that holds {WORDS_FILE}.")
    words = (w.strip() for w in path.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w.islower() and len(w) > 3)


def words_or_none(data_dir: Path | None) -> frozenset[str] | None:
    """The English words when `data_dir` holds the list, else None (the word-level rate is then left out)."""
    if data_dir is None or not (Path(data_dir) / WORDS_FILE).is_file():
        return None
    return english_words(Path(data_dir))


@dataclass(frozen=True)
class Line:
    """One scored line (at least 5 tokens), the language lid.176 gave it, and its index among the text's lines."""

    text: str
    language: str
    index: int


@dataclass(frozen=True)
class Confusion:
    """A response's scored lines and English words, for the expected language."""

    expected: str
    lines: tuple[Line, ...]
    english: tuple[str, ...] | None  # None: no word-level check (Latin script, or no word list)

    @property
    def scored(self) -> bool:
        """False when no line has 5 tokens: the benchmark skips such a response."""
        return bool(self.lines)

    @property
    def identifiable(self) -> bool:
        return self.expected in LID176_LABELS

    @property
    def wrong_lines(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.language != self.expected)

    @property
    def line_pass(self) -> bool | None:
        return None if not self.scored else not self.wrong_lines

    @property
    def word_pass(self) -> bool | None:
        """Whether a response without line errors has no English word; None where the check does not apply."""
        if self.english is None or not self.line_pass:
            return None
        return not self.english

    @property
    def line_acc(self) -> float | None:
        return None if not self.scored else 1 - len(self.wrong_lines) / len(self.lines)


def score(text: str, lang: str, words: frozenset[str] | None = None) -> Confusion:
    """Score one response against its expected language `lang` (our code, e.g. "de"); `words` from english_words
    enables the word-level check in ar, hi, ja, ko, ru and zh."""
    lines = normalize(text).split("\n")
    kept = [(i, line, tokens) for i, line in enumerate(lines) if len(tokens := tokenize(line, lang)) >= MIN_TOKENS]
    scored = tuple(Line(line, line_language(line), i) for i, line, _ in kept)
    english = None
    if words is not None and lang in WORD_LANGS:
        english = tuple(dict.fromkeys(t.strip() for _, _, tokens in kept for t in tokens if t.strip() in words))
    return Confusion(lang, scored, english)

"""Exact match and F1 for extractive QA with MLQA's official normalisation (lowercase, drop every Unicode
punctuation mark, drop articles in en/es/de/vi/ar, split Chinese into characters), extended to the other
XQuAD languages as XTREME does (whitespace tokens, no article list)."""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from functools import cache

ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "ar": r"\sال^|ال",  # as MLQA has it: removes every ال, not only the word-initial one
}
MIXED_SEGMENTATION = {"zh"}


@cache
def _punct() -> frozenset[str]:
    return frozenset(chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")) | set(
        string.punctuation)


def _mixed_segmentation(text: str) -> list[str]:
    out, run = [], ""
    for ch in text:
        if re.search(r"[\u4e00-\u9fa5]", ch) or ch in _punct():
            out.extend(run.split())
            run = ""
            out.append(ch)
        else:
            run += ch
    return out + run.split()


def tokens(text: str, lang: str) -> list[str]:
    """The normalised tokens of an answer in `lang`."""
    text = "".join(ch for ch in text.lower() if ch not in _punct())
    if lang in ARTICLES:
        text = re.sub(ARTICLES[lang], " ", text)
    parts = _mixed_segmentation(text) if lang in MIXED_SEGMENTATION else text.split()
    return [t for t in parts if t.strip()]


def exact_match(prediction: str, gold: str, lang: str) -> float:
    return float(tokens(prediction, lang) == tokens(gold, lang))


def f1(prediction: str, gold: str, lang: str) -> float:
    pred, ref = tokens(prediction, lang), tokens(gold, lang)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best(prediction: str, golds: list[str], lang: str) -> dict:
    """EM and F1 against the best-matching gold answer (SQuAD's max over ground truths)."""
    return {"em": max(exact_match(prediction, g, lang) for g in golds),
            "f1": max(f1(prediction, g, lang) for g in golds)}

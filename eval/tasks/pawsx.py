"""PAWS-X (google-research-datasets/paws-x), as lm-eval's paws_<lang>: no context and no space; each option
is "sentence1, <right>? <No|Yes>, sentence2", after lm-eval's clean-up for en/de/es/fr."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from eval.tasks.base import Item, Task

WORDS = {"en": ("right", "No", "Yes"), "de": ("richtig", "Nein", "Ja"), "es": ("verdad", "No", "Sí"),
         "fr": ("n'est-ce pas", "Non", "Oui"), "ja": ("ですね", "いいえ", "はい"), "ko": ("맞죠", "아니요", "예"),
         "zh": ("对吧", "不是", "是")}
CLEANED = {"en", "de", "es", "fr"}  # lm-eval's process_docs runs for these only


def _detokenize(text: str) -> str:
    for a, b in ((" n't", "n't"), (" )", ")"), ("( ", "("), ('" ', '"'), (' "', '"')):
        text = text.replace(a, b)
    return re.sub(r" (['.,])", r"\1", text)


def to_item(row: dict, lang: str, id: str) -> Item | None:
    s1, s2 = row["sentence1"], row["sentence2"]
    if not s1 or not s2:
        return None  # lm-eval filters these rows out
    if lang in CLEANED:
        s1, s2 = _detokenize(s1).strip(), _detokenize(s2).strip()
        s1 = s1[:-1] if s1.endswith((".", ",", ";")) else s1
        s2 = s2[0].lower() + s2[1:]
    question, no, yes = WORDS[lang]
    return Item(id, tuple(("", f"{s1}, {question}? {answer}, {s2}") for answer in (no, yes)), int(row["label"]))


def local(data_dir: Path, lang: str):
    """SuperGLEBer's German PAWS-X test.tsv (no quoting: 134 rows contain a bare ")."""
    path = data_dir / "xnli_pawsx_de_supergleber" / "pawsx_de" / "test.tsv"

    def rows():
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            for i, row in enumerate(reader, 2):
                yield f"{path.name}:{i}", row

    return path, rows()


TASK = Task("pawsx", tuple(WORDS), "google-research-datasets/paws-x", "test",
            ("sentence1", "sentence2", "label"), to_item,
            local=lambda data_dir, lang: local(data_dir, lang) if lang == "de" else None, id_field="id",
            example=("de", {"id": 1, "sentence1": "Er wohnt in Berlin.", "sentence2": "In Berlin wohnt er.",
                            "label": 1}))

"""XNLI (facebook/xnli), as lm-eval's xnli_<lang>: no context; each option is the whole sentence
"premise, <right>? <Yes|Also|No>, hypothesis", scored after BOS."""

from __future__ import annotations

from pathlib import Path

from eval.tasks.base import Item, Task

# lm-eval's words per language: question word, then entailment / neutral / contradiction.
WORDS = {
    "ar": ("صحيح", "نعم", "لذا", "رقم"), "bg": ("правилно", "да", "така", "не"),
    "de": ("richtig", "Ja", "Auch", "Nein"), "el": ("σωστός", "Ναί", "Έτσι", "όχι"),
    "en": ("right", "Yes", "Also", "No"), "es": ("correcto", "Sí", "Asi que", "No"),
    "fr": ("correct", "Oui", "Aussi", "Non"), "hi": ("सही", "हाँ", "इसलिए", "नहीं"),
    "ru": ("правильно", "Да", "Так", "Нет"), "sw": ("sahihi", "Ndiyo", "Hivyo", "Hapana"),
    "th": ("ถูกต้อง", "ใช่", "ดังนั้น", "ไม่"), "tr": ("doğru", "Evet", "Böylece", "Hayır"),
    "ur": ("صحیح", "جی ہاں", "اس لئے", "نہیں"), "vi": ("đúng", "Vâng", "Vì vậy", "Không"),
    "zh": ("正确", "是的", "所以", "不是的"),
}
LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2}


def to_item(row: dict, lang: str, id: str) -> Item:
    question, *answers = WORDS[lang]
    options = [f"{row['premise']}, {question}? {answer}, {row['hypothesis']}" for answer in answers]
    return Item(id, tuple(("", " " + option) for option in options), int(row["label"]))


def local(data_dir: Path, lang: str):
    """SuperGLEBer's German XNLI (headerless premise / hypothesis / label-name lines)."""
    path = data_dir / "xnli_pawsx_de_supergleber" / "xnli_de" / "test.txt"

    def rows():
        with path.open(encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                premise, hypothesis, label = (line.rstrip("\n").split("\t") + ["", "", ""])[:3]
                yield f"{path.name}:{i}", {"premise": premise, "hypothesis": hypothesis,
                                           "label": LABELS.get(label, label)}

    return path, rows()


TASK = Task("xnli", tuple(WORDS), "facebook/xnli", "validation", ("premise", "hypothesis", "label"), to_item,
            local=lambda data_dir, lang: local(data_dir, lang) if lang == "de" else None,
            local_note="de: the local copy is XNLI's test split (5,010); lm-eval scores validation (2,490)",
            example=("de", {"premise": "Der Hund schläft.", "hypothesis": "Ein Tier ruht.", "label": 0}))

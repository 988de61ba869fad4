"""XCOPA (cambridgeltl/xcopa), as lm-eval's xcopa_<lang>: premise minus its last character, the connector
word for cause/effect, and each choice with a lowercased first letter."""

from __future__ import annotations

from pathlib import Path

from core.readers import read_local
from eval.tasks.base import Item, Task

# lm-eval's connectors ("because" / "therefore") per language.
CONNECTORS = {
    "et": ("sest", "seetõttu"), "ht": ("poukisa", "donk sa"), "id": ("karena", "maka"),
    "it": ("perché", "quindi"), "qu": ("imataq", "chaymi"), "sw": ("kwa sababu", "kwa hiyo"),
    "ta": ("காரணமாக", "எனவே"), "th": ("เพราะ", "ดังนั้น"), "tr": ("çünkü", "bu yüzden"),
    "vi": ("bởi vì", "vì vậy"), "zh": ("因为", "所以"),
}


def to_item(row: dict, lang: str, id: str) -> Item:
    cause, effect = CONNECTORS[lang]
    # lm-eval always drops the last character (meant for the period; Thai and Tamil premises lose a letter).
    ctx = row["premise"].strip()[:-1] + " " + (cause if row["question"] == "cause" else effect)
    choices = [c[0].lower() + c[1:] for c in (row["choice1"], row["choice2"])]
    return Item(id, tuple((ctx, " " + c) for c in choices), int(row["label"]))


def local(data_dir: Path, lang: str):
    path = data_dir / "xcopa" / "data" / lang / f"test.{lang}.jsonl"
    return path, read_local(path)


TASK = Task("xcopa", tuple(CONNECTORS), "cambridgeltl/xcopa", "test",
            ("premise", "choice1", "choice2", "question", "label"), to_item, local=local, id_field="idx",
            example=("it", {"idx": 1, "premise": "La porta era chiusa.", "choice1": "Ho bussato.",
                            "choice2": "Ho dormito.", "question": "effect", "label": 0}))

"""X-CSQA (INK-USC/xcsr, X-CSQA-<lang>): CommonsenseQA's 5-way questions in 16 languages, answered by letter
(the prompt in lettered.py). Labels exist for the validation split only (the test split's are hidden)."""

from __future__ import annotations

from pathlib import Path

from core.readers import read_local
from eval.tasks.base import Item, Task
from eval.tasks.lettered import letter_scorer, lettered_item

LANGS = ("en", "zh", "de", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "ar", "vi", "hi", "sw", "ur")


def to_item(row: dict, lang: str, id: str) -> Item:
    question = row["question"]
    choices = question["choices"]
    # The hub has {"label": [...], "text": [...]}; the release's jsonl has [{"label": "A", "text": ...}, ...].
    texts = choices["text"] if isinstance(choices, dict) else [c["text"] for c in choices]
    labels = choices["label"] if isinstance(choices, dict) else [c["label"] for c in choices]
    if labels != list("ABCDE"[:len(labels)]):
        raise ValueError(f"options are labelled {labels}, not A, B, C, ...")
    return lettered_item(id, question["stem"], texts, row["answerKey"])


def local(data_dir: Path, lang: str):
    """The X-CSR release's X-CSQA/<lang>/dev.jsonl."""
    path = data_dir / "xcsqa" / lang / "dev.jsonl"
    return path, read_local(path)


TASK = Task("xcsqa", LANGS, "INK-USC/xcsr", "validation", ("question", "answerKey"), to_item,
            hub_config=lambda lang: f"X-CSQA-{lang}", local=local, id_field="id", score=letter_scorer(5),
            max_tokens=24, stop=lambda lang: ["\n\n"],
            example=("de", {"id": "q1", "answerKey": "B", "question": {"stem": "Wo schläft ein Hund?",
                            "choices": {"label": list("ABCDE"), "text": ["Baum", "Korb", "Wolke", "Meer", "Mond"]}}}))

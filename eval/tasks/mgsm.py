"""MGSM (juletxara/mgsm), as lm-eval's mgsm_direct_<lang>: "<Question word>: question\n<Answer word>:", greedy
until the next question, the last number in the output ("flexible-extract") against the answer, ignoring
punctuation (so "$1,000" matches 1000)."""

from __future__ import annotations

import csv
import re
import string
from pathlib import Path

from eval.tasks.base import Item, Task

# lm-eval's words: (question label, answer label).
WORDS = {"bn": ("প্রশ্ন: ", "Answer:"), "de": ("Frage: ", "Antwort:"), "en": ("Question: ", "Answer:"),
         "es": ("Pregunta: ", "Respuesta:"), "fr": ("Question : ", "Réponse :"), "ja": ("問題： ", "Answer:"),
         "ru": ("Задача: ", "Answer:"), "sw": ("Swali: ", "Answer:"), "te": ("ప్రశ్న: ", "Answer:"),
         "th": ("โจทย์: ", "Answer:"), "zh": ("问题： ", "Answer:")}
NUMBER = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")


def to_item(row: dict, lang: str, id: str) -> Item:
    question, answer = WORDS[lang]
    prompt = {"raw": f"{question}{row['question']}\n{answer}", "chat": [{"role": "user", "content": row["question"]}]}
    return Item(id, prompt=prompt, golds=(str(row["answer_number"]),))


def last_number(text: str) -> str:
    """The last number-like match in `text` (lm-eval's flexible-extract), or "" if there is none."""
    matches = NUMBER.findall(text)
    return next((g for g in matches[-1] if g), "") if matches else ""


def _plain(text: str) -> str:
    return "".join(ch for ch in text.strip().lower() if ch not in string.punctuation)


def score(output: str, item: Item, lang: str) -> dict:
    answer = last_number(output)
    return {"answer": answer, "em": float(_plain(answer) == _plain(item.golds[0]))}


def local(data_dir: Path, lang: str):
    """The MGSM repository's question<TAB>answer files."""
    path = data_dir / "mgsm" / f"mgsm_{lang}.tsv"

    def rows():
        with path.open(encoding="utf-8", newline="") as f:
            for i, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                yield f"{path.name}:{i}", {"question": row[0], "answer_number": row[1] if len(row) > 1 else None}

    return path, rows()


TASK = Task("mgsm", tuple(WORDS), "juletxara/mgsm", "test", ("question", "answer_number"), to_item,
            local=local, score=score, max_tokens=256,
            example=("de", {"question": "Anna hat 3 Äpfel und kauft 2 dazu. Wie viele hat sie?", "answer_number": 5}),
            stop=lambda lang: [WORDS[lang][0].rstrip(), "</s>", "<|im_end|>"])  # lm-eval's `until`

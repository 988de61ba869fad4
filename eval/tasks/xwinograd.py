"""XWinograd (Muennighoff/xwinograd), as lm-eval's xwinograd_<lang>: each option fills the blank (two
contexts), and the shared rest of the sentence is scored ("partial evaluation")."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from eval.tasks.base import Item, Task

LANGS = ("en", "fr", "ja", "pt", "ru", "zh")
CONFIG = {"ja": "jp"}  # the dataset's (and lm-eval's) name for Japanese


def to_item(row: dict, lang: str, id: str) -> Item:
    blank = row["sentence"].index("_")
    rest = " " + row["sentence"][blank + 1:].strip()
    contexts = [row["sentence"][:blank] + option for option in (row["option1"], row["option2"])]
    return Item(id, tuple((ctx, rest) for ctx in contexts), {"1": 0, "2": 1}[str(row["answer"])])


def from_upstream(row: list[str]) -> dict:
    """A row of the original collection's dataset.tsv in the hub schema: the pronoun becomes "_" (as the
    hub's convert_tsv.py does; the hub shuffled the option order, which does not change accuracy)."""
    sent, toks, pronoun, solution = row[3], json.loads(row[4]), json.loads(row[5]), json.loads(row[6])
    position, rest, start = pronoun[1][0], sent, 0
    for i, tok in enumerate(toks):
        cur = rest.find(tok)
        if i == position:
            break
        rest = rest[cur + len(tok):]
        start += cur + len(tok)
    tok = toks[position]
    sentence = sent[:start] + sent[start:start + len(tok) + 1].replace(tok, "_") + sent[start + len(tok) + 1:]
    return {"sentence": sentence, "option1": solution[0][0], "option2": solution[1][0],
            "answer": "1" if solution[0][-1] else "2"}


def local(data_dir: Path, lang: str):
    path = data_dir / "xwinograd" / "dataset.tsv"

    def rows():
        with path.open(encoding="utf-8", newline="") as f:
            for i, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                if row and row[0] == CONFIG.get(lang, lang):
                    yield f"{path.name}:{i}", from_upstream(row)

    return path, rows()


TASK = Task("xwinograd", LANGS, "Muennighoff/xwinograd", "test", ("sentence", "option1", "option2", "answer"),
            to_item, hub_config=lambda lang: CONFIG.get(lang, lang), local=local,
            local_note="zh: the original 16 schemas only (the hub adds 488 from CLUEWSC2020)",
            example=("fr", {"sentence": "Le trophée ne rentre pas dans la valise car _ est trop grand.",
                            "option1": "le trophée", "option2": "la valise", "answer": "1"}))

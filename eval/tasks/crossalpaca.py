"""CrossAlpaca's machine-translated MMLU and BBH (Ranaldi et al., 2023), in ar de en es it zh, scored by exact
match: MMLU by the letter of the answer (lettered.py), BBH by the answer's first line against the translated
target (as lm-eval's zero-shot bbh: "Q: ...\\nA:", greedy until a blank line). They exist only as the
repository's CSVs (data/<Language>/{MMLU,BBH}/*.csv, gzipped in ../shared/data), so they need --data-dir."""

from __future__ import annotations

import csv
import gzip
from itertools import zip_longest
from pathlib import Path

from eval.tasks.base import Item, Task
from eval.tasks.lettered import letter_scorer, lettered_item

FOLDERS = {"ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "it": "Italian", "zh": "Chinese"}
NOTE = "github.com/lranaldii/CrossAlpaca data/<Language>/{MMLU,BBH}: put it under <data-dir>/crossalpaca_eval"


def _files(data_dir: Path, lang: str, bench: str) -> tuple[Path, list[Path]]:
    folder = data_dir / "crossalpaca_eval" / FOLDERS[lang] / bench
    return folder, sorted(p for p in folder.glob("*.csv*") if p.name.endswith((".csv", ".csv.gz")))


def _read_csv(path: Path, header: bool):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[1:] if header else rows


def _interleaved(data_dir: Path, lang: str, bench: str, header: bool, to_row):
    """Rows of every subject file taken in turn, so that --limit N samples all subjects, not the first one."""
    folder, files = _files(data_dir, lang, bench)

    def rows():
        tables = [[(f"{p.name}:{i + (2 if header else 1)}", to_row(p, i, r)) for i, r in
                   enumerate(_read_csv(p, header))] for p in files]
        for group in zip_longest(*tables):
            yield from (row for row in group if row is not None)

    return (folder if files else folder / "*.csv.gz"), rows()


def _subject(path: Path) -> str:
    return path.name.split(".csv")[0].removesuffix("_test")


def _mmlu_row(path: Path, i: int, r: list[str]) -> dict:
    return ({"id": f"{_subject(path)}/{i}", "question": r[0], "options": r[1:5], "answer": r[5]} if len(r) == 6
            else {"id": f"{_subject(path)}/{i}"})  # a short row: load_items names the missing fields


def _bbh_row(path: Path, i: int, r: list[str]) -> dict:
    return {"id": f"{_subject(path)}/{i}", "input": r[0], "target": r[1]} if len(r) == 2 else \
        {"id": f"{_subject(path)}/{i}"}


def bbh_item(row: dict, lang: str, id: str) -> Item:
    return Item(id, prompt={"raw": f"Q: {row['input']}\nA:", "chat": [{"role": "user", "content": row["input"]}]},
                golds=(row["target"].strip(),))


def _plain(text: str) -> str:
    return " ".join(text.strip().rstrip(".。").split()).lower()


def bbh_score(output: str, item: Item, lang: str) -> dict:
    answer = next((line.strip() for line in output.strip().splitlines() if line.strip()), "")
    return {"answer": answer, "em": float(_plain(answer) == _plain(item.golds[0]))}


_COMMON = dict(hub="", split="test", local_note=NOTE, id_field="id")
MMLU = Task("crossalpaca_mmlu", tuple(FOLDERS), fields=("question", "options", "answer"),
            to_item=lambda row, lang, id: lettered_item(id, row["question"], row["options"], row["answer"]),
            local=lambda data_dir, lang: _interleaved(data_dir, lang, "MMLU", False, _mmlu_row),
            score=letter_scorer(4), max_tokens=24, stop=lambda lang: ["\n\n"], **_COMMON,
            example=("it", {"id": "math/1", "question": "Quanto fa 2 + 2?", "options": ["3", "4", "5", "6"],
                            "answer": "B"}))
BBH = Task("crossalpaca_bbh", tuple(FOLDERS), fields=("input", "target"), to_item=bbh_item,
           local=lambda data_dir, lang: _interleaved(data_dir, lang, "BBH", True, _bbh_row),
           score=bbh_score, max_tokens=64, stop=lambda lang: ["\n\n", "Q:"], **_COMMON,
           example=("de", {"id": "logic/1", "input": "Ist 3 größer als 2? Antworte mit Ja oder Nein.", "target": "Ja"}))

"""Helpers shared by the trainer/data loader tests: load sources with a bad-row ledger, write test files."""

from __future__ import annotations

import json
from pathlib import Path

from trainer.data.recipe import Source
from trainer.data.schema import BadRows
from trainer.data.sources import load_sources

ALPACA_EN = "stanford_alpaca/alpaca_data.first200.json"
ALPACA_ZH = "alpaca_zh_carbonz0/zh-data-part-00.first5000.json"
MT_BENCH = "mt_bench_multilingual_m2lingual"


def load(sources: dict[str, Source], data_dir: Path, max_fraction: float = 0.01, progress=None):
    ledger = BadRows(max_fraction=max_fraction)
    return load_sources(sources, data_dir, ledger, progress), ledger


def bad(ledger: BadRows) -> list[tuple[str, str, str]]:
    return [(b.source, b.where, b.reason) for b in ledger.bad]


def roles(row) -> list[str]:
    return [m["role"] for m in row.messages]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list) -> Path:
    return write_lines(path, [json.dumps(r, ensure_ascii=False) for r in records])


def write_json_array(path: Path, records: list) -> Path:
    """One record per line, so record i starts on line i + 2."""
    path.write_text("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n",
                    encoding="utf-8")
    return path

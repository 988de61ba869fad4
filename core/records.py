"""Crash-safe JSONL run files shared by the long jobs (benchmarks, the X-Instruction pipeline): appended and
fsynced as results arrive, or written whole atomically. (JSON cards: core/run_dir.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.run_dir import atomic_file


def read_jsonl(path: Path) -> list[dict]:
    """Every complete line of `path` ([] if absent); a line cut short by a crash is removed from the file."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):  # the process died mid-line: drop the fragment so appends start on a fresh line
        with path.open("r+b") as f:
            f.truncate(end)
    return [json.loads(line) for line in data[:end].decode("utf-8").splitlines() if line.strip()]


def append_jsonl(path: Path, records: list[dict]) -> None:
    """Append records and make them durable before the next batch is computed."""
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Write `records` as JSON Lines atomically (temp file, then rename)."""
    with atomic_file(path) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")

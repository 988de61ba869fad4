"""Crash-safe run files shared by the long jobs (benchmarks, the X-Instruction pipeline): JSONL appended and
fsynced as results arrive, JSON written atomically."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


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


def write_json(path: Path, obj) -> None:
    """Write `obj` as JSON atomically (temp file, then rename): a reader never sees half a file, and two
    writers (the app and a job's runner) never share a temp file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str))
    os.replace(tmp, path)


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Write `records` as JSON Lines atomically (temp file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    os.replace(tmp, path)

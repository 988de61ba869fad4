"""Where two run directories of the same command differ: every file compared, JSON and JSON Lines field by field
with the fields that time a run left out (how long a call took, when it started), everything else byte for
byte. Two runs on one machine must come out equal; `python -m experiments diff A B` says where they do not."""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.readers import file_sha256

# What a run measures about its own speed and dates, the versions block (the commit differs between
# checkouts) and the port a server got; none of it is a result.
TIMING_FIELDS = frozenset({"base_url", "seconds", "started_at", "finished_at", "throughput", "judgments_per_s",
                           "invocations", "finished", "train_seconds", "tokens_per_s", "steps_per_s", "peak_mem_gb",
                           "load_seconds", "versions", "latency", "wall_minutes"})
# A server this machine started for the run listens on whatever port was free.
LOCAL_URL = re.compile(r"(https?://(?:127\.0\.0\.1|localhost)):\d+")
# Files that only log progress or a server's chatter, and run-local paths.
SKIPPED = ("*.log", "estimate.json")


def comparable(value, root: str = ""):
    """`value` without timing fields, at any depth; paths under the run's own `root` made relative to it."""
    if isinstance(value, dict):
        return {k: comparable(v, root) for k, v in value.items() if k not in TIMING_FIELDS}
    if isinstance(value, list):
        return [comparable(v, root) for v in value]
    if isinstance(value, str):
        value = LOCAL_URL.sub(r"\1:<port>", value)
        return value.replace(root, "<run>") if root else value
    return value


def _load(path: Path, root: str):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [comparable(json.loads(line), root) for line in text.splitlines() if line.strip()]
    return comparable(json.loads(text), root)


def _first_difference(a, b, where: str = "") -> str:
    """A short pointer to the first place two loaded values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{where}.{k}")
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} vs {len(b)} entries"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return f"{where or 'value'}: {str(a)[:80]!r} vs {str(b)[:80]!r}"


def diff_runs(a: Path, b: Path, skip: tuple[str, ...] = SKIPPED) -> list[str]:
    """One line per file that differs (or exists on one side only); empty when the runs agree."""
    files = {p.relative_to(a) for p in a.rglob("*") if p.is_file()} | \
        {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    out = []
    for rel in sorted(files):
        if any(rel.match(pattern) for pattern in skip):
            continue
        pa, pb = a / rel, b / rel
        if not pa.is_file() or not pb.is_file():
            out.append(f"{rel}: only in {a if pa.is_file() else b}")
        elif rel.suffix in (".json", ".jsonl"):
            va, vb = _load(pa, str(a)), _load(pb, str(b))
            if va != vb:
                out.append(f"{rel}: {_first_difference(va, vb)}")
        elif rel.suffix == ".md":
            la, lb = _text_lines(pa), _text_lines(pb)
            if la != lb:
                first = next((x, y) for x, y in zip(la + [""], lb + [""]) if x != y)
                out.append(f"{rel}: {first[0][:80]!r} vs {first[1][:80]!r}")
        elif file_sha256(pa) != file_sha256(pb):
            out.append(f"{rel}: the bytes differ")
    return out


def _text_lines(path: Path) -> list[str]:
    """A report's lines without the ones that state its own timing (wall clock, stage time, finish date) and
    without its "Stages" section (seconds per stage)."""
    timing = ("Stage time:", "wall clock", "last run finished")
    kept, in_stages = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            in_stages = line.lstrip("#").strip() == "Stages"
        if not in_stages and not any(t in line for t in timing):
            kept.append(line)
    return kept

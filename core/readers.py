"""Read raw records (training data, evaluation sets) from local files (json, jsonl, csv/tsv, parquet, txt)
or hub datasets, each with where it came from ("file:line"), so a malformed record can be reported precisely."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import DataError

LOCAL_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt")


class Unparsable:
    """A record that could not be parsed; yielded in place of the record so the caller counts it as bad."""

    def __init__(self, reason: str):
        self.reason = reason


def read_local(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield (where, record) for every record in a local file; broken records come as `Unparsable`."""
    import pyarrow

    try:
        yield from _read_local(path)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); re-save it as UTF-8.") from exc
    except (csv.Error, pyarrow.ArrowException) as exc:
        raise DataError(f"{path}: cannot be read as {path.suffix} ({exc}); check the file.") from exc


def _read_local(path: Path) -> Iterator[tuple[str, Any]]:
    suffix = path.suffix.lower()
    if suffix not in LOCAL_SUFFIXES:
        raise DataError(f"{path}: unknown file type {suffix!r}; use one of {', '.join(LOCAL_SUFFIXES)}.")
    if suffix == ".parquet":
        yield from _read_parquet(path)
    elif suffix in (".csv", ".tsv"):
        yield from _read_csv(path, "\t" if suffix == ".tsv" else ",")
    elif suffix == ".txt":
        with path.open(encoding="utf-8-sig") as f:
            for i, line in enumerate(f, 1):
                yield f"{path.name}:{i}", line.rstrip("\n")
    else:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a leading byte-order mark is not data
        yield from (_read_json_array(path, text) if text.lstrip().startswith("[") else _read_jsonl(path, text))


def read_json_document(path: Path) -> Any:
    """Parse a whole JSON document (e.g. SQuAD-style files), with a clear error on bad syntax."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); re-save it as UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}).") from exc


def read_hub(dataset: str, config: str | None, split: str, revision: str | None,
             local_hint: str = "set `path:` in the recipe (resolved under --data-dir)",
             class_names: bool = False) -> tuple[Iterator, str | None]:
    """(where, record) pairs from a Hugging Face hub dataset, loaded through `datasets`, and its fingerprint;
    if it cannot be loaded, the error says how to read a local copy instead (`local_hint`). `class_names`
    gives ClassLabel columns as their names (as the dataset's files have them) instead of ints."""
    import datasets

    try:
        ds = datasets.load_dataset(dataset, name=config, split=split, revision=revision)
    except Exception as exc:  # datasets raises many kinds (connection, missing config, ...)
        raise DataError(
            f"Cannot load hub dataset {dataset!r} (config={config!r}, split={split!r}): "
            f"{type(exc).__name__}: {str(exc)[:300]}\nWith no hub access, download the files and "
            f"{local_hint}.") from exc
    label = f"{dataset}{'/' + config if config else ''}[{split}]"
    named = {n: f for n, f in ds.features.items() if isinstance(f, datasets.ClassLabel)} if class_names else {}

    def records():
        for i, record in enumerate(ds):
            yield f"{label} row {i}", record | {n: f.int2str(record[n]) for n, f in named.items()
                                                 if record[n] is not None and record[n] >= 0}

    return records(), getattr(ds, "_fingerprint", None)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_jsonl(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    for i, line in enumerate(text.split("\n"), 1):  # not splitlines(): it also splits at U+2028, U+0085...
        if not line.strip():
            continue
        try:
            yield f"{path.name}:{i}", json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"{path.name}:{i}", Unparsable(f"broken JSON line ({exc.msg} at column {exc.colno})")


def _read_json_array(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    """Decode the array element by element so each record knows its line."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line, line_pos = 1, 0
    while True:
        pos = _skip_ws(text, pos)
        if pos >= len(text):
            raise DataError(f"{path}: the JSON array is not closed (file truncated?).")
        if text[pos] == "]":
            rest = _skip_ws(text, pos + 1)
            if rest < len(text):
                raise DataError(f"{path}:{_line_col(text, rest)}: data after the end of the JSON array (JSON Lines "
                                f"whose records are arrays? Those need one object per line).")
            return
        line += text.count("\n", line_pos, pos)
        line_pos = pos
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            # Inside an array one broken element hides where the next begins: stop with the position.
            raise DataError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); fix the file, "
                            f"or convert it to JSONL, where a broken line is skipped and reported.") from exc
        yield f"{path.name}:{line}", record
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] != "]":
            raise DataError(f"{path}:{_line_col(text, pos)}: not valid JSON (expected ',' or ']' after an array "
                            f"element); fix the file, or convert it to JSONL.")


def _line_col(text: str, pos: int) -> str:
    return f"{text.count(chr(10), 0, pos) + 1}:{pos - text.rfind(chr(10), 0, pos)}"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _read_csv(path: Path, delimiter: str) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        start = 2
        for record in reader:
            yield f"{path.name}:{start}", record
            start = reader.line_num + 1


def _read_parquet(path: Path) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    for i, record in enumerate(pq.read_table(path).to_pylist()):
        yield f"{path.name} row {i}", record

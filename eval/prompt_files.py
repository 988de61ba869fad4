"""Read a user's JSONL prompt file defensively: bounded in bytes, rows and nesting; each fault is one DataError
that names the file, the line where there is one, and the fix."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import DataError
from core.readers import read_local

EXAMPLE_ROW = '{"lang": "de", "id": "de-1", "prompt": "Erkläre in ein paar Sätzen, warum der Himmel blau ist."}'
ROW_HINT = f"one JSON object per line, e.g. {EXAMPLE_ROW}"

# The file is read whole (a JSON array needs that): this bounds the memory one file can take.
MAX_FILE_BYTES = 50_000_000
# More than any built-in set has per language (LCB: 100 per source), and hours of answers per model.
MAX_PROMPTS = 10_000
# All turns of one row together, ~5,000 English tokens: a bound on the file, not a context check (an engine says
# when a prompt does not fit its model); an article to summarise fits, a pasted book does not.
MAX_PROMPT_CHARS = 20_000
# Codes and names are short ("zh-Hant-TW", "Norwegian Bokmål"); the fuzzy lookup of a long one takes minutes.
MAX_LANG_CHARS = 40

# A renamed binary file is the usual bad upload: name what it is rather than its first undecodable byte.
_MAGIC = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"%PDF-": "a PDF",
          b"PK\x03\x04": "a zip archive (or .xlsx, .docx)", b"\xd0\xcf\x11\xe0": "an old Office file (.xls, .doc)",
          b"\x1f\x8b": "gzip-compressed", b"PAR1": "a Parquet file", b"SQLite format 3\x00": "an SQLite database"}
_SAVE_UTF8 = "save it as UTF-8 (in an editor: Save As, encoding UTF-8) and try again"


def nested_too_deeply(where: str) -> DataError:
    """The error for a row whose lists or objects nest past Python's recursion limit."""
    return DataError(f"{where}: a row nests lists or objects too deeply to read; `prompt` must be a string (or "
                     f"`turns` a list of strings), as in {EXAMPLE_ROW}")


def read_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """("name:line", value) per non-blank line (or array element) of a prompt file that is readable JSON text."""
    text = _read_text(path)
    if text.lstrip().startswith("["):  # a JSON array of rows, as read_local takes it
        yield from _array_rows(path)
        return
    lines = text.split("\n")  # not splitlines(): it also splits at U+2028, U+0085...
    count = sum(1 for line in lines if line.strip())  # counted before any parsing: a huge file stops at once
    if count > MAX_PROMPTS:
        raise DataError(f"{path.name} has {count:,} prompts; a prompt file may have at most {MAX_PROMPTS:,}. "
                        f"Split it into files of up to {MAX_PROMPTS:,} lines.")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name}:{i}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: broken JSON line ({exc.msg} at column {exc.colno}); a prompt file has "
                            f"{ROW_HINT}") from exc
        except RecursionError:
            raise nested_too_deeply(where) from None


def _array_rows(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        for n, (where, row) in enumerate(read_local(path), 1):
            if n > MAX_PROMPTS:
                raise DataError(f"{path.name} has more than {MAX_PROMPTS:,} prompts, the most a prompt file may "
                                f"have. Split it into files of up to {MAX_PROMPTS:,}.")
            yield where, row
    except RecursionError:
        raise nested_too_deeply(path.name) from None  # inside the decoder, before the row's line is known


def _read_text(path: Path) -> str:
    """The file as text, or a DataError saying why it is not UTF-8 text of a sane size."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path.name} is {size:,} bytes; a prompt file may have at most {MAX_FILE_BYTES:,}. "
                        f"Split it into smaller files.")
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data):
        raise DataError(f"{path.name} is UTF-16 text, not UTF-8; {_SAVE_UTF8}.")
    kind = next((what for magic, what in _MAGIC.items() if data.startswith(magic)), None)
    nul = data.find(b"\x00")
    if kind or nul >= 0:
        why = f"it is {kind}" if kind else f"byte {nul:,} is a NUL, which text never holds"
        raise DataError(f"{path.name} is not a text file ({why}). A prompt file is JSON Lines text, {ROW_HINT}")
    data = data.removeprefix(codecs.BOM_UTF8)  # a leading byte-order mark is not data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc.start) from None


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with a NUL in every other byte."""
    head = data[:1024]
    return len(head) >= 4 and any(head[0::2]) != any(head[1::2])


def _not_utf8(path: Path, data: bytes, start: int) -> DataError:
    line_start = data.rfind(b"\n", 0, start) + 1
    line = data.count(b"\n", 0, start) + 1
    before = data[max(line_start, start - 30):start].decode("utf-8", "replace")
    return DataError(f"{path.name}:{line}: not UTF-8 text: byte 0x{data[start]:02X} at byte {start - line_start + 1} "
                     f"of the line (byte {start + 1:,} of the file), after {before!r}. The file is in another encoding "
                     f"(Latin-1, Windows-1252?): {_SAVE_UTF8}.")

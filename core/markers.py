"""Generated sections of a text file (the README's measured tables): what stands between
<!-- NAME:begin --> and <!-- NAME:end --> is rewritten from the cards by a command, never typed by hand."""

from __future__ import annotations

import re
from pathlib import Path


def replace_marked(text: str, marker: str, body: str) -> str | None:
    """`text` with what stands between MARKER's begin and end lines replaced by `body`; None without markers."""
    pattern = re.compile(rf"(<!-- {re.escape(marker)}:begin -->\n).*?(<!-- {re.escape(marker)}:end -->)", re.S)
    if not pattern.search(text):
        return None
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def update_marked(path: Path, marker: str, body: str) -> bool:
    """Rewrite MARKER's section of the file at `path`; False (the file untouched) where it has no such markers."""
    new = replace_marked(path.read_text(encoding="utf-8"), marker, body)
    if new is None:
        return False
    path.write_text(new, encoding="utf-8")
    return True

"""The common schema of a training mix (`Row`), aligned text for demonstrations (`Segment`), and the
ledger of malformed input rows (`BadRows`): counted and reported with file and line, fatal only over a
threshold."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import DataError

ROLES = ("system", "user", "assistant")


@dataclass
class Row:
    """One training conversation: `{id, lang, messages, source, meta}` in the mix JSONL."""

    id: str
    lang: str
    messages: list[dict[str, str]]
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict) -> Row:
        return cls(id=d["id"], lang=d["lang"], messages=d["messages"], source=d["source"], meta=d.get("meta") or {})

    def text(self, role: str | None = None) -> str:
        """All message contents (or those of one role), joined by blank lines."""
        return "\n\n".join(m["content"] for m in self.messages if role is None or m["role"] == role)


@dataclass
class Segment:
    """One unit of aligned text (a sentence or paragraph); the same id in two languages is a translation pair."""

    id: str
    lang: str
    text: str
    source: str


class BadRowError(ValueError):
    """Raised by a loader for one record it cannot use; the reason ends up in the bad-rows report."""


def conversation_problem(messages: Any) -> str | None:
    """Why `messages` cannot be a training conversation, or None if it can."""
    if not isinstance(messages, list) or not messages:
        return "no messages"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return f"message {i} is not {{role: system|user|assistant, content: str}}"
        if not m["content"].strip():
            return f"message {i} ({m['role']}) is empty"
    turns = [m["role"] for m in messages if m["role"] != "system"]
    if any(m["role"] == "system" for m in messages[1:]):
        return "a system message may only come first"
    if not turns or turns[0] != "user":
        return "the conversation does not start with a user message"
    if any(a == b for a, b in zip(turns, turns[1:])):
        return "user and assistant turns do not alternate"
    if turns[-1] != "assistant":
        return "no response: the conversation does not end with an assistant message"
    return None


@dataclass
class BadRow:
    source: str
    where: str  # "file:line" or "dataset[split] row i"
    reason: str


@dataclass
class BadRows:
    """Malformed input rows, per source. `check` raises once a source's bad fraction passes the threshold."""

    max_fraction: float = 0.01
    bad: list[BadRow] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)

    def add(self, source: str, where: str, reason: str) -> None:
        self.bad.append(BadRow(source, where, reason))

    def count(self, source: str, n: int = 1) -> None:
        """Count `n` input records (good or bad) read from `source`."""
        self.seen[source] += n

    def check(self, source: str) -> None:
        bad = [b for b in self.bad if b.source == source]
        total = max(self.seen[source], 1)
        if bad and len(bad) / total > self.max_fraction:
            shown = "\n".join(f"  {b.where}: {b.reason}" for b in bad[:5])
            more = f"\n  ... and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise DataError(
                f"Source {source!r}: {len(bad)} of {total} rows are malformed ({len(bad) / total:.1%}), over the "
                f"limit of {self.max_fraction:.1%}:\n{shown}{more}\nFix the input, or raise `max_bad_fraction` "
                f"in the recipe to keep going without these rows.")

    def summary(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for source in self.seen:
            bad = [b for b in self.bad if b.source == source]
            out[source] = {"read": self.seen[source], "bad": len(bad),
                           "reasons": dict(Counter(b.reason.split(":")[0] for b in bad).most_common())}
        return out

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as f:
            for b in self.bad:
                f.write(json.dumps(asdict(b), ensure_ascii=False) + "\n")

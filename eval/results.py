"""A run directory: `card.json` (what ran, the results) and `items.jsonl`, one line per scored item appended
as it is scored, so a killed run resumes where it stopped and scores no item twice."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import ConfigError
from core.records import append_jsonl, read_jsonl, write_json

ITEMS = "items.jsonl"
CARD = "card.json"


def read_items(out: Path) -> list[dict]:
    """Every complete line of items.jsonl; a line cut short by a crash is removed from the file."""
    return read_jsonl(out / ITEMS)


def append_items(out: Path, records: list[dict]) -> None:
    """Append records and make them durable before the next batch is scored."""
    append_jsonl(out / ITEMS, records)


def read_card(out: Path) -> dict | None:
    path = out / CARD
    return json.loads(path.read_text()) if path.is_file() else None


def write_card(out: Path, card: dict) -> None:
    """Write card.json atomically (temp file, then rename)."""
    write_json(out / CARD, card)


def check_same_run(out: Path, identity: dict) -> None:
    """Refuse to resume into a directory that holds another run (other model or limit)."""
    card = read_card(out)
    if card is None:
        return
    for key, value in identity.items():
        if card.get(key) != value:
            raise ConfigError(f"{out} holds a run with {key}={card.get(key)!r}, not {value!r}; resuming would mix "
                              f"two runs. Pass another --out, or the same settings to resume it.")

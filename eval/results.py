"""A run directory: `card.json` (what ran, the results) and `items.jsonl`, one line per scored item appended
as it is scored, so a killed run resumes where it stopped and scores no item twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.records import append_jsonl, read_jsonl, write_jsonl
from core.run_dir import RunDir

ITEMS = "items.jsonl"


def read_items(out: Path) -> list[dict]:
    """Every complete line of items.jsonl; a line cut short by a crash is removed from the file."""
    return read_jsonl(out / ITEMS)


def append_items(out: Path, records: list[dict]) -> None:
    """Append records and make them durable before the next batch is scored."""
    append_jsonl(out / ITEMS, records)


def settle_items(out: Path, slots: list[tuple], slot_of: Callable[[dict], tuple]) -> None:
    """Rewrite a finished run's items in the order of the work it asked for (`slots`; `slot_of` gives an
    item's slot), so two runs of one command leave the same bytes however their concurrent calls finished.
    Items outside `slots` (an earlier run's wider limit) keep their order after the rest."""
    rank = {slot: i for i, slot in enumerate(slots)}
    items = read_items(out)
    settled = sorted(items, key=lambda r: rank.get(slot_of(r), len(rank)))
    if settled != items:
        write_jsonl(out / ITEMS, settled)


def read_card(out: Path) -> dict | None:
    """The run's card, or None if it has none yet."""
    return RunDir(out).read_card()


def write_card(out: Path, card: dict) -> None:
    """Write the run's card atomically."""
    RunDir(out).write_card(card)


def check_same_run(out: Path, identity: dict) -> None:
    """Refuse to resume into a directory that holds another run (other model or limit)."""
    RunDir(out).refuse_other_run(identity)

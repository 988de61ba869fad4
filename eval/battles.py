"""Pairwise battles for a leaderboard, read from the blind human vote store (`eval.human_votes`) or from a
pairwise judge run (`python -m eval judge`): one battle per vote, and one per question-turn a judge saw in both
orders (combined by FastChat's rule, `eval.judge_stats.combine`).

A battle's outcome is from model A's side, in the vote store's words: "a", "b", "tie" or "both_bad"."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from core.errors import ConfigError, DataError
from core.run_dir import CARD

OUTCOMES = ("a", "tie", "both_bad", "b")
VOTE_SUFFIXES = (".sqlite", ".db")
_FIX = ("pass a vote store (.sqlite or .db; the app's Human eval tab keeps its votes in RUNS/human_votes.sqlite) or "
        "a pairwise judge run directory (python -m eval judge --mode pairwise ... --out DIR)")


class Battle(NamedTuple):
    """One comparison of two models' answers in one language."""

    lang: str
    model_a: str
    model_b: str
    outcome: str  # one of OUTCOMES, from model A's side


def read_votes(path: Path) -> list[Battle]:
    """Every vote of a vote store as a battle (several annotators on one item are several battles)."""
    try:
        # read-only: a wrong file handed in here must not get the store's tables written into it
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ConfigError(f"{path} cannot be opened as a vote store ({exc}); {_FIX}.") from None
    try:
        rows = db.execute("SELECT i.lang, i.model_a, i.model_b, v.vote FROM votes v JOIN items i ON i.item = v.item "
                          "ORDER BY i.lang, v.item, v.annotator").fetchall()
    except sqlite3.DatabaseError as exc:  # not SQLite at all, or SQLite without the store's tables
        raise ConfigError(f"{path} is not a vote store of the Human eval tab ({exc}); {_FIX}.") from None
    finally:
        db.close()
    bad = sorted({vote for *_, vote in rows if vote not in OUTCOMES})
    if bad:
        raise DataError(f"{path} holds votes that are none of {', '.join(OUTCOMES)}: {', '.join(map(str, bad))}.")
    if not rows:
        raise ConfigError(f"{path} holds no votes yet: vote in the app's Human eval tab first, or pass a pairwise "
                          f"judge run.")
    return [Battle(str(lang), str(a), str(b), vote) for lang, a, b, vote in rows]


def judge_run_dir(path: Path) -> Path:
    """The directory holding a judge run's card: `path`, or `path/judgments` (what `python -m eval judge --out
    path` leaves)."""
    path = Path(path)
    return path / "judgments" if not (path / CARD).is_file() and (path / "judgments" / CARD).is_file() else path


def read_judge_run(path: Path) -> tuple[list[Battle], dict]:
    """A pairwise judge run's battles (each question-turn judged in both orders, FastChat's rule) and what
    identifies the run (judge, mode, models, status)."""
    from eval.judge_protocols import get_protocol, is_pairwise
    from eval.judge_stats import combine
    from eval.results import read_card, read_items

    run = judge_run_dir(path)
    card = read_card(run)
    if not card or "mode" not in card:
        raise ConfigError(f"{path} is not a judge run (no card.json with a mode); {_FIX}.")
    if not is_pairwise(card["mode"]):
        raise ConfigError(f"{path} is a {card['mode']!r} judge run, which rates each answer alone; a leaderboard "
                          f"needs pairwise verdicts: python -m eval judge --mode pairwise (or scores).")
    outcome = get_protocol(card["mode"]).outcome
    sides: dict = defaultdict(dict)
    for r in read_items(run):
        if r["value"] is not None:  # unparseable replies are no verdict: left out, as in the judge's own card
            sides[str(r["lang"]), str(r["id"]), int(r["turn"])][r["side"]] = r["value"]
    names = {"win": "a", "loss": "b", "tie": "tie", "both_bad": "both_bad"}
    battles = [Battle(lang, card["a"], card["b"],
                      names[combine(outcome(s["ab"], True), outcome(s["ba"], False), "fastchat")])
               for (lang, _, _), s in sorted(sides.items()) if "ab" in s and "ba" in s]
    if not battles:
        raise ConfigError(f"{path} has no question judged in both orders yet: finish the judge run (run the same "
                          f"`python -m eval judge` command again) before ranking from it.")
    info = {"judge": card.get("judge"), "mode": card["mode"], "a": card["a"], "b": card["b"],
            "status": card.get("status")}
    return battles, info


def read_input(path: Path) -> tuple[str, list[Battle], dict]:
    """(source, battles, description) of one input: source "human" for a vote store, "judge" for a judge run."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path} not found; {_FIX}.")
    if path.is_file():
        if path.suffix.lower() not in VOTE_SUFFIXES:
            raise ConfigError(f"{path} is a file but not a vote store (.sqlite or .db); {_FIX}.")
        battles = read_votes(path)
        return "human", battles, {"path": str(path), "kind": "votes", "battles": len(battles)}
    battles, info = read_judge_run(path)
    return "judge", battles, {"path": str(path), "kind": "judge run", "battles": len(battles), **info}

"""`eval report` on runs that answered the same items: for each two runs, the paired difference on the items both
have (bench runs: right or wrong per item, per task; generate runs: the answer in the prompt's language or not,
per prompt set), with the exact McNemar test, a paired bootstrap 95% interval and the minimum detectable effect."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from core.languages import get_language
from eval.paired import POWER_NOTE, paired_binary
from eval.report import run_label, text_table
from eval.results import read_items


def unit_outcomes(card: dict) -> dict[str, dict[tuple, bool]]:
    """What a run got right per unit, by what can be compared: "TASK" -> (lang, id) -> right (accuracy, or exact
    match for generative tasks); "set NAME" -> (lang, id) -> the first answer's own text in the prompt's language
    (languages lid.176 cannot identify are left out: no answer could agree)."""
    run = Path(card["_dir"])
    if "results" in card:
        out: dict[str, dict[tuple, bool]] = {}
        for r in read_items(run):
            right = r.get("acc", r.get("em"))
            if right is not None:
                out.setdefault(r["task"], {})[r["lang"], str(r["id"])] = bool(right)
        return out
    if "agreement" in card:
        from eval.answer_checks import check_records

        checked = check_records(read_items(run), card.get("max_tokens"))
        return {f"set {Path(card['set']).name}": {(c.lang, c.id): c.agrees for c in checked
                                                  if get_language(c.lang).lid176}}
    return {}


PAIRS_HEAD = ["compared on", "A", "B", "n", "A right", "B right", "only A", "only B", "McNemar p",
              "A - B [95% bootstrap]", "MDE"]


def paired_rows(cards: list[dict]) -> list[list[str]]:
    """One row per two runs and task (or prompt set) with items in common."""
    outcomes = [unit_outcomes(c) for c in cards]
    rows = []
    for group in dict.fromkeys(g for o in outcomes for g in o):
        for i, j in combinations([i for i, o in enumerate(outcomes) if group in o], 2):
            d = paired_binary(outcomes[i][group], outcomes[j][group])
            if d.n:
                rows.append([group, run_label(cards[i], cards), run_label(cards[j], cards), str(d.n),
                             f"{d.mean_a:.3f}", f"{d.mean_b:.3f}", str(d.only_a), str(d.only_b), f"{d.p:.3g}",
                             d.interval(), d.mde_cell()])
    return rows


def paired_table(cards: list[dict]) -> str:
    """The paired differences as aligned text under a line saying what they are; empty where no two runs share
    an item."""
    rows = paired_rows(cards)
    if not rows:
        return ""
    return ("Paired: the same items in two runs (exact McNemar test). " + POWER_NOTE + "\n"
            + text_table(PAIRS_HEAD, rows))

"""What a set of position-swapped judgments says: per-question outcomes under FastChat's or X-Instruction's rule,
win/tie/loss with intervals, the judge's position and length bias, and agreement (Cohen's kappa between two
judges or runs, Fleiss' kappa across many annotators).

An outcome is from model A's side: "win", "tie", "loss", or "both_bad" (MT-Bench-X's [[D]])."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from core.languages import wilson

OUTCOMES = ("win", "tie", "loss", "both_bad")


def ab_outcome(verdict: str, a_first: bool) -> str:
    """A verdict letter ([[A]] is the first answer shown) as model A's outcome, given which side A was shown on."""
    if verdict in ("C", "D"):
        return "tie" if verdict == "C" else "both_bad"
    first_won = verdict == "A"
    return "win" if first_won == a_first else "loss"


def score_outcome(first: float, second: float, a_first: bool) -> str:
    """Two scores (first shown, second shown) as model A's outcome."""
    a, b = (first, second) if a_first else (second, first)
    return "win" if a > b else "loss" if a < b else "tie"


def combine(o1: str, o2: str, rule: str = "fastchat") -> str:
    """One question's outcome from its two orders. FastChat: the orders must agree, else it is a tie.
    X-Instruction: a win in both orders, or a win and a tie, is a win (and so for losses); else a tie."""
    if o1 == o2:
        return o1
    if rule == "fastchat":
        return "tie"
    if rule == "x-instruction":
        pair = {o1, o2}
        if pair == {"win", "tie"}:
            return "win"
        if pair == {"loss", "tie"}:
            return "loss"
        return "tie"
    raise ValueError(f"unknown rule {rule!r}: fastchat or x-instruction")


def flipped(o1: str, o2: str) -> bool:
    """The verdict changed with the order of the answers (the judge's position bias at work)."""
    return o1 != o2


def win_rates(outcomes: Iterable[str]) -> dict:
    """Counts of each outcome and the win rate with its Wilson 95% interval (ties count as not won)."""
    counts = Counter(outcomes)
    n = sum(counts.values())
    rate = wilson(counts["win"], n)
    return {"n": n, **{o: counts[o] for o in OUTCOMES},
            "win_rate": round(rate.rate, 4), "ci95": [round(rate.low, 4), round(rate.high, 4)],
            # the "win rate" many papers report counts a tie (both good or both bad) as half a win
            "win_rate_half_ties": round((counts["win"] + 0.5 * (counts["tie"] + counts["both_bad"])) / n, 4)
            if n else float("nan")}


def position_bias(pairs: Iterable[tuple[str, str]]) -> dict:
    """The share of swapped pairs whose outcome differs between the orders, with its Wilson 95% interval."""
    pairs = list(pairs)
    rate = wilson(sum(flipped(a, b) for a, b in pairs), len(pairs))
    return {"n": rate.n, "flip_rate": round(rate.rate, 4), "ci95": [round(rate.low, 4), round(rate.high, 4)]}


def length_bias(decisions: Iterable[tuple[str, int, int]]) -> dict:
    """(outcome, length of A's answer, length of B's answer): among decisive outcomes between answers of
    different length, how often the longer answer won (0.5 means no length preference)."""
    longer_won = total = 0
    for outcome, len_a, len_b in decisions:
        if outcome not in ("win", "loss") or len_a == len_b:
            continue
        total += 1
        longer_won += (outcome == "win") == (len_a > len_b)
    rate = wilson(longer_won, total)
    return {"n": rate.n, "longer_wins": round(rate.rate, 4), "ci95": [round(rate.low, 4), round(rate.high, 4)]}


def cohen_kappa(labels_1: list, labels_2: list) -> float:
    """Cohen's kappa between two raters' labels of the same items (two judges, or two runs of one)."""
    from sklearn.metrics import cohen_kappa_score

    if len(labels_1) != len(labels_2):
        raise ValueError(f"kappa needs the same items rated twice: {len(labels_1)} vs {len(labels_2)} labels")
    return float(cohen_kappa_score(labels_1, labels_2))


def fleiss_kappa(ratings: list[list]) -> float:
    """Fleiss' kappa; `ratings` holds one row per item with every annotator's label (same count per item)."""
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as fk

    table, _ = aggregate_raters(ratings)
    return float(fk(table, method="fleiss"))

"""The tables of a judge card's results, given how a protocol reads a verdict: outcomes of position-swapped
pairs under FastChat's and X-Instruction's rules with win rates and position and length bias, or mean ratings;
overall, per language and per category, with every unparseable reply listed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from eval.judge_stats import combine, length_bias, position_bias, win_rates


def mean(values: list[float]) -> float | None:
    """The mean rounded for the card, None for no values."""
    return round(float(np.mean(values)), 3) if values else None


def unparseable(records: list[dict]) -> dict:
    """How many judgments have no verdict, each listed with its problem and the start of the reply."""
    # sorted: judgments arrive in any order from a concurrent run, the card must not depend on it
    bad = sorted((r for r in records if r["value"] is None), key=lambda r: (r["lang"], str(r["id"]), r["turn"],
                                                                            r["side"]))
    return {"n": len(bad), "of": len(records),
            "items": [{"lang": r["lang"], "id": r["id"], "turn": r["turn"], "side": r["side"],
                       "problem": r["problem"], "reply": (r["reply"] or "")[:300]} for r in bad]}


def pair_results(records: list[dict], outcome: Callable[[object, bool], str]) -> dict:
    """Results of judgments in both orders ("ab", "ba"); `outcome(value, a_first)` is a verdict as A's outcome."""
    by_q: dict = defaultdict(dict)
    for r in records:
        by_q[r["lang"], r["id"], r["turn"], r["category"]][r["side"]] = r
    rows = []  # (lang, category, o_ab, o_ba, lengths)
    for (lang, _, _, category), sides in sorted(by_q.items()):
        ab, ba = sides.get("ab"), sides.get("ba")
        if ab and ba and ab["value"] is not None and ba["value"] is not None:
            rows.append((lang, category, outcome(ab["value"], True), outcome(ba["value"], False), ab["lengths"]))

    def table(subset):
        fastchat = [combine(o1, o2, "fastchat") for _, _, o1, o2, _ in subset]
        return {"fastchat": win_rates(fastchat),
                "x_instruction": win_rates(combine(o1, o2, "x-instruction") for _, _, o1, o2, _ in subset),
                "position_bias": position_bias((o1, o2) for _, _, o1, o2, _ in subset),
                "length_bias": length_bias((o, *lengths) for o, (*_, lengths) in zip(fastchat, subset))}

    return {"overall": table(rows),
            "by_lang": {lang: table([r for r in rows if r[0] == lang]) for lang in sorted({r[0] for r in rows})},
            "by_category": {c: table([r for r in rows if r[1] == c]) for c in sorted({r[1] for r in rows})},
            "questions_judged": len(rows), "unparseable": unparseable(records)}


def rating_results(records: list[dict], score: Callable[[object], float]) -> dict:
    """Each side's mean `score(value)` overall, per turn, language and category."""
    ok = [r for r in records if r["value"] is not None]
    sides = sorted({r["side"] for r in records})

    def means(subset):
        return {side: mean([score(r["value"]) for r in subset if r["side"] == side]) for side in sides}

    def grouped(key):
        return {v: means([r for r in ok if r[key] == v]) for v in sorted({r[key] for r in ok})}

    # per-category means are the data of MT-Bench's radar plot
    return {"overall": means(ok), "by_turn": grouped("turn"), "by_lang": grouped("lang"),
            "by_category": grouped("category"), "unparseable": unparseable(records)}

"""A judge run's judgments -> the card's results: outcomes under FastChat's and X-Instruction's rules with win
rates, position and length bias (overall, per language, per category), mean scores and ratings, and every
unparseable reply listed."""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

import numpy as np

from eval.judge_stats import ab_outcome, combine, length_bias, position_bias, score_outcome, win_rates


def outcome(mode: str, record: dict, a_first: bool) -> str:
    """One judgment as model A's outcome."""
    if mode == "pairwise":
        return ab_outcome(record["value"], a_first)
    first, second = record["value"]
    return score_outcome(first, second, a_first)


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 3) if values else None


def _unparseable(records: list[dict]) -> dict:
    # sorted: judgments arrive in any order from a concurrent run, the card must not depend on it
    bad = sorted((r for r in records if r["value"] is None), key=lambda r: (r["lang"], str(r["id"]), r["turn"],
                                                                            r["side"]))
    return {"n": len(bad), "of": len(records),
            "items": [{"lang": r["lang"], "id": r["id"], "turn": r["turn"], "side": r["side"],
                       "problem": r["problem"], "reply": (r["reply"] or "")[:300]} for r in bad]}


def _pairs_summary(mode: str, records: list[dict]) -> dict:
    by_q: dict = defaultdict(dict)
    for r in records:
        by_q[r["lang"], r["id"], r["turn"], r["category"]][r["side"]] = r
    rows = []  # (lang, category, o_ab, o_ba, lengths)
    for (lang, _, _, category), sides in sorted(by_q.items()):
        ab, ba = sides.get("ab"), sides.get("ba")
        if ab and ba and ab["value"] is not None and ba["value"] is not None:
            rows.append((lang, category, outcome(mode, ab, True), outcome(mode, ba, False), ab["lengths"]))

    def table(subset):
        fastchat = [combine(o1, o2, "fastchat") for _, _, o1, o2, _ in subset]
        return {"fastchat": win_rates(fastchat),
                "x_instruction": win_rates(combine(o1, o2, "x-instruction") for _, _, o1, o2, _ in subset),
                "position_bias": position_bias((o1, o2) for _, _, o1, o2, _ in subset),
                "length_bias": length_bias((o, *lengths) for o, (*_, lengths) in zip(fastchat, subset))}

    out = {"overall": table(rows),
           "by_lang": {lang: table([r for r in rows if r[0] == lang]) for lang in sorted({r[0] for r in rows})},
           "by_category": {c: table([r for r in rows if r[1] == c]) for c in sorted({r[1] for r in rows})},
           "questions_judged": len(rows), "unparseable": _unparseable(records)}
    if mode == "scores":  # each model's mean 0-10 score over both orders
        a_scores = [r["value"][0 if r["side"] == "ab" else 1] for r in records if r["value"] is not None]
        b_scores = [r["value"][1 if r["side"] == "ab" else 0] for r in records if r["value"] is not None]
        out["mean_scores"] = {"a": _mean(a_scores), "b": _mean(b_scores)}
    return out


def _ratings_summary(mode: str, records: list[dict]) -> dict:
    def score(r):
        return r["value"][0] if mode == "likert" else r["value"]

    ok = [r for r in records if r["value"] is not None]
    sides = sorted({r["side"] for r in records})

    def means(subset):
        return {side: _mean([score(r) for r in subset if r["side"] == side]) for side in sides}

    def grouped(key):
        return {v: means([r for r in ok if r[key] == v]) for v in sorted({r[key] for r in ok})}

    # per-category means are the data of MT-Bench's radar plot
    out = {"overall": means(ok), "by_turn": grouped("turn"), "by_lang": grouped("lang"),
           "by_category": grouped("category"), "unparseable": _unparseable(records)}
    if mode == "likert":
        out["forced_wrong_language"] = {side: sum(r["forced"] for r in records if r["side"] == side) for side in sides}
    return out


def summarize(mode: str, records: list[dict]) -> dict:
    """The results block of a judge card."""
    return _pairs_summary(mode, records) if mode in ("pairwise", "scores") else _ratings_summary(mode, records)


class PairwiseRow(NamedTuple):
    """One language (or "all") of a pairwise run: W/T/L under both rules, win rate, position and length bias."""

    lang: str
    n: int
    fastchat: tuple[int, int, int]
    x_instruction: tuple[int, int, int]
    win_rate: float
    ci95: tuple[float, float]
    flip_rate: float
    longer_wins: float


def pairwise_rows(results: dict) -> list[PairwiseRow]:
    """A pairwise judge card's results per language, then overall ("all")."""
    rows = []
    for name, t in [*results.get("by_lang", {}).items(), ("all", results.get("overall"))]:
        if not t:
            continue
        fc, xi = t["fastchat"], t["x_instruction"]
        rows.append(PairwiseRow(name, fc["n"], (fc["win"], fc["tie"], fc["loss"]), (xi["win"], xi["tie"], xi["loss"]),
                                xi["win_rate"], tuple(xi["ci95"]), t["position_bias"]["flip_rate"],
                                t["length_bias"]["longer_wins"]))
    return rows


def format_judge(card: dict) -> str:
    """The card's results as a table per language (and overall) for the terminal."""
    res, mode = card["results"], card["mode"]
    lines = [f"{card['mode']} judged by {card['judge']}: A = {card['a']}" + (f", B = {card['b']}" if card["b"] else "")]
    if mode in ("pairwise", "scores"):
        lines.append(f"{'lang':8} {'n':>4}  {'FastChat W/T/L':>15}  {'X-Instr. W/T/L':>15}  {'win rate [95%]':20} "
                     f"{'flips':>6}  {'longer wins':>11}")
        for r in pairwise_rows(res):
            lines.append(f"{r.lang:8} {r.n:4d}  {r.fastchat[0]:>5}/{r.fastchat[1]:>3}/{r.fastchat[2]:<5}  "
                         f"{r.x_instruction[0]:>5}/{r.x_instruction[1]:>3}/{r.x_instruction[2]:<5}  "
                         f"{r.win_rate:.3f} [{r.ci95[0]:.3f}, {r.ci95[1]:.3f}]  {r.flip_rate:6.3f}  "
                         f"{r.longer_wins:11.3f}")
        if "mean_scores" in res:
            lines.append(f"mean scores: A {res['mean_scores']['a']}, B {res['mean_scores']['b']}")
    else:
        for name, means in [*res["by_lang"].items(), ("all", res["overall"])]:
            lines.append(f"{name:8} " + "  ".join(f"{side.upper()} {v}" for side, v in means.items()))
    bad = res["unparseable"]
    lines.append(f"unparseable: {bad['n']} of {bad['of']} judgments (listed in the card)")
    return "\n".join(lines)

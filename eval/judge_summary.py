"""A judge run's judgments -> the card's results (each protocol makes its own, see `eval.judge_protocols`),
and those results as rows and as text for the terminal."""

from __future__ import annotations

from typing import NamedTuple

from eval.judge_protocols import get_protocol


def summarize(mode: str, records: list[dict]) -> dict:
    """The results block of a judge card: what protocol `mode` makes of its judgments."""
    return get_protocol(mode).summarize(records)


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
    res = card["results"]
    lines = [f"{card['mode']} judged by {card['judge']}: A = {card['a']}" + (f", B = {card['b']}" if card["b"] else "")]
    if get_protocol(card["mode"]).pairwise:
        lines.append(f"{'lang':8} {'n':>4}  {'FastChat W/T/L':>15}  {'X-Instr. W/T/L':>15}  {'win rate [95%]':20} "
                     f"{'flips':>6}  {'longer wins':>11}")
        for r in pairwise_rows(res):
            rate = "no verdicts" if _missing(r.win_rate) else f"{r.win_rate:.3f} [{r.ci95[0]:.3f}, {r.ci95[1]:.3f}]"
            lines.append(f"{r.lang:8} {r.n:4d}  {r.fastchat[0]:>5}/{r.fastchat[1]:>3}/{r.fastchat[2]:<5}  "
                         f"{r.x_instruction[0]:>5}/{r.x_instruction[1]:>3}/{r.x_instruction[2]:<5}  "
                         f"{rate:20}  {_cell(r.flip_rate, 6)}  {_cell(r.longer_wins, 11)}")
        if "mean_scores" in res:
            lines.append(f"mean scores: A {res['mean_scores']['a']}, B {res['mean_scores']['b']}")
    else:
        for name, means in [*res["by_lang"].items(), ("all", res["overall"])]:
            lines.append(f"{name:8} " + "  ".join(f"{side.upper()} {v}" for side, v in means.items()))
    bad = res["unparseable"]
    lines.append(f"unparseable: {bad['n']} of {bad['of']} judgments (listed in the card)")
    if "weighted" in res:
        from eval.judge_weighted import format_weighted

        lines.append(format_weighted(card["mode"], res["weighted"]))
    return "\n".join(lines)


def _missing(x) -> bool:
    return x is None or x != x  # NaN: no judged pair to take a rate over


def _cell(x, width: int) -> str:
    return f"{'-':>{width}}" if _missing(x) else f"{x:{width}.3f}"

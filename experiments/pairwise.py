"""A pairwise judge's part of an experiment report: the table of position-swapped pairs and the verdict, decided
by FastChat's strict rule (a verdict that flips with the order is a tie) with X-Instruction's lenient count (a
win plus a tie is a win) shown beside it. A judge that follows the position more often than FLIP_LIMIT decides
nothing: its result is "not measured"."""

from __future__ import annotations

from pathlib import Path

from eval.judge_summary import pairwise_rows
from eval.judge_weighted import format_stats
from eval.paired import POWER_NOTE, sign_test
from experiments.report import md_table, stage_card

FLIP_LIMIT = 0.5  # above this share of flipped pairs the verdicts follow the position more than the answers

PAIR_HEAD = ["lang", "pairs", "FastChat W/T/L (strict)", "X-Instruction W/T/L (lenient)",
             "net win rate, strict [95% bootstrap]", "sign test p", "MDE", "position flips", "longer answer wins"]


def _rate(x: float) -> str:
    return "-" if x != x else f"{x:.2f}"  # NaN (no pair to count) -> "-"


def _wtl(counts) -> str:
    return "/".join(map(str, counts))


def pair_results(run_dir: Path, j) -> dict:
    """The results of the judge stage of pairwise judging `j`."""
    return stage_card(run_dir, f"judge/pairwise-{'-'.join(j.arms)}").get("results", {})


def pair_section(exp, run_dir: Path, j) -> tuple[list[str], dict]:
    """Markdown lines of the pairwise table (per language and overall) and the judge stage's results."""
    res = pair_results(run_dir, j)
    rows = []
    for r in pairwise_rows(res):
        d = sign_test(*r.fastchat)
        rows.append([r.lang, r.n, _wtl(r.fastchat), _wtl(r.x_instruction), d.interval(), f"{d.p:.2g}",
                     d.mde_cell(), _rate(r.flip_rate), _rate(r.longer_wins)])
    bad = res.get("unparseable", {})
    a, b = (exp.label(x) for x in j.arms)
    md = [f"### Pairwise: {a} (A) vs {b} (B), judged in both orders", "",
          "The verdict uses FastChat's strict rule: a pair whose verdict flips with the order is a tie. "
          "X-Instruction's lenient rule (a win plus a tie is a win) is shown beside it. The net win rate is the share "
          "of pairs A won minus the share it lost; the sign test is on the decided pairs. Position flips: the share "
          f"of pairs whose verdict changed with the order; above {FLIP_LIMIT:.2f} the judge followed the position "
          "more than the answers and its result is \"not measured\". " + POWER_NOTE, "",
          md_table(PAIR_HEAD, rows), "", f"Unparseable judge replies: {bad.get('n', 0)} of {bad.get('of', 0)}.", ""]
    return md + _weighted_lines(res.get("weighted"), a, b), res


def _weighted_lines(weighted: dict | None, a: str, b: str) -> list[str]:
    """The judge's verdict probabilities (`eval judge --weighted`), where it read them: the mean margin for A
    over both orders against the margin for whichever answer was shown first."""
    if not weighted:
        return []
    m, first = weighted["overall"]["a_minus_b"], weighted["overall"]["first_minus_second"]
    return [f"**Verdict probabilities** (renormalized over the verdicts, averaged over both orders; shown beside, "
            f"not deciding; 95% t-intervals): P({a}) − P({b}) {format_stats(m)}; the answer shown first − the one "
            f"shown second {format_stats(first)}.", ""]


def pair_verdict(exp, res: dict, j) -> tuple[str, str, dict]:
    """(reproduced, verdict, numbers) of A vs B: FastChat's strict W/T/L decides (sign test, bootstrap interval of
    the net win rate, MDE), the lenient count is stated beside it; "not measured" above FLIP_LIMIT flips."""
    overall = res.get("overall") or {}
    fc, xi = overall.get("fastchat", {}), overall.get("x_instruction", {})
    a, b = (exp.label(x) for x in j.arms)
    if not fc.get("n"):
        return "not measured", f"The judge gave no usable verdict on {a} vs {b}.", {}
    flips = overall["position_bias"]["flip_rate"]
    strict, lenient = (fc["win"], fc["tie"], fc["loss"]), (xi["win"], xi["tie"], xi["loss"])
    counts = f"FastChat's strict W/T/L {_wtl(strict)}; X-Instruction's lenient W/T/L {_wtl(lenient)}"
    numbers = {"rule": "fastchat", "win": strict[0], "tie": strict[1], "loss": strict[2],
               "lenient": dict(zip(("win", "tie", "loss"), lenient)), "flip_rate": flips, "flip_limit": FLIP_LIMIT}
    if flips > FLIP_LIMIT:  # the verdicts followed the position: the judge did not compare the answers
        return ("not measured", f"The judge's verdict flipped with the order of the answers in {flips:.0%} of "
                f"{fc['n']} pairs (position flips {flips:.2f}, above the {FLIP_LIMIT:.2f} a verdict needs), so it "
                f"did not compare {a} with {b} ({counts}).", numbers)
    d = sign_test(*strict)
    wins, losses = strict[0], strict[2]
    reproduced = "yes" if wins > losses else "no" if losses > wins else "mixed"
    verdict = (f"Under FastChat's strict rule {a} won {wins}, tied {strict[1]} and lost {losses} of {fc['n']} pairs "
               f"against {b} (net win rate {d.interval()}; sign test p = {d.p:.2g}; position flips {flips:.2f}); "
               f"X-Instruction's lenient rule counts {_wtl(lenient)}.")
    if not d.significant:
        if reproduced != "mixed":
            reproduced += " (not significant)"
        verdict += f" The difference is within chance: {d.no_effect(' in net win rate')}."
    return reproduced, verdict, numbers | d.numbers()


def pair_headline(numbers: dict) -> str:
    """The deciding numbers in one line: strict and lenient W/T/L, flips, and the test or why nothing was
    measured."""
    if "win" not in numbers:
        return "no usable judge verdict"
    le = numbers["lenient"]
    text = (f"FastChat W/T/L {numbers['win']}/{numbers['tie']}/{numbers['loss']} (lenient {le['win']}/{le['tie']}/"
            f"{le['loss']}), flips {numbers['flip_rate']:.2f}")
    if numbers["flip_rate"] > FLIP_LIMIT:
        return text + f" > {FLIP_LIMIT:.2f}: not measured"
    ci = numbers.get("ci95")
    interval = f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else ""
    mde = "not measurable" if numbers.get("mde") is None else f"{numbers['mde']:.2f}"
    return text + f", net win rate {numbers['difference']:+.2f}{interval}, sign test p = {numbers['p']:.2g}, MDE {mde}"

"""Judge statistics on hand-worked cases: outcomes from verdicts and scores, FastChat's and X-Instruction's
rules for the two orders, win rates, position and length bias, and Cohen's and Fleiss' kappa against the
textbook examples."""

from __future__ import annotations

import pytest

from eval.judge_stats import (
    ab_outcome,
    cohen_kappa,
    combine,
    fleiss_kappa,
    length_bias,
    position_bias,
    score_outcome,
    win_rates,
)


def test_outcomes_are_from_model_a_side():
    assert ab_outcome("A", a_first=True) == "win" and ab_outcome("A", a_first=False) == "loss"
    assert ab_outcome("B", a_first=False) == "win" and ab_outcome("C", a_first=False) == "tie"
    assert ab_outcome("D", a_first=True) == "both_bad"
    assert score_outcome(8, 6, a_first=True) == "win" and score_outcome(8, 6, a_first=False) == "loss"
    assert score_outcome(7, 7, a_first=False) == "tie"


@pytest.mark.parametrize("o1, o2, fastchat, xinstruction", [
    ("win", "win", "win", "win"),
    ("win", "tie", "tie", "win"),  # the rules differ exactly here
    ("tie", "loss", "tie", "loss"),
    ("win", "loss", "tie", "tie"),  # a flip is a tie under both
    ("both_bad", "both_bad", "both_bad", "both_bad"),
    ("both_bad", "win", "tie", "tie"),
])
def test_rules_for_the_two_orders(o1, o2, fastchat, xinstruction):
    assert combine(o1, o2, "fastchat") == fastchat and combine(o2, o1, "fastchat") == fastchat
    assert combine(o1, o2, "x-instruction") == xinstruction


def test_win_rates_and_biases():
    out = win_rates(["win", "win", "tie", "loss"])
    assert (out["n"], out["win"], out["tie"], out["loss"]) == (4, 2, 1, 1)
    assert out["win_rate"] == 0.5 and out["win_rate_half_ties"] == 0.625 and out["ci95"][0] < 0.5 < out["ci95"][1]
    assert position_bias([("win", "win"), ("win", "loss"), ("tie", "win"), ("loss", "loss")])["flip_rate"] == 0.5
    # the longer answer won 2 of 3 decisive cases; ties and equal lengths do not count
    lb = length_bias([("win", 300, 100), ("loss", 100, 300), ("win", 50, 200), ("tie", 900, 10),
                      ("win", 40, 40)])
    assert lb["n"] == 3 and lb["longer_wins"] == round(2 / 3, 4)


def test_cohen_kappa_textbook():
    # Wikipedia's example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa 0.4
    r1 = ["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15
    r2 = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(r1, r2) == pytest.approx(0.4)
    assert cohen_kappa(["A", "B", "C"], ["A", "B", "C"]) == 1.0
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa(["A"], ["A", "B"])


def test_fleiss_kappa_textbook():
    # Wikipedia's example: 10 items, 14 raters, 5 categories -> kappa 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = [[cat for cat, count in enumerate(row) for _ in range(count)] for row in table]
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa([["A", "A", "A"], ["B", "B", "B"], ["tie", "tie", "tie"]]) == pytest.approx(1.0)

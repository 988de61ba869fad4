"""eval.power and eval.paired: the minimum detectable effect against an independent simulation and Connor's formula,
monotone in n; the paired bootstrap interval byte-reproducible and covering the true difference."""

from __future__ import annotations

import numpy as np
import pytest

from eval.power import connor_mde, mcnemar_power, mde_mcnemar, mde_paired_mean, paired_bootstrap


def test_mcnemar_mde_has_80_percent_power_in_a_simulation():
    """At the MDE, statsmodels' exact McNemar test on simulated paired outcomes rejects in about 80% of runs."""
    from statsmodels.stats.contingency_tables import mcnemar

    n, psi = 60, 0.3
    delta = mde_mcnemar(n, psi)
    assert mcnemar_power(n, psi, delta) == pytest.approx(0.8, abs=1e-3)
    rng = np.random.default_rng(1)
    tables = rng.multinomial(n, [(psi + delta) / 2, (psi - delta) / 2, 1 - psi], size=4000)
    rejected = np.mean([b + c > 0 and mcnemar([[0, b], [c, 0]], exact=True).pvalue < 0.05 for b, c, _ in tables])
    assert rejected == pytest.approx(0.8, abs=0.025)


def test_mcnemar_mde_meets_connors_formula_at_large_n_and_falls_with_n():
    """Connor's (1987) normal approximation is close at n = 2000 (exact is a little larger); the MDE shrinks as n
    grows; below 6 pairs no exact test can reach p < 0.05; at 12 pairs and no discordance an effect needs about 7
    pairs all one way."""
    assert mde_mcnemar(2000, 0.2) == pytest.approx(connor_mde(2000, 0.2), rel=0.03)
    mdes = [mde_mcnemar(n, 0.2) for n in (20, 40, 90, 200, 500)]
    assert all(a > b for a, b in zip(mdes, mdes[1:]))
    assert mde_mcnemar(5, 0.5) is None and mde_mcnemar(6, 0.5) is not None
    assert mde_mcnemar(12, 0.0) == pytest.approx(0.578, abs=0.005)
    assert mde_mcnemar(90, 0.15) == pytest.approx(0.1155, abs=0.002)


def test_paired_mean_mde_is_the_textbook_paired_t_effect():
    """A paired t-test on 34 pairs detects d_z = 0.5 with 80% power (Cohen's table; G*Power gives 0.495)."""
    assert mde_paired_mean(34, 1.0) == pytest.approx(0.495, abs=0.002)
    assert mde_paired_mean(34, 2.0) == pytest.approx(2 * mde_paired_mean(34, 1.0))
    assert mde_paired_mean(1, 1.0) is None and mde_paired_mean(30, 0.0) is None
    assert mde_paired_mean(30, 1.0) > mde_paired_mean(60, 1.0)


def test_bootstrap_is_byte_reproducible_and_covers_the_true_difference():
    rng = np.random.default_rng(7)
    a, b = rng.random(80) < 0.6, rng.random(80) < 0.45
    first, again = paired_bootstrap(a, b), paired_bootstrap(a, b)
    assert np.array(first).tobytes() == np.array(again).tobytes()
    assert paired_bootstrap(a, b, seed=1) != first  # the seed is what fixes it
    covered = 0
    for _ in range(200):  # paired outcomes with a true difference of 0.15 (P(a)=0.6, P(b)=0.45, correlated)
        u = rng.random(60)
        x, y = u < 0.6, (u < 0.45) ^ (rng.random(60) < 0.1)
        true = 0.6 - (0.45 * 0.9 + 0.55 * 0.1)
        low, high = paired_bootstrap(x, y)
        covered += low <= true <= high
    assert covered / 200 == pytest.approx(0.95, abs=0.04)
    assert paired_bootstrap([1, 1, 1], [0, 0, 0]) == (1.0, 1.0) and paired_bootstrap([1], [0]) is None


def test_paired_binary_and_sign_test_read_the_same_way():
    """McNemar on paired right/wrong; the sign test on W/T/L is McNemar with wins and losses discordant."""
    from eval.paired import paired_binary, sign_test

    a = {i: i < 9 for i in range(10)}
    b = {i: i < 3 for i in range(10)}
    d = paired_binary(a, b)
    assert (d.n, d.only_a, d.only_b, d.diff) == (10, 6, 0, pytest.approx(0.6))
    assert d.p == pytest.approx(2 * 0.5 ** 6) and d.significant
    s = sign_test(6, 2, 2)
    assert (s.only_a, s.only_b, s.n) == (6, 2, 10) and s.p == pytest.approx(0.289, abs=1e-3)
    assert s.diff == pytest.approx(0.4) and not s.significant
    assert "no effect larger than" in s.no_effect() and "(n=10)" in s.no_effect()
    assert "of any size" in sign_test(1, 3, 0).no_effect()  # 4 pairs: no test reaches p < 0.05

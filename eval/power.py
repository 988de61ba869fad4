"""What a paired comparison of this size could detect, and where the difference lies: the minimum detectable
effect (MDE) at α = 0.05 (two-sided) and 80% power, and a seeded paired bootstrap interval for the difference.

The designs here are paired: two arms (or two runs) on the same prompts or items.

- Paired binary outcomes (agreement per prompt, accuracy per item; also a judge's win/loss per pair, where the
  sign test on the decided pairs is the same test) are tested with the exact McNemar test, so the MDE is found by
  an exact search over that test's power (`mcnemar_power`, computed with scipy.stats.binom). Connor's (1987)
  normal-approximation formula is the well-known alternative, but at the tens of pairs these runs have it is
  off by a wide margin (it ignores that an exact test needs at least 6 discordant pairs to reach p < 0.05);
  statsmodels has no McNemar power. Connor's formula is kept (`connor_mde`) to check the exact search at large n.
- Paired continuous scores (Likert, single-answer scores): the paired t-test's power from statsmodels
  `TTestPower`, scaled by the observed standard deviation of the differences.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

ALPHA = 0.05
POWER = 0.8
RESAMPLES = 2000  # bootstrap resamples: the interval's ends move by less than 0.01 between seeds at this count
SEED = 0  # one fixed seed, so a report rebuilt from the same cards is the same bytes


@lru_cache(maxsize=64)
def _critical(n: int, alpha: float) -> np.ndarray:
    """For d = 0..n discordant pairs, the largest count c of the rarer side with 2·P(X ≤ c) < alpha under
    X ~ Binomial(d, 1/2) (the exact McNemar test rejects when min(b, c) ≤ that), or -1 where none rejects."""
    from scipy.stats import binom

    # ppf gives the smallest k with P(X ≤ k) ≥ alpha/2; one below it is the largest with P(X ≤ k) < alpha/2
    return np.maximum(binom.ppf(alpha / 2, np.arange(n + 1), 0.5).astype(int) - 1, -1)


def mcnemar_power(n: int, discordance: float, delta: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided exact McNemar test with n pairs when a share `discordance` of pairs differ and the
    difference in proportions is `delta` (so the discordant pairs split (ψ+δ)/2 vs (ψ-δ)/2)."""
    from scipy.stats import binom

    psi, delta = float(discordance), abs(float(delta))
    if n <= 0 or psi <= 0:
        return 0.0
    if delta > psi:
        raise ValueError(f"a difference of {delta} needs at least that share of discordant pairs, not {psi}")
    d = np.arange(n + 1)
    c = _critical(n, alpha)
    q = min(1.0, (psi + delta) / (2 * psi))  # the chance that a discordant pair goes the first arm's way
    # given d discordant pairs, the test rejects when the rarer side has ≤ c[d]: either tail
    # (the tails never overlap: 2·P(X ≤ c) < alpha keeps c below d/2)
    reject = np.where(c >= 0, binom.cdf(c, d, q) + binom.sf(d - c - 1, d, q), 0.0)
    return float(np.sum(binom.pmf(d, n, psi) * reject))


def mde_mcnemar(n: int, discordance: float, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest difference in proportions the exact McNemar test detects with `power` at n pairs; the share of
    discordant pairs is the observed one, or, where a larger effect needs more, the effect itself (all of its
    discordant pairs one way). None where even that cannot reach it (fewer than 6 pairs)."""
    from scipy.optimize import brentq

    def gap(delta: float) -> float:
        return mcnemar_power(n, max(discordance, delta), delta, alpha) - power

    if n <= 0 or gap(1.0) < 0:
        return None
    return float(brentq(gap, 1e-9, 1.0, xtol=1e-5))


def connor_mde(n: int, discordance: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Connor's (1987) normal-approximation MDE for McNemar's test, n = (z_a·√ψ + z_b·√(ψ - δ²))² / δ² solved
    for δ; a check on `mde_mcnemar` at large n, not used in the reports."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    za, zb, psi = norm.ppf(1 - alpha / 2), norm.ppf(power), discordance
    return float(brentq(lambda d: (za * np.sqrt(psi) + zb * np.sqrt(psi - d * d)) ** 2 / d ** 2 - n, 1e-6, psi))


def mde_paired_mean(n: int, sd_diff: float, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest mean paired difference a two-sided paired t-test detects with `power` at n pairs, in the
    scores' units (statsmodels TTestPower's effect size times the differences' SD); None below 2 pairs or
    where every difference is the same (no spread to scale by)."""
    from statsmodels.stats.power import TTestPower

    if n < 2 or not sd_diff > 0:
        return None
    return float(TTestPower().solve_power(nobs=n, alpha=alpha, power=power, alternative="two-sided")) * sd_diff


def paired_bootstrap(a, b, seed: int = SEED, n_resamples: int = RESAMPLES,
                     level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval of mean(a) - mean(b), resampling the pairs (scipy.stats.bootstrap, paired=True) with a
    seeded numpy Generator: the same inputs and seed give the same bytes. None below 2 pairs."""
    from scipy.stats import bootstrap

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    if len(a) < 2:
        return None
    if np.all(a - b == a[0] - b[0]):  # every pair differs by the same amount: every resample gives it
        return float(a[0] - b[0]), float(a[0] - b[0])
    res = bootstrap((a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis), paired=True,
                    vectorized=True, n_resamples=n_resamples, confidence_level=level, method="percentile",
                    rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)

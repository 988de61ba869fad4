"""The difference between two arms (or runs) on the same units, as every report states it: the rates, the paired
test (exact McNemar for right/wrong, the sign test for a judge's wins and losses, the paired t-test for scores),
a paired bootstrap 95% interval of the difference and the minimum detectable effect (eval.power)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.power import ALPHA, POWER, mde_mcnemar, mde_paired_mean, paired_bootstrap


@dataclass(frozen=True)
class PairedDiff:
    """a vs b on n paired units: their means, the units only a (only b) got right (None for scores), the test's
    p, the bootstrap 95% interval of mean(a) - mean(b) and the MDE (None where nothing is detectable)."""

    n: int
    mean_a: float
    mean_b: float
    p: float
    ci95: tuple[float, float] | None
    mde: float | None
    only_a: int | None = None
    only_b: int | None = None

    @property
    def diff(self) -> float:
        return self.mean_a - self.mean_b

    @property
    def significant(self) -> bool:
        return self.p < ALPHA

    def interval(self) -> str:
        """'+0.030 [-0.050, 0.110]': the difference and its bootstrap interval."""
        return f"{self.diff:+.3f}" + (f" [{self.ci95[0]:+.3f}, {self.ci95[1]:+.3f}]" if self.ci95 else "")

    def mde_cell(self) -> str:
        return "not measurable" if self.mde is None else f"{self.mde:.3f}"

    def no_effect(self, unit: str = "") -> str:
        """What a non-significant result rules out: 'no effect larger than 0.12 detectable at this size (n=90)'."""
        if self.mde is None:
            return f"no effect of any size detectable at this size (n={self.n})"
        return f"no effect larger than {self.mde:.2f}{unit} detectable at this size (n={self.n})"

    def numbers(self) -> dict:
        """The card's copy: rounded, JSON-ready."""
        r = lambda x: None if x is None else round(float(x), 4)  # noqa: E731
        return {"n": self.n, "a": r(self.mean_a), "b": r(self.mean_b), "difference": r(self.diff),
                "ci95": None if self.ci95 is None else [r(x) for x in self.ci95], "p": r(self.p), "mde": r(self.mde),
                **({"only_a": self.only_a, "only_b": self.only_b} if self.only_a is not None else {})}


POWER_NOTE = (f"MDE: the smallest difference the test detects at α = {ALPHA} (two-sided) with {POWER:.0%} power "
              "at this n; the interval is a paired bootstrap (2000 resamples of the pairs, percentile, seed 0). The "
              "exact test decides: with few discordant pairs the percentile interval runs narrower than the test, "
              "and can leave out 0 where p is above 0.05.")


def paired_binary(a: dict, b: dict) -> PairedDiff:
    """Right/wrong per unit of two arms, on the units both have: exact McNemar test, bootstrap interval, MDE at
    the observed share of discordant units."""
    from statsmodels.stats.contingency_tables import mcnemar

    keys = sorted(set(a) & set(b))
    x = np.array([bool(a[k]) for k in keys], dtype=float)
    y = np.array([bool(b[k]) for k in keys], dtype=float)
    only_a, only_b = int(np.sum(x > y)), int(np.sum(y > x))
    both = int(np.sum(x * y))
    table = [[both, only_a], [only_b, len(keys) - only_a - only_b - both]]
    p = float(mcnemar(table, exact=True).pvalue) if only_a + only_b else 1.0
    n = len(keys)
    return PairedDiff(n, float(x.mean()) if n else float("nan"), float(y.mean()) if n else float("nan"), p,
                      paired_bootstrap(x, y), mde_mcnemar(n, (only_a + only_b) / n) if n else None, only_a, only_b)


def sign_test(win: int, tie: int, loss: int) -> PairedDiff:
    """A pairwise judge's wins, ties and losses of a against b: the sign test on the decided pairs, which is the
    exact McNemar test with wins and losses as the discordant pairs, so the difference is the net win rate
    (share won minus share lost) and its MDE that of `paired_binary`."""
    units = range(win + tie + loss)
    return paired_binary({i: i < win for i in units}, {i: i >= win + tie for i in units})


def paired_scores(a: dict, b: dict) -> PairedDiff:
    """Scores per unit of two arms, on the units both have: paired t-test, bootstrap interval, MDE from the
    differences' standard deviation."""
    from scipy.stats import ttest_rel

    keys = sorted(set(a) & set(b))
    x = np.array([a[k] for k in keys], dtype=float)
    y = np.array([b[k] for k in keys], dtype=float)
    n = len(keys)
    sd = float(np.std(x - y, ddof=1)) if n > 1 else 0.0
    if n > 1 and sd > 0:
        p = float(ttest_rel(x, y).pvalue)
    else:  # no spread: every pair differs by the same amount, so either nothing differs or everything does
        p = 0.0 if n > 1 and x[0] != y[0] else 1.0
    return PairedDiff(n, float(x.mean()) if n else float("nan"), float(y.mean()) if n else float("nan"), p,
                      paired_bootstrap(x, y), mde_paired_mean(n, sd))


PAIRED_HEAD = ["n", "difference [95% bootstrap]", "p", "MDE"]


def paired_cells(d: PairedDiff) -> list[str]:
    """The cells under PAIRED_HEAD."""
    return [str(d.n), d.interval(), f"{d.p:.3g}", d.mde_cell()]

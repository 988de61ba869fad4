"""Bradley–Terry strengths of the models in one set of battles (a language, or all of them), with bootstrap
95% intervals, on an Elo-like scale.

The fit is scikit-learn's L2-penalized logistic regression with one column per model (+1 for A, -1 for B, no
intercept): P(A beats B) = 1 / (1 + exp(θ_B - θ_A)). A tie, and a "both bad" vote, counts as half a win to each
side: the pair's battle is a win row and a loss row of weight 0.5 each. The penalty is a N(0, 10) prior on each θ,
which keeps a model that won every battle finite and barely moves the others. The scale is anchored per cell:
rating = 1000 + 400·log10(e)·(θ - mean θ), so the cell's models average 1000 and 400 points are 10:1 odds.

The bootstrap resamples the cell's battles with replacement (a multinomial draw over its pair x outcome counts,
the same in distribution) and refits; the interval is the 2.5th and 97.5th percentile of the refitted ratings.

Only models linked by a chain of battles share a scale: a pair that only ever met each other would get ratings
from the prior alone. Such models are listed apart (`unconnected`), and the cell ranks its main component."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from eval.battles import OUTCOMES, Battle

SCORE = np.array([{"a": 1.0, "tie": 0.5, "both_bad": 0.5, "b": 0.0}[o] for o in OUTCOMES])
BASE, POINTS = 1000.0, 400 / math.log(10)  # Elo's scale: 400 rating points per factor 10 in the odds
PRIOR_VARIANCE = 10.0  # sklearn's C: the variance of the Gaussian prior on each θ (log-odds units)


def tally(battles: list[Battle]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(models sorted by name, pairs as (i, j) model indices with i < j, counts per pair of OUTCOMES from i's side)."""
    battles = [b for b in battles if b.model_a != b.model_b]  # a model against itself says nothing of its strength
    models = sorted({m for b in battles for m in (b.model_a, b.model_b)})
    index = {m: k for k, m in enumerate(models)}
    flip = {"a": "b", "b": "a", "tie": "tie", "both_bad": "both_bad"}  # the same battle seen from B's side
    counts: Counter = Counter()
    for b in battles:
        i, j = index[b.model_a], index[b.model_b]
        counts[(i, j, b.outcome) if i < j else (j, i, flip[b.outcome])] += 1
    pairs = sorted({(i, j) for i, j, _ in counts})
    table = np.array([[counts[i, j, o] for o in OUTCOMES] for i, j in pairs], dtype=float).reshape(-1, len(OUTCOMES))
    return models, np.array(pairs, dtype=int).reshape(-1, 2), table


class Fitter:
    """Fits ratings to outcome counts of fixed pairs, many count tables at once (the bootstrap's refits)."""

    def __init__(self, n_models: int, pairs: np.ndarray):
        rows = np.zeros((len(pairs), n_models))
        rows[np.arange(len(pairs)), pairs[:, 0]] = 1.0
        rows[np.arange(len(pairs)), pairs[:, 1]] = -1.0
        # each pair twice: a row won by i, a row won by j, weighted by i's and j's share of the battles
        self.x = np.vstack([rows, rows])
        self.y = np.r_[np.ones(len(pairs)), np.zeros(len(pairs))]
        self.n_models = n_models

    def ratings(self, counts: np.ndarray) -> np.ndarray:
        """The anchored ratings (S, models) given S tables of per-pair outcome counts (S, pairs, OUTCOMES)."""
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression

        won = counts @ SCORE
        weights = np.hstack([won, counts.sum(axis=2) - won]).ravel()  # table by table, in self.y's row order
        # S independent fits as one: a block-diagonal design whose penalized likelihood is the sum of theirs, so
        # its optimum is each one's optimum (a thousand refits in one call: ~100x faster than a loop)
        x = sp.kron(sp.identity(len(counts), format="csr"), sp.csr_matrix(self.x), format="csr")
        model = LogisticRegression(C=PRIOR_VARIANCE, fit_intercept=False, solver="newton-cg", tol=1e-10,
                                   max_iter=10_000)
        model.fit(x, np.tile(self.y, len(counts)), sample_weight=weights)
        theta = model.coef_[0].reshape(len(counts), self.n_models)
        return BASE + POINTS * (theta - theta.mean(axis=1, keepdims=True))


def connected(models: list[str], pairs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """A mask of the models in the comparison graph's main component (most battles, then most models): only
    models linked by a chain of battles share a scale; another component's ratings would rest on the prior."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    graph = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(models), len(models)))
    n, label = connected_components(graph, directed=False)
    battles = np.bincount(label[pairs[:, 0]], weights=counts.sum(axis=1), minlength=n)
    sizes = np.bincount(label, minlength=n)
    main = max(range(n), key=lambda c: (battles[c], sizes[c], -min(np.flatnonzero(label == c))))
    return label == main


def _unconnected(models: list[str], pairs: np.ndarray, counts: np.ndarray, ranked: np.ndarray) -> list[dict]:
    """The models outside the main component: their battles and whom they played."""
    out = []
    for k in np.flatnonzero(~ranked):
        rows = [(i, j, row.sum()) for (i, j), row in zip(pairs, counts) if k in (i, j)]
        out.append({"model": models[k], "battles": int(sum(n for *_, n in rows)),
                    "played": sorted({models[j if i == k else i] for i, j, _ in rows})})
    return out


def rate(battles: list[Battle], n_bootstrap: int, rng: np.random.Generator) -> dict:
    """One cell: each model's rating, bootstrap 95% interval and battles, best first, and each pair's tallies;
    models with no chain of battles to the main group are listed apart as `unconnected`, not ranked."""
    from threadpoolctl import threadpool_limits

    models, pairs, counts = tally(battles)
    if len(pairs) == 0:
        return {"battles": 0, "models": [], "pairs": [], "unconnected": []}
    total = int(counts.sum())
    ranked = connected(models, pairs, counts)
    unconnected = _unconnected(models, pairs, counts, ranked)
    if unconnected:  # fit the main component alone, renumbered
        keep = ranked[pairs[:, 0]]
        new_index = np.cumsum(ranked) - 1
        models, pairs, counts = [m for m, r in zip(models, ranked) if r], new_index[pairs[keep]], counts[keep]
    fitter, n = Fitter(len(models), pairs), int(counts.sum())
    # one BLAS thread: the fits are small, and threads fighting over shared cores made them 10x slower
    with threadpool_limits(1):
        point = fitter.ratings(counts[None])[0]
        draws = rng.multinomial(n, counts.ravel() / n, size=n_bootstrap).reshape(n_bootstrap, *counts.shape)
        boot = fitter.ratings(draws) if n_bootstrap else np.empty((0, len(models)))
    low, high = np.percentile(boot, [2.5, 97.5], axis=0) if n_bootstrap else (point * np.nan, point * np.nan)
    per_model = Counter()
    for (i, j), row in zip(pairs, counts):
        per_model[i] += row.sum()
        per_model[j] += row.sum()
    order = sorted(range(len(models)), key=lambda k: (-point[k], models[k]))
    return {"battles": total, "unconnected": unconnected,
            "models": [{"model": models[k], "rating": round(float(point[k]), 1),
                        "ci95": [_round(low[k]), _round(high[k])], "battles": int(per_model[k])} for k in order],
            "pairs": [{"a": models[i], "b": models[j], "battles": int(row.sum()),
                       **{f"{o}_wins" if o in ("a", "b") else o: int(c) for o, c in zip(OUTCOMES, row)}}
                      for (i, j), row in zip(pairs, counts)]}


def _round(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 1)

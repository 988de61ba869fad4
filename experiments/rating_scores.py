"""Per-prompt rating scores of an arm's judge stage outside English, read two ways: the judge's constrained
verdict, and the expected score Σ p·s from its verdict probabilities (`judge_weighted`), with their paired
comparisons against a reference arm."""

from __future__ import annotations

from pathlib import Path

from eval.judge_weighted import expected
from eval.paired import PAIRED_HEAD, PairedDiff, paired_cells, paired_scores
from experiments.report import md_table, stage_items


def verdict_value(record: dict) -> float | None:
    """The constrained verdict's score (Likert keeps [score, …], single keeps the score)."""
    v = record["value"]
    return None if v is None else float(v[0] if isinstance(v, list | tuple) else v)


def expected_value(record: dict) -> float | None:
    """Σ p·s over the verdicts the judge's logprobs gave; None where they were not read."""
    dist = (record.get("weighted") or {}).get("dist")
    return expected(dist) if dist else None


def prompt_scores(run_dir: Path, stage: str, read=verdict_value) -> dict[tuple[str, str], float]:
    """(lang, id) -> the mean score over a prompt's turns outside English: the prompt is the paired unit."""
    by: dict[tuple[str, str], list[float]] = {}
    for r in stage_items(run_dir, stage):
        value = read(r)
        if value is not None and r["lang"] != "en":
            by.setdefault((r["lang"], str(r["id"])), []).append(value)
    return {k: sum(v) / len(v) for k, v in by.items()}


def compare(run_dir: Path, stage_of, arm: str, others: list[str], read=verdict_value,
            arm_first: bool = True) -> dict[str, PairedDiff]:
    """other -> the paired difference on shared prompts: `arm` − other (or other − `arm`)."""
    mine = prompt_scores(run_dir, stage_of(arm), read)
    out = {}
    for other in others:
        theirs = prompt_scores(run_dir, stage_of(other), read)
        out[other] = paired_scores(mine, theirs) if arm_first else paired_scores(theirs, mine)
    return out


def weighted_section(exp, run_dir: Path, stage_of, arm: str, others: list[str],
                     arm_first: bool = True) -> tuple[list[str], dict, str]:
    """The same comparison on expected scores from the verdict probabilities, shown beside the constrained one:
    (markdown, numbers, a sentence on whether it separates the arms); nothing where none were read."""
    tests = compare(run_dir, stage_of, arm, others, expected_value, arm_first)
    tests = {o: d for o, d in tests.items() if d.n}
    if not tests:
        return [], {}, ""
    label = exp.label
    head = ["arm", label(arm), "arm's expected score"] if arm_first else ["arm", "expected score", label(arm)]
    rows = [[label(o), f"{d.mean_a:.3f}", f"{d.mean_b:.3f}", *paired_cells(d)] for o, d in tests.items()]
    pairs = [(label(arm), label(o)) if arm_first else (label(o), label(arm)) for o in tests]
    holm = holm_adjusted([d.p for d in tests.values()])
    separated = [f"{a} vs {b} {d.diff:+.3f} (p = {d.p:.2g}" + (f", Holm-adjusted over {len(tests)} comparisons "
                                                             f"{h:.2g})" if len(tests) > 1 else ")")
                 for (a, b), d, h in zip(pairs, tests.values(), holm) if h < 0.05]
    near = [f"{a} vs {b} (p = {d.p:.2g}, Holm-adjusted {h:.2g})"
            for (a, b), d, h in zip(pairs, tests.values(), holm) if d.p < 0.05 <= h]
    sentence = ("The verdict probabilities' expected scores separate " + "; ".join(separated) + " at p < 0.05."
                if separated else "The verdict probabilities' expected scores separate no pair at p < 0.05 "
                "(largest |difference| " f"{max(abs(d.diff) for d in tests.values()):.3f}"
                + (f"; below 0.05 only before the correction for {len(tests)} comparisons: " + "; ".join(near)
                   if near else "") + ").")
    md = ["### Expected scores from the judge's verdict probabilities (Σ p·s, outside English, paired prompts; "
          "shown beside, not deciding)", "", md_table([*head, *PAIRED_HEAD], rows), "", sentence, ""]
    return md, {" vs ".join(p): d.numbers() | {"p_holm": round(h, 4)}
                for p, d, h in zip(pairs, tests.values(), holm)}, sentence


def holm_adjusted(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (statsmodels), so several arms compared at once do not overclaim."""
    from statsmodels.stats.multitest import multipletests

    return [float(p) for p in multipletests(pvalues, method="holm")[1]] if pvalues else []

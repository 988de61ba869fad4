"""`python -m eval leaderboard`: per-language leaderboards from pairwise battles, the blind human votes and/or
pairwise judge runs (`eval.battles`), each a Bradley–Terry fit with bootstrap 95% intervals (`eval.bradley_terry`),
and where both rate the same models in a language, the rank correlation between humans and the judge.

Human votes and judge verdicts are never pooled: each source gets its own table per language and over all of
them ("all", every battle of the source together). Several vote stores pool into "human", several judge runs
into "judge"."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from core.run_dir import atomic_file, write_json
from eval.battles import Battle, read_input
from eval.bradley_terry import BASE, PRIOR_VARIANCE, rate

ALL = "all"
SOURCES = {"human": "human votes", "judge": "judge verdicts"}
TIE_RULE = ("a tie counts as half a win to each side (one win row and one loss row of weight 0.5 each); a 'both "
            "bad' vote ([[D]] for a judge) is a tie; a judge's two orders of one question make one battle by "
            "FastChat's rule (they must agree, else it is a tie)")
UNCONNECTED = "Not ranked (no chain of battles to the ranked models, so no common scale)"
SCALE = (f"Elo-like, anchored per cell: rating = {BASE:.0f} + 400*log10(e)*(theta - mean theta), so the cell's "
         f"models average {BASE:.0f} and 400 points are 10:1 odds")
FIT = (f"Bradley-Terry by scikit-learn LogisticRegression (newton-cg, no intercept), L2 penalty C={PRIOR_VARIANCE} "
       f"(a N(0, {PRIOR_VARIANCE}) prior on each theta); 95% intervals: percentiles 2.5 and 97.5 of refits to the "
       f"cell's battles resampled with replacement")


def _cell_rng(seed: int, source: str, lang: str) -> np.random.Generator:
    # a generator per cell: one cell's intervals do not change when another input adds a language
    return np.random.default_rng([seed, zlib.crc32(f"{source}\0{lang}".encode())])


def leaderboards(battles: dict[str, list[Battle]], n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """source -> language (and "all") -> the cell's ratings, intervals and battle counts (`bradley_terry.rate`)."""
    out = {}
    for source, items in battles.items():
        langs = sorted({b.lang for b in items})
        cells = {lang: [b for b in items if b.lang == lang] for lang in langs} | {ALL: items}
        out[source] = {lang: rate(cell, n_bootstrap, _cell_rng(seed, source, lang)) for lang, cell in cells.items()}
    return out


def _nan_none(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 4)


def rank_correlation(boards: dict) -> dict:
    """Per language (and "all") both sources rate: Spearman's rho and Kendall's tau between the human and the
    judge ratings of the models both rate (3 or more, else null with the reason)."""
    from scipy.stats import kendalltau, spearmanr

    if not {"human", "judge"} <= set(boards):
        return {}
    out = {}
    for lang in [k for k in boards["human"] if k in boards["judge"]]:
        human = {m["model"]: m["rating"] for m in boards["human"][lang]["models"]}
        judge = {m["model"]: m["rating"] for m in boards["judge"][lang]["models"]}
        common = sorted(set(human) & set(judge))
        row = {"models": common, "n_models": len(common)}
        if len(common) < 3:
            out[lang] = row | {"spearman": None, "kendall": None, "note": "needs 3 or more models rated by both"}
            continue
        h, j = [human[m] for m in common], [judge[m] for m in common]
        rho, tau = spearmanr(h, j), kendalltau(h, j)
        out[lang] = row | {"spearman": _nan_none(rho.statistic), "spearman_p": _nan_none(rho.pvalue),
                           "kendall": _nan_none(tau.statistic), "kendall_p": _nan_none(tau.pvalue)}
    return out


def build_card(inputs: list[Path], n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Read every input (a vote store or a pairwise judge run) and make the leaderboard card."""
    if not inputs:
        raise ConfigError("Pass at least one vote store (.sqlite/.db) or pairwise judge run directory.")
    if n_bootstrap < 0:
        raise ConfigError(f"--bootstrap is a number of resamples, 0 or more (1000 is usual), not {n_bootstrap}.")
    battles: dict[str, list[Battle]] = {}
    described = []
    # the same store or run named twice (e.g. by a glob and by hand) must not count its battles twice
    for path in {Path(p).resolve(): Path(p) for p in inputs}.values():
        source, items, info = read_input(path)
        battles.setdefault(source, []).extend(items)
        described.append(info | {"source": source})
    return card_from_battles(battles, described, n_bootstrap, seed)


def card_from_battles(battles: dict[str, list[Battle]], inputs: list[dict], n_bootstrap: int = 1000,
                      seed: int = 0) -> dict:
    """The leaderboard card of battles already read (source -> battles), describing `inputs`."""
    boards = leaderboards(battles, n_bootstrap, seed)
    return {"kind": "leaderboard", "inputs": inputs, "seed": seed, "n_bootstrap": n_bootstrap, "ci": 0.95,
            "tie_rule": TIE_RULE, "scale": SCALE, "fit": FIT, "sources": boards,
            "correlation": rank_correlation(boards)}


def lang_name(code: str) -> str:
    """"de (German)" for a code the language table knows, "all languages" for the pooled cell."""
    from core.errors import UnknownLanguageError
    from core.languages import get_language

    if code == ALL:
        return "all languages"
    try:
        return f"{code} ({get_language(code).name})"
    except UnknownLanguageError:  # a code the language table does not know: shown as written
        return code


def _md(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(card: dict) -> str:
    """The card as Markdown: a table per source and language (rank, model, rating, 95% interval, battles), then
    the human-judge rank correlations."""
    lines = [f"# Leaderboard\n\nTies: {card['tie_rule']}.\n\nScale: {card['scale']}.\n\nFit: {card['fit']}; "
             f"{card['n_bootstrap']} bootstrap samples, seed {card['seed']}."]
    for source, cells in card["sources"].items():
        for lang, cell in cells.items():
            lines.append(f"\n## {SOURCES.get(source, source)}: {lang_name(lang)}, {cell['battles']} battles\n\n"
                         f"| rank | model | rating | 95% CI | battles |\n|---:|---|---:|---|---:|")
            for k, m in enumerate(cell["models"], 1):
                ci = "-" if m["ci95"][0] is None else f"[{m['ci95'][0]:.1f}, {m['ci95'][1]:.1f}]"
                lines.append(f"| {k} | {_md(m['model'])} | {m['rating']:.1f} | {ci} | {m['battles']} |")
            if cell.get("unconnected"):
                lines.append(f"\n{UNCONNECTED}: " + "; ".join(
                    f"{_md(u['model'])} (battles: {u['battles']}, vs {', '.join(map(_md, u['played']))})"
                    for u in cell["unconnected"]))
    if card["correlation"]:
        lines.append("\n## Human vs judge rank correlation\n\n| language | models | Spearman | Kendall |\n"
                     "|---|---:|---:|---:|")
        for lang, r in card["correlation"].items():
            lines.append(f"| {lang_name(lang)} | {r['n_models']} | {_fmt(r['spearman'])} | {_fmt(r['kendall'])} |")
    return "\n".join(lines) + "\n"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def run_leaderboard(inputs: list[Path], out: Path, n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Write card.json, leaderboard.md and leaderboard.png into `out`, each atomically; returns the card."""
    from core.versions import versions
    from eval.leaderboard_plot import plot_png

    card = build_card(inputs, n_bootstrap, seed) | {
        "versions": versions(("numpy", "scipy", "scikit-learn", "matplotlib"))}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "leaderboard.png") as tmp:
        tmp.write_bytes(plot_png(card))
    with atomic_file(out / "leaderboard.md") as tmp:
        tmp.write_text(markdown(card), encoding="utf-8")
    write_json(out / "card.json", card)  # last: a card means the rest is there
    return card

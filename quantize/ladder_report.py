"""What a ladder card says to a person: the recommendation under per-language floors (and which language binds
it), English-only against multilingual importance-matrix calibration per language, a terminal table and the
language x type heatmap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from core.languages import get_language


@dataclass(frozen=True)
class Floors:
    """What "still good enough" means, in every listed language."""

    max_kl: float = 0.05
    min_top1: float = 0.90
    max_ppl_change_pct: float | None = None
    max_bench_drop: float = 1.0  # accuracy points below f16 on any --bench task in that language

    def failures(self, cell: dict, bench: dict[str, dict] | None = None) -> list[str]:
        """The floors one (type, language) cell misses, as readable phrases; `bench`: that language's
        benchmark rows ("task/lang" -> row) of the same type."""
        out = [f"{group.split('/')[0]} {row['change_points']:+.1f} points < -{self.max_bench_drop}"
               for group, row in (bench or {}).items() if row["change_points"] < -self.max_bench_drop]
        if cell["kl"] > self.max_kl:
            out.append(f"KL {cell['kl']:.4f} > {self.max_kl}")
        if cell["top1"] < self.min_top1:
            out.append(f"top-1 {cell['top1']:.3f} < {self.min_top1}")
        if self.max_ppl_change_pct is not None and cell["ppl_change_pct"] > self.max_ppl_change_pct:
            out.append(f"perplexity +{cell['ppl_change_pct']:.1f}% > {self.max_ppl_change_pct}%")
        return out


def _by_size(card: dict) -> list[str]:
    return sorted(card["cells"], key=lambda name: card["files"][name]["bytes"])


def recommend(card: dict, floors: Floors) -> dict:
    """The smallest file meeting `floors` in every language, and the languages that rule out the next smaller
    one (the binding language is the one furthest below a floor there)."""
    langs = card["langs"]
    bench = card.get("bench", {})

    def bench_of(name: str, lang: str) -> dict:
        return {g: row for g, row in bench.get(name, {}).items() if g.endswith(f"/{lang}")}

    misses = {name: {lang: floors.failures(card["cells"][name][lang], bench_of(name, lang)) for lang in langs}
              for name in _by_size(card)}
    misses = {name: {lang: f for lang, f in per.items() if f} for name, per in misses.items()}
    ordered = _by_size(card)
    chosen = next(name for name in ordered if not misses[name])  # the reference always passes
    smaller = ordered[: ordered.index(chosen)]
    out = {"floors": vars(floors), "type": chosen, "bytes": card["files"][chosen]["bytes"], "bench": bool(bench),
           "binding_language": None, "next_smaller": None, "fails_there": {}}
    if smaller:
        below = smaller[-1]
        fails = misses[below]
        cells = card["cells"][below]
        binding = max(fails, key=lambda lang: max(cells[lang]["kl"] / floors.max_kl,
                                                  (1 - cells[lang]["top1"]) / max(1 - floors.min_top1, 1e-9)))
        out |= {"next_smaller": below, "fails_there": fails, "binding_language": binding}
    return out


def recommendation_text(rec: dict) -> str:
    """One paragraph: the type, its size, and why nothing smaller."""
    f = rec["floors"]
    floors = f"KL <= {f['max_kl']}, top-1 >= {f['min_top1']}" + (
        f", perplexity +{f['max_ppl_change_pct']}% at most" if f.get("max_ppl_change_pct") is not None else "") + (
        f", benchmark drop <= {f['max_bench_drop']} points" if rec.get("bench") else "")
    text = f"Recommended: {rec['type']} ({rec['bytes'] / 1e6:.1f} MB) meets {floors} in every language."
    if rec["binding_language"]:
        lang = rec["binding_language"]
        text += (f" {rec['next_smaller']} is ruled out by {len(rec['fails_there'])} language(s); the binding one is "
                 f"{get_language(lang).name} ({lang}: {'; '.join(rec['fails_there'][lang])}).")
    else:
        text += " It is the smallest file of the ladder."
    return text


def calibration_comparison(card: dict) -> list[dict]:
    """For each type built with both English (@en) and multilingual (@langs) importance matrices: per language,
    the mean KL of each and the paired difference (langs - en) over the same sentences with its 95% interval."""
    rows = []
    for name in card["cells"]:
        qtype, _, calib = name.partition("@")
        other = f"{qtype}@en"
        if calib != "langs" or other not in card["cells"]:
            continue
        for lang in card["langs"]:
            multi, english = card["cells"][name][lang], card["cells"][other][lang]
            a = np.array(multi["per_sentence"]["kl"])
            b = np.array(english["per_sentence"]["kl"])
            lo, hi = stats.ttest_rel(a, b).confidence_interval() if len(a) > 1 and np.any(a != b) else (0.0, 0.0)
            rows.append({"type": qtype, "lang": lang, "kl_en": english["kl"], "kl_langs": multi["kl"],
                         "diff": round(float(np.mean(a - b)), 6),
                         "diff_ci95": [round(float(lo), 6), round(float(hi), 6)],
                         "change_pct": round(100 * (multi["kl"] / english["kl"] - 1), 1) if english["kl"] else None,
                         "top1_en": english["top1"], "top1_langs": multi["top1"]})
    return rows


def ladder_table(card: dict) -> str:
    """One row per file, largest first: size, decode speed, fallback, mean KL and the worst language."""
    head = f"{'type':16} {'MB':>7} {'tok/s':>6} {'mean KL':>8} {'min top1':>8}  worst language (KL, top-1)  fallback"
    lines = [head]
    for name in reversed(_by_size(card)):
        f = card["files"][name]
        worst = f.get("worst_language") or {}
        fb = f.get("fallback")
        fell = f"{fb['tensors']}/{fb['of']} tensors -> {', '.join(fb['types'])}" if fb and fb["tensors"] else ""
        speed = f"{f['tokens_per_s']:6.1f}" if f.get("tokens_per_s") else f"{'-':>6}"
        lines.append(f"{name:16} {f['bytes'] / 1e6:7.1f} {speed} {f.get('mean_kl', 0):8.4f} {f.get('min_top1', 1):8.3f}"
                     f"  {worst.get('lang', '-'):4} ({worst.get('kl', 0):.4f}, {worst.get('top1', 1):.3f})  {fell}")
    return "\n".join(lines)


def language_table(card: dict, metric: str = "kl") -> str:
    """Language x type matrix of one metric (kl, top1, ppl_change_pct, greedy_match)."""
    names = list(reversed(_by_size(card)))
    lines = [f"{metric:6}" + "".join(f"{n:>15}" for n in names)]
    for lang in card["langs"]:
        cells = [card["cells"][n][lang].get(metric) for n in names]
        lines.append(f"{lang:6}" + "".join(f"{'-':>15}" if v is None else f"{v:15.4f}" for v in cells))
    return "\n".join(lines)


def heatmap(card: dict, path: Path) -> Path:
    """Language x type heatmaps of KL (log colour scale) and top-1 agreement, annotated, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    names = [n for n in reversed(_by_size(card)) if n != card["reference"]]
    langs = sorted(card["langs"], key=lambda lang: (get_language(lang).script, lang))
    kl = np.array([[card["cells"][n][lang]["kl"] for n in names] for lang in langs])
    top1 = np.array([[card["cells"][n][lang]["top1"] for n in names] for lang in langs])
    width = 2.2 + 0.75 * len(names)
    fig, axes = plt.subplots(1, 2, figsize=(2 * width, 1.2 + 0.42 * len(langs)), constrained_layout=True)
    panels = [(kl, "KL(f16 || type), mean over sentences", "magma_r", LogNorm(max(kl.min(), 1e-4), kl.max()), "{:.3f}"),
              (top1, "top-1 agreement with f16", "viridis", None, "{:.2f}")]
    for ax, (values, title, cmap, norm, fmt) in zip(axes, panels):
        image = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto")
        ax.set_xticks(range(len(names)), [f"{n}\n{card['files'][n]['bytes'] / 1e6:.0f} MB" for n in names],
                      fontsize=7)
        ax.set_yticks(range(len(langs)), [f"{lang} ({get_language(lang).script})" for lang in langs], fontsize=8)
        ax.set_title(title, fontsize=9)
        middle = np.sqrt(values.min() * values.max()) if norm else (values.min() + values.max()) / 2
        for (i, j), v in np.ndenumerate(values):
            dark = (v > middle) == (cmap == "magma_r")
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=6, color="white" if dark else "black")
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(f"{card['model']}: damage by language and type ({card['sentences']} FLORES-200 devtest sentences "
                 f"per language)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def calibration_table(rows: list[dict]) -> str:
    """English-only against multilingual importance matrices, per type and language (negative: @langs is closer)."""
    lines = ["importance matrix: English FLORES dev (@en) vs the ladder's languages (@langs), KL from f16",
             f"{'type':9} {'lang':5} {'@en':>8} {'@langs':>8} {'langs - en [95% CI]':>30} {'change':>7}"]
    for r in rows:
        lo, hi = r["diff_ci95"]
        change = f"{r['change_pct']:+.1f}%" if r["change_pct"] is not None else "-"
        lines.append(f"{r['type']:9} {r['lang']:5} {r['kl_en']:8.4f} {r['kl_langs']:8.4f} "
                     f"{r['diff']:+10.4f} [{lo:+.4f}, {hi:+.4f}] {change:>7}")
    return "\n".join(lines)


def bench_table(bench: dict) -> str:
    """Benchmark accuracy per file and task/language, with the paired change from f16 and its interval."""
    lines = [f"{'type':16} {'task/lang':14} {'n':>5} {'acc':>6} {'f16':>6} {'change, points [95% CI]':>28}"]
    for name, groups in bench.items():
        for group, r in groups.items():
            lo, hi = r["change_ci95_points"]
            lines.append(f"{name:16} {group:14} {r['n']:5d} {r['acc']:6.3f} {r['acc_ref']:6.3f} "
                         f"{r['change_points']:+8.2f} [{lo:+6.2f}, {hi:+6.2f}]")
    return "\n".join(lines)


def prompts_table(rows: dict) -> str:
    """Prompt-set answers per file and language: agreement (healthy only), line pass rate, echo/loop shares."""
    def cell(v):
        return f"{v:.2f}" if v is not None else "-"

    lines = [f"{'type':16} {'lang':5} {'n':>4} {'agree':>6} {'healthy':>7} {'LPR':>5} {'echo':>5} {'loop':>5}"]
    for name, per in rows.items():
        for lang, r in per.items():
            lines.append(f"{name:16} {lang:5} {r['n']:4d} {cell(r['agreement']):>6} {cell(r['healthy_agreement']):>7} "
                         f"{cell(r['lpr']):>5} {cell(r.get('echo')):>5} {cell(r.get('loop')):>5}")
    return "\n".join(lines)

"""The quantization ladder of both packaged models (through `hf:`) on 12 FLORES-200 languages in 8 scripts: KL,
top-1, perplexity change and greedy match against f16 per type and language, English-only against multilingual
importance matrices, and `--recommend`'s answer at the default floors and at stricter ones. Writes the run card
`bench/results/quant_ladder.json`, the heatmaps `docs/quant_ladder_<model>.png` and the README's table.

    python bench/quant_ladder.py --runs-dir runs/ladder     # resumes each model's ladder where it stopped
    python bench/quant_ladder.py --readme                   # only regenerate the README section from the card

Not a speed race: tokens/s per type is the median of 3 greedy decodes of 64 tokens on this machine's CPU."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import ROOT, card_bench_args, measure_and_publish  # noqa: E402

TYPES = "f16,q8_0,q6_k,q5_k_m,q4_k_m,q3_k_m,q2_k,q3_k_m@en,q3_k_m@langs,iq3_xxs@langs"
LANGS = "en,de,es,sw,ru,bg,ar,hi,zh,ja,ko,el"
FLOORS = [(0.05, 0.90), (0.02, 0.95), (0.15, 0.75)]  # the defaults first, then a stricter and a looser one


def run(models: list[str], runs_dir: Path, data_dir: Path, sentences: int) -> dict:
    """Each model's ladder (resumed), its recommendation at every floor, the heatmap copied into docs/."""
    from quantize.jobs import LadderJob
    from quantize.ladder import run_ladder_job
    from quantize.ladder_report import Floors, recommend

    out = {"types": TYPES.split(","), "langs": LANGS.split(","), "sentences": sentences, "models": {}}
    for model in models:
        name = model.removeprefix("hf:")
        job = LadderJob(model=model, out=runs_dir / name, types=TYPES.split(","), langs=LANGS.split(","),
                        data_dir=data_dir, sentences=sentences, recommend=True)
        started = time.perf_counter()
        print(run_ladder_job(job), flush=True)
        card = json.loads((job.out / "card.json").read_text())
        docs_png = ROOT / "docs" / f"quant_ladder_{name}.png"
        shutil.copy(job.out / "heatmap.png", docs_png)
        out["models"][name] = {
            "wall_seconds": card["seconds"], "this_run_seconds": round(time.perf_counter() - started, 1),
            "files": {n: {k: f.get(k) for k in ("bytes", "tokens_per_s", "tokens_per_s_spread", "mean_kl",
                                                 "min_top1", "worst_language", "fallback", "imatrix", "writer")}
                      for n, f in card["files"].items()},
            "cells": {n: {lang: {k: c[k] for k in ("kl", "kl_ci95", "kl_p99", "top1", "top1_ci95", "ppl_change_pct",
                                                  "greedy_match")} for lang, c in per.items()}
                      for n, per in card["cells"].items()},
            "imatrix": card.get("imatrix", {}), "calibration": card.get("calibration", []),
            "recommendations": [recommend(card, Floors(kl, top1)) for kl, top1 in FLOORS],
            "heatmap": str(docs_png.relative_to(ROOT))}
    return out


def table(card: dict) -> str:
    """The README section: per model, the ladder table, the recommendations and the calibration finding."""
    from quantize.ladder_report import recommendation_text

    lines = []
    for name, m in card["models"].items():
        files = sorted(m["files"].items(), key=lambda kv: -kv[1]["bytes"])
        langs = card["langs"]
        lines += [f"**{name}**: {len(langs)} languages x {len(files)} files, {card['sentences']} FLORES-200 devtest "
                  f"sentences each, {m['wall_seconds'] / 60:.0f} min wall-clock on "
                  f"{card['machine']['cpus']} CPU cores ({card['date']}).", "",
                  f"![{name} ladder]({m['heatmap']})", "",
                  "| type | MB | tok/s | mean KL | worst language (KL) | min top-1 | tensors in a 32-block fallback |",
                  "|---|---|---|---|---|---|---|"]
        for n, f in files:
            fb = f["fallback"]
            fell = f"{fb['tensors']} of {fb['of']}" if fb else "-"
            worst = f["worst_language"]
            lines.append(f"| {n} | {f['bytes'] / 1e6:.1f} | {f['tokens_per_s']} | {f['mean_kl']:.4f} | "
                         f"{worst['lang']} ({worst['kl']:.4f}) | {f['min_top1']:.3f} | {fell} |")
        lines.append("")
        for rec in m["recommendations"]:
            lines.append(f"- {recommendation_text(rec)}")
        lines.append("")
        pairs = {}
        for r in m["calibration"]:
            pairs.setdefault(r["type"], []).append(r)
        for qtype, rows in pairs.items():
            non_en = [r for r in rows if r["lang"] != "en"]
            better = [r["lang"] for r in non_en if r["diff_ci95"][1] < 0]
            worse = [r["lang"] for r in non_en if r["diff_ci95"][0] > 0]
            mean = sum(r["change_pct"] for r in non_en) / len(non_en)
            en = next(r for r in rows if r["lang"] == "en")
            lines.append(f"- {qtype}, multilingual (@langs) vs English-only (@en) importance matrix: mean KL change "
                         f"over the {len(non_en)} non-English languages {mean:+.1f}%; lower with 95% confidence in "
                         f"{len(better)} ({', '.join(better) or 'none'}), higher in {len(worse)} "
                         f"({', '.join(worse) or 'none'}); English {en['change_pct']:+.1f}%.")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = card_bench_args(__doc__, "runs/ladder")
    ap.add_argument("--sentences", type=int, default=10)
    args = ap.parse_args()
    measure_and_publish(args, "quant_ladder", "quant-ladder",
                        lambda: run(args.models.split(","), args.runs_dir, args.data_dir, args.sentences), table)


if __name__ == "__main__":
    main()

"""A synthetic quantization-ladder run (card.json as `python -m quantize ladder` writes it, and its heatmap.png drawn
by `ladder_report.heatmap`) for the app's tests: four files, Hindi the language that rules out q4_k_m."""

from __future__ import annotations

import json
from pathlib import Path

SIZES = {"f16": 270_900_000, "q8_0": 144_800_000, "q4_k_m": 105_500_000, "q2_k@langs": 88_200_000}
SPEEDS = {"f16": 9.5, "q8_0": 56.1, "q4_k_m": 36.3, "q2_k@langs": 41.0}
# (KL, top-1) per type and language: q8_0 passes the default floors everywhere, q4_k_m misses them in Hindi only
DAMAGE = {"f16": {"en": (0.0, 1.0), "de": (0.0, 1.0), "hi": (0.0, 1.0)},
          "q8_0": {"en": (0.004, 0.97), "de": (0.006, 0.96), "hi": (0.011, 0.94)},
          "q4_k_m": {"en": (0.02, 0.95), "de": (0.03, 0.93), "hi": (0.09, 0.82)},
          "q2_k@langs": {"en": (0.21, 0.70), "de": (0.26, 0.68), "hi": (0.40, 0.55)}}


def _cell(kl: float, top1: float) -> dict:
    return {"sentences": 4, "tokens": 160, "kl": kl, "kl_ci95": [kl * 0.8, kl * 1.2], "kl_p99": kl * 3,
            "top1": top1, "top1_ci95": [top1 - 0.02, min(top1 + 0.02, 1.0)], "ppl_change_pct": round(kl * 100, 1),
            "greedy_match": top1, "per_sentence": {"kl": [kl] * 4, "top1": [top1] * 4}}


def ladder_card(model: str = "hf:smollm2-135m", langs: tuple[str, ...] = ("en", "de", "hi")) -> dict:
    """A finished ladder's card over `langs` (a subset of en, de, hi), without a recommendation."""
    cells = {name: {lang: _cell(*DAMAGE[name][lang]) for lang in langs} for name in SIZES}
    files = {}
    for name, size in SIZES.items():
        row = cells[name]
        worst = max(row, key=lambda lang: row[lang]["kl"])
        files[name] = {"path": f"model-{name}.gguf", "type": name.split("@")[0], "bytes": size,
                       "imatrix": "langs" if "@" in name else None, "tokens_per_s": SPEEDS[name],
                       "fallback": {"tensors": 30, "of": 211, "types": {"q4_0": 30}} if name == "q2_k@langs" else None,
                       "mean_kl": round(sum(c["kl"] for c in row.values()) / len(row), 6),
                       "min_top1": min(c["top1"] for c in row.values()),
                       "worst_language": {"lang": worst, "kl": row[worst]["kl"], "top1": row[worst]["top1"]}}
    return {"kind": "quant_ladder", "model": model, "sentences": 4, "new_tokens": 16, "greedy_prompts": 4,
            "max_tokens": 128, "reference": "f16", "status": "done", "langs": list(langs), "variants": list(SIZES),
            "files": files, "imatrix": {}, "cells": cells, "seconds": 123.4, "calibration": []}


def write_ladder(run_dir: Path, card: dict, draw: bool = True) -> Path:
    """`card` as run_dir/card.json, with its heatmap.png (ladder_report.heatmap) when `draw`."""
    from quantize.ladder_report import heatmap

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "card.json").write_text(json.dumps(card, indent=1))
    if draw:
        heatmap(card, run_dir / "heatmap.png")
    return run_dir

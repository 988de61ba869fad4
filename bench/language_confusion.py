"""The Language Confusion Benchmark (LCB): our scorer checked against the benchmark's own numbers for Command R,
and the packaged models' line/word pass rates on both settings, written as a run card
(`bench/results/language_confusion.json`) and as the README's two tables (regenerated from it).

    python bench/language_confusion.py --limit 6          # Command R check + both models, 6 prompts per language
    python bench/language_confusion.py --readme           # only regenerate the README tables from the card

Command R: `../shared/data/language_confusion_lcb/outputs/command-r.csv` (the benchmark's own completions) scored
by `python -m eval confusion`, against the overall averages that the benchmark's compute_metrics.py (for-ai/
language-confusion @0cfdbb4) gives with the lid.176.ftz we ship, and every (source, language) cell of that run
(tests/fixtures/lcb_command_r_upstream.json). Models: `eval generate` (greedy, 100 new tokens as the benchmark's
completions) on lcb_monolingual and lcb_crosslingual, then the same scorer on each run; runs resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import card_bench_args, measure_and_publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_CELLS = ROOT / "tests" / "fixtures" / "lcb_command_r_upstream.json"
# compute_metrics.py's overall averages for outputs/command-r.csv with lid.176.ftz (percent).
UPSTREAM = {"monolingual": {"lpr": 97.97, "wpr": 96.17, "acc": 99.26},
            "crosslingual": {"lpr": 67.69, "wpr": 93.97, "acc": 75.53}}
SETS = {"monolingual": "lcb_monolingual", "crosslingual": "lcb_crosslingual"}
TOLERANCE_OVERALL, TOLERANCE_CELL = 0.3, 1.0  # points


def command_r(data_dir: Path, out: Path) -> dict:
    """Our scores of Command R's completions, the largest gap to upstream overall and per cell, in points."""
    from eval.confusion import run_confusion

    card = run_confusion(data_dir / "language_confusion_lcb/outputs/command-r.csv", out, data_dir)
    cells = json.loads(UPSTREAM_CELLS.read_text())
    ours, worst_cell = {}, 0.0
    for r in card["scores"]:
        ref = cells[r["task"]][f"{r['source']}/{r['language']}"]
        gaps = [abs(100 * (r[k] - ref[k])) for k in ("lpr", "wpr", "acc") if k in ref]
        if r["source"] == r["language"] == "all":
            ours[r["task"]] = {k: round(100 * r[k], 2) for k in ("lpr", "wpr", "acc", "lcpr")}
        else:
            worst_cell = max(worst_cell, *gaps)
    worst_overall = max(abs(ours[t][k] - UPSTREAM[t][k]) for t in UPSTREAM for k in UPSTREAM[t])
    return {"ours": ours, "upstream": UPSTREAM, "max_gap_overall": round(worst_overall, 3),
            "max_gap_cell": round(worst_cell, 3), "cells": sum(r["source"] != "all" and r["language"] != "all"
                                                               for r in card["scores"]),
            "passed": worst_overall <= TOLERANCE_OVERALL and worst_cell <= TOLERANCE_CELL}


def packaged(models: list[str], runs_dir: Path, data_dir: Path, limit: int) -> dict:
    """Each model's overall LCB scores, agreement and health shares per setting, from resumable generate runs."""
    from eval.confusion import run_confusion
    from eval.generate import run_generate

    out = {}
    for model in models:
        for setting, prompt_set in SETS.items():
            run = runs_dir / model.replace(":", "-") / f"{prompt_set}-limit-{limit}"
            gen = run_generate(model, prompt_set, run, limit=limit, data_dir=data_dir, max_tokens=100)
            scores = run_confusion(run, run / "confusion", data_dir)["scores"]
            overall = next(r for r in scores if r["source"] == r["language"] == "all")
            rows = list(gen["agreement"].values())
            n = sum(r["n"] for r in rows)
            out.setdefault(model, {})[setting] = {
                "n": n, "langs": len(rows), **{k: overall[k] for k in ("lpr", "wpr", "acc", "lcpr")},
                "agreement": round(sum((r["agreement"] or 0) * r["n"] for r in rows) / n, 4),
                "healthy": sum(r["healthy"]["n"] for r in rows),
                "agreement_healthy": _pooled([r["healthy"] for r in rows]),
                "flags": {f: round(sum(r["flags"][f] * r["n"] for r in rows) / n, 4)
                          for f in ("echo", "loop", "empty", "truncated")},
                "engine": gen["engine"]}
    return out


def _pooled(rates: list[dict]) -> float | None:
    """Agreement pooled over languages (weighted by n); None when no answer counts."""
    n = sum(r["n"] for r in rates if r["agreement"] is not None)
    return round(sum(r["agreement"] * r["n"] for r in rates if r["agreement"] is not None) / n, 4) if n else None


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def tables(card: dict) -> str:
    """Markdown: the Command R check, then the packaged models."""
    c = card["command_r"]
    lines = ["| Command R | LPR | WPR | acc | LCPR |", "|---|---|---|---|---|"]
    for setting in UPSTREAM:
        o, u = c["ours"][setting], c["upstream"][setting]
        lines.append(f"| {setting}, ours | {o['lpr']:.2f} | {o['wpr']:.2f} | {o['acc']:.2f} | {o['lcpr']:.2f} |")
        lines.append(f"| {setting}, compute_metrics.py | {u['lpr']:.2f} | {u['wpr']:.2f} | {u['acc']:.2f} | - |")
    lines.append(f"\nLargest gap to the benchmark's script: {c['max_gap_overall']} points overall, "
                 f"{c['max_gap_cell']} points over {c['cells']} (source, language) cells "
                 f"({'within' if c['passed'] else 'OUTSIDE'} the 0.3 / 1.0 point bar).\n")
    lines += ["| model | setting | n | LPR | WPR | LCPR | line acc | agreement | healthy answers | agreement, healthy "
              "| echo | loop | truncated |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, settings in card["models"].items():
        for setting, r in settings.items():
            f = r["flags"]
            lines.append(f"| {model} | {setting} | {r['n']} | {_pct(r['lpr'])} | {_pct(r['wpr'])} | "
                         f"{_pct(r['lcpr'])} | {_pct(r['acc'])} | {_pct(r['agreement'])} | {r['healthy']} | "
                         f"{_pct(r.get('agreement_healthy'))} | "
                         f"{_pct(f['echo'])} | {_pct(f['loop'])} | {_pct(f['truncated'])} |")
    lines.append(f"\nThe first {card['limit']} prompts per language (sources in turn), greedy, 100 new tokens; LPR/WPR/"
                 "acc as the benchmark averages them (percent); WPR counts only answers without a line error in ar, "
                 "hi, ja, ko, ru, zh, few here. Agreement: answers' own text in the prompt's language, over all "
                 "answers and over healthy ones (no echo, loop or empty); flags as shares of all answers.")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = card_bench_args(__doc__, "runs/lcb", models="smollm2-135m,gemma3-270m")
    ap.add_argument("--limit", type=int, default=6, help="prompts per language and setting")
    args = ap.parse_args()

    def build() -> dict:
        return {"command_r": command_r(args.data_dir, args.runs_dir / "command-r"), "limit": args.limit,
                "models": packaged(args.models.split(","), args.runs_dir, args.data_dir, args.limit)}

    measure_and_publish(args, "language_confusion", "language-confusion", build, tables)


if __name__ == "__main__":
    main()

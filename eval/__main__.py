"""`python -m eval`: benchmarks per language, and reports across runs.

    python -m eval bench --model hf:smollm2-135m --tasks xcopa,xwinograd --langs et,ht,zh --limit 100 \\
        --data-dir ../shared/data --out runs/eval/smollm2
    python -m eval report runs/eval/smollm2 runs/eval/gemma --plots runs/eval/plots
    python -m eval tasks
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="score a model on log-likelihood benchmarks (resumes a stopped run)")
    b.add_argument("--model", required=True, help="an engine spec: hf:..., gguf:..., openai:..., or a packaged name")
    b.add_argument("--tasks", required=True, help="comma-separated task names (python -m eval tasks lists them)")
    b.add_argument("--langs", default=None, help="comma-separated languages (default: each task's own)")
    b.add_argument("--limit", type=int, default=None, help="the first N items per task and language")
    b.add_argument("--data-dir", type=Path, default=None, help="local copies of the datasets (else the hub)")
    b.add_argument("--batch-items", type=int, default=16, help="items scored per engine call")
    b.add_argument("--out", required=True, type=Path)
    r = sub.add_parser("report", help="a task/language x model table, and plots, from finished runs")
    r.add_argument("runs", nargs="+", type=Path)
    r.add_argument("--plots", type=Path, default=None, help="write PNG plots into this directory")
    sub.add_parser("tasks", help="list the tasks, their languages and datasets")
    return p


def _run(args: argparse.Namespace) -> None:
    if args.command == "tasks":
        from eval.tasks import TASKS

        for t in TASKS.values():
            local = " (local copy under --data-dir)" if t.local else ""
            print(f"{t.name:12} {t.hub}[{t.split}]{local}\n{'':12} {', '.join(t.langs)}")
    elif args.command == "report":
        from eval.report import load_runs, plots, table

        cards = load_runs(args.runs)
        print(table(cards))
        if args.plots:
            for path in plots(cards, args.plots):
                print(f"wrote {path}")
    else:
        from eval.bench import run_bench
        from eval.report import table

        split = lambda s: [x.strip() for x in s.split(",") if x.strip()] if s else None  # noqa: E731
        card = run_bench(args.model, split(args.tasks), args.out, langs=split(args.langs), limit=args.limit,
                         data_dir=args.data_dir, batch_items=args.batch_items,
                         log=lambda m: print(m, file=sys.stderr))
        print(table([card | {"_dir": str(args.out)}]))
        if card["items_per_s"]:
            print(f"\n{card['scored_this_run']} items scored at {card['items_per_s']} items/s; card in {args.out}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    args = _parser().parse_args(argv)
    return run_command(lambda: _run(args), "stopped; run the same command again to resume where it stopped.")


if __name__ == "__main__":
    sys.exit(main())

"""`python -m experiments`: reproduce a seed paper's central experiment in miniature (cpu) or at scale (gpu).

    python -m experiments list
    python -m experiments run multi-i --scale cpu --data-dir ../shared/data        # -> runs/experiments/multi-i-cpu
    python -m experiments run multi-i --scale cpu --until train                    # stop after the training stages
    python -m experiments collect runs/experiments/*-cpu --out docs/results.md     # the measured tables in one page

A rerun skips the stages whose inputs are unchanged and resumes the one that was interrupted."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the experiments, their seeds and scales")
    r = sub.add_parser("run", help="run (or resume) an experiment; writes report.md and plots")
    r.add_argument("name", help="an experiment in configs/experiments/ (or a YAML path)")
    r.add_argument("--scale", default="cpu", help="cpu (packaged models, minutes on a laptop) or gpu (hub models)")
    r.add_argument("--out", type=Path, default=None, help="run directory (default runs/experiments/NAME-SCALE)")
    r.add_argument("--data-dir", type=Path, default=Path("."), help="local copies of the datasets")
    r.add_argument("--until", default=None, help="stop after the stages starting with this (data, train, export, "
                                                 "generate, bench, judge)")
    c = sub.add_parser("collect", help="gather finished runs' reports into one results page (docs/results.md)")
    c.add_argument("runs", nargs="+", type=Path, help="experiment run directories")
    c.add_argument("--out", type=Path, default=Path("docs/results.md"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def run() -> None:
        from core.config import load_config
        from experiments.config import Experiment, experiment_path, list_experiments

        if args.command == "list":
            for name in list_experiments():
                exp = load_config(Experiment, experiment_path(name))
                print(f"{name:16} {', '.join(exp.scales):10} {exp.seed}")
            return
        if args.command == "collect":
            from experiments.report import collect

            print(collect(args.runs, args.out))
            return
        from experiments.pipeline import run_experiment

        out = args.out or Path("runs/experiments") / f"{Path(args.name).stem}-{args.scale}"
        card = run_experiment(args.name, args.scale, out, args.data_dir, until=args.until)
        if "report" in card:
            print(f"{out / 'report.md'}: reproduced: {card['report']['reproduced']}. {card['report']['verdict']}")

    return run_command(run, interrupted="stopped; run the same command again to resume")


if __name__ == "__main__":
    sys.exit(main())

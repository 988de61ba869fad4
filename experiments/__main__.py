"""`python -m experiments`: reproduce a seed paper's central experiment in miniature (cpu) or at scale (gpu).

    python -m experiments list
    python -m experiments run multi-i --scale cpu --data-dir ../shared/data        # -> runs/experiments/multi-i-cpu
    python -m experiments run multi-i --scale cpu --until train                    # stop after the training stages
    python -m experiments collect runs/experiments/*-cpu --out docs/results.md     # the measured tables in one page
    python -m experiments diff runs/experiments/multi-i-cpu RUN2                   # two runs of one command: equal?
    python -m experiments collect runs/experiments/*-cpu --readme README.md        # ... and the README's table

A rerun skips the stages whose inputs are unchanged and resumes the one that was interrupted; a stage whose
folder was deleted runs again."""

from __future__ import annotations

import sys

from core.cli import Commands, run_cli
from experiments.jobs import CollectJob, DiffJob, ListJob, RunJob


def list_(job: ListJob) -> None:
    from core.config import load_config
    from experiments.config import Experiment, experiment_path, list_experiments

    for name in list_experiments():
        exp = load_config(Experiment, experiment_path(name))
        print(f"{name:16} {', '.join(exp.scales):10} {exp.seed}")


def collect(job: CollectJob) -> None:
    from core.errors import ConfigError
    from experiments.readme import MARKER, write_readme
    from experiments.report import collect

    print(collect(job.runs, job.out))
    if job.readme:
        if not write_readme(job.runs, job.readme, job.out.with_suffix(".json")):
            raise ConfigError(f"{job.readme} has no <!-- {MARKER}:begin --> / <!-- {MARKER}:end --> markers; add them "
                              "where the table of measured experiments belongs.")
        print(job.readme)


def diff(job: DiffJob) -> int:
    from core.errors import ConfigError
    from core.run_diff import diff_runs

    for path in (job.a, job.b):
        if not path.is_dir():
            raise ConfigError(f"{path} is not a run directory; pass two directories written by the same command.")
    found = diff_runs(job.a, job.b)
    print("\n".join(found) if found else f"{job.a} and {job.b} agree: every answer, score and table is the same "
                                          f"(timings left out).")
    return 1 if found else 0


def run(job: RunJob) -> None:
    from experiments.pipeline import run_experiment

    out = job.run_dir
    card = run_experiment(job.name, job.scale, out, job.data_dir, until=job.until)
    if "report" in card:
        print(f"{out / 'report.md'}: reproduced: {card['report']['reproduced']}. {card['report']['verdict']}")


COMMANDS: Commands = {"list": (ListJob, list_), "run": (RunJob, run), "collect": (CollectJob, collect),
                      "diff": (DiffJob, diff)}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    return run_cli("python -m experiments", __doc__, COMMANDS, argv, "stopped; run the same command again to resume")


if __name__ == "__main__":
    sys.exit(main())

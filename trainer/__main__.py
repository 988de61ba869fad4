"""`python -m trainer`: build training mixes, fine-tune LoRA/QLoRA adapters, merge them.

    python -m trainer data configs/recipes/multi-3.yaml --out runs/multi-3 --data-dir ../shared/data
    python -m trainer data RECIPE.yaml --out DIR --dry-run          # plan and cost, no API call, no write
    python -m trainer data RECIPE.yaml --out DIR mixture.size=500   # key=value overrides
    python -m trainer train configs/train/smollm2-135m.yaml data=runs/multi-3 max_steps=50 [--resume]
    python -m trainer merge --base smollm2-135m --adapter runs/train/adapter --out runs/merged
    python -m trainer xinstruct configs/recipes/xinstruct-zh.yaml --out runs/xinstruct-zh --data-dir ../shared/data
"""

from __future__ import annotations

import sys

from core.cli import Commands, run_cli
from trainer.jobs import DataJob, MergeJob, TrainJob, XInstructJob


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def data(job: DataJob) -> None:
    from trainer.data.build import build
    from trainer.data.recipe import load_recipe

    recipe = load_recipe(job.recipe, job.overrides)
    result = build(recipe, job.out, job.data_dir, recipe_path=job.recipe, dry_run=job.dry_run, log=_log)
    print(result.table)
    if result.out:
        print(f"\n{result.card['rows']} rows -> {result.out / 'mix.jsonl'} (card: {result.out / 'card.json'})")


def train(job: TrainJob) -> None:
    from trainer.config import load_train_config
    from trainer.train import train_all

    cfg = load_train_config(job.config, job.overrides)
    for name, metrics in train_all(cfg, resume=job.resume, log=_log).items():
        print(f"{name}: step {metrics.get('step')}, loss {metrics.get('loss')}, eval {metrics.get('eval_loss')}")


def merge(job: MergeJob) -> None:
    from trainer.merge import merge

    report = merge(job.base, job.adapter, job.out, job.dtype)
    print(f"merged into {job.out} ({job.dtype}); max |logit diff| vs base+adapter: {report['max']:.2e}")


def xinstruct(job: XInstructJob) -> None:
    from trainer.xinstruct.pipeline import run, summary
    from trainer.xinstruct.recipe import load_xinstruct

    card = run(load_xinstruct(job.recipe, job.overrides), job.out, job.data_dir, log=_log, until=job.until)
    print(summary(card))


COMMANDS: Commands = {"data": (DataJob, data), "train": (TrainJob, train), "merge": (MergeJob, merge),
                      "xinstruct": (XInstructJob, xinstruct)}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    return run_cli("python -m trainer", __doc__, COMMANDS, argv,
                   "interrupted: finished API calls and checkpoints are kept; rerun the same command (train: with "
                   "--resume) to continue.")


if __name__ == "__main__":
    sys.exit(main())

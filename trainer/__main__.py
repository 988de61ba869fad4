"""`python -m trainer`: build training mixes, fine-tune LoRA/QLoRA adapters, merge them.

    python -m trainer data configs/recipes/multi-3.yaml --out runs/multi-3 --data-dir ../shared/data
    python -m trainer data RECIPE.yaml --out DIR --dry-run          # plan and cost, no API call, no write
    python -m trainer data RECIPE.yaml --out DIR mixture.size=500   # key=value overrides
    python -m trainer train configs/train/smollm2-135m.yaml data=runs/multi-3 max_steps=50 [--resume]
    python -m trainer merge --base smollm2-135m --adapter runs/train/adapter --out runs/merged
    python -m trainer xinstruct configs/recipes/xinstruct-zh.yaml --out runs/xinstruct-zh --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("data", help="build a multilingual mix from a recipe YAML")
    d.add_argument("recipe", help="recipe YAML (see configs/recipes/)")
    d.add_argument("overrides", nargs="*", help="key=value overrides, e.g. mixture.size=300")
    d.add_argument("--out", required=True, type=Path, help="output directory (mix.jsonl, card.json, ...)")
    d.add_argument("--data-dir", type=Path, default=Path("."),
                   help="directory that relative `path:` entries are resolved under (default: .)")
    d.add_argument("--dry-run", action="store_true", help="load and plan, print the cost estimate; no API call")
    t = sub.add_parser("train", help="fine-tune a LoRA/QLoRA adapter from a training config YAML")
    t.add_argument("config", help="training config YAML (see configs/train/)")
    t.add_argument("overrides", nargs="*", help="key=value overrides, e.g. max_steps=20 lora.r=8")
    t.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in the out dir")
    m = sub.add_parser("merge", help="merge an adapter into its base and verify the logits")
    m.add_argument("--base", required=True, help="the base the adapter was trained on (spec, dir or hub id)")
    m.add_argument("--adapter", required=True, type=Path)
    m.add_argument("--out", required=True, type=Path)
    m.add_argument("--dtype", default="fp32", help="fp32 (default), bf16 or fp16")
    x = sub.add_parser("xinstruct", help="X-Instruction: mine (English instruction, native response) pairs; a rerun "
                                         "resumes")
    x.add_argument("recipe", help="X-Instruction recipe YAML (see configs/recipes/xinstruct-zh.yaml)")
    x.add_argument("overrides", nargs="*", help="key=value overrides, e.g. refine.iterations=2")
    x.add_argument("--out", required=True, type=Path, help="output directory (card.json, mix.jsonl, stage files)")
    x.add_argument("--data-dir", type=Path, default=Path("."), help="where relative `path:` entries are resolved")
    x.add_argument("--until", help="stop after this stage (seeds, corpus, reverse-train, candidates, iteration-K, "
                                   "diversify, mix)")
    return p


def _run(args: argparse.Namespace) -> None:
    if args.command == "train":
        from trainer.config import load_train_config
        from trainer.train import train_all

        cfg = load_train_config(args.config, args.overrides)
        for name, metrics in train_all(cfg, resume=args.resume, log=lambda m: print(m, file=sys.stderr)).items():
            print(f"{name}: step {metrics.get('step')}, loss {metrics.get('loss')}, eval {metrics.get('eval_loss')}")
        return
    if args.command == "merge":
        from trainer.merge import merge

        report = merge(args.base, args.adapter, args.out, args.dtype)
        print(f"merged into {args.out} ({args.dtype}); max |logit diff| vs base+adapter: {report['max']:.2e}")
        return
    if args.command == "xinstruct":
        from trainer.xinstruct.pipeline import run, summary
        from trainer.xinstruct.recipe import load_xinstruct

        card = run(load_xinstruct(args.recipe, args.overrides), args.out, args.data_dir,
                   log=lambda m: print(m, file=sys.stderr), until=args.until)
        print(summary(card))
        return
    from trainer.data.build import build
    from trainer.data.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    result = build(recipe, args.out, args.data_dir, recipe_path=str(args.recipe), dry_run=args.dry_run,
                   log=lambda m: print(m, file=sys.stderr))
    print(result.table)
    if result.out:
        print(f"\n{result.card['rows']} rows -> {result.out / 'mix.jsonl'} (card: {result.out / 'card.json'})")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    parser = _parser()
    # Overrides may come before or after the options; argparse alone only takes them in one place.
    args, extra = parser.parse_known_args(argv)
    unknown = [x for x in extra if x.startswith("-") or "=" not in x]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if extra and not hasattr(args, "overrides"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if hasattr(args, "overrides"):
        args.overrides = [*args.overrides, *extra]
    return run_command(lambda: _run(args), "interrupted: finished API calls and checkpoints are kept; rerun the "
                                           "same command (train: with --resume) to continue.")


if __name__ == "__main__":
    sys.exit(main())

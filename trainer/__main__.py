"""`python -m trainer`: build training mixes (and, with issue #4, train and merge).

    python -m trainer data configs/recipes/multi-3.yaml --out runs/multi-3 --data-dir ../shared/data
    python -m trainer data RECIPE.yaml --out DIR --dry-run          # plan and cost, no API call, no write
    python -m trainer data RECIPE.yaml --out DIR mixture.size=500   # key=value overrides
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import PolyglotError


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
    return p


def _run(args: argparse.Namespace) -> None:
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
    args.overrides = [*args.overrides, *extra]
    try:
        _run(args)
    except PolyglotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished API calls are cached; rerun the same command to continue.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

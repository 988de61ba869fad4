"""The one way a `python -m ...` command runs: a command table {name: (JobConfig, function)} becomes the parser
(flags generated from each config's fields, core.job_config), the chosen job is validated and called. User errors
(PolyglotError) print one clear line and exit 2, Ctrl-C exits 130; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from core.errors import PolyglotError

Commands = dict[str, tuple[type, Callable[[Any], None]]]


def run_command(run: Callable[[], int | None], interrupted: str = "") -> int:
    """Call `run()`, turning user errors and Ctrl-C into exit codes (a command may return its own)."""
    try:
        code = run()
    except PolyglotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if interrupted:
            print(interrupted, file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0


def build_parser(prog: str, doc: str | None, commands: Commands) -> argparse.ArgumentParser:
    """A parser with a subcommand per table entry; its help is the config's docstring, its flags its fields."""
    from core.job_config import add_dataclass_args

    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    # required: an unknown or missing subcommand is argparse's error naming the valid ones, never a default
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(commands) + "}")
    for name, (cls, _) in commands.items():
        about = " ".join((cls.__doc__ or "").split())
        add_dataclass_args(sub.add_parser(name, help=about, description=about), cls)
    return parser


def run_cli(prog: str, doc: str | None, commands: Commands, argv: Sequence[str] | None = None,
            interrupted: str = "") -> int:
    """Parse `argv` against the command table, build the chosen job config and call its function."""
    from core.job_config import fields, job_from_args

    parser = build_parser(prog, doc, commands)
    # key=value overrides may come before or after the options; argparse alone only takes them in one place
    args, extra = parser.parse_known_args(argv)
    cls, function = commands[args.command]
    rest = next((f.name for f in fields(cls) if f.metadata.get("nargs") == "*"), None)
    wrong = [x for x in extra if rest is None or x.startswith("-") or "=" not in x]
    if wrong:
        parser.error(f"unrecognized arguments: {' '.join(wrong)}")
    if rest:
        setattr(args, rest, [*getattr(args, rest), *extra])
    values = {k: v for k, v in vars(args).items() if k != "command"}
    return run_command(lambda: function(job_from_args(cls, values)), interrupted)

"""The one way a `python -m ...` command ends: user errors (PolyglotError) print one clear line and exit 2,
Ctrl-C exits 130; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from core.errors import PolyglotError


def run_command(run: Callable[[], None], interrupted: str = "") -> int:
    """Call `run()`, turning user errors and Ctrl-C into exit codes."""
    try:
        run()
    except PolyglotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if interrupted:
            print(interrupted, file=sys.stderr)
        return 130
    return 0

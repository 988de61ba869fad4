"""`python -m core.serve_guard -- PROGRAM ARGS...`: run a server that cannot outlive its owner.

The owner starts this guard in a new session with a pipe on its stdin and keeps the write end. When the owner
exits in any way (normal exit, Ctrl-C, kill -9), the pipe closes and the guard stops the server; if the guard
itself is killed, Linux's parent-death signal kills the server. So no server is left behind as an orphan.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """In the child before exec: SIGKILL when the guard dies (Linux); exit if it already has."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _stop(child: subprocess.Popen) -> None:
    """SIGTERM now, SIGKILL in 10 s if it is still there. Never waits here: the main thread is in wait()."""
    if child.returncode is None:
        child.terminate()
        timer = threading.Timer(10, lambda: child.returncode is None and child.kill())
        timer.daemon = True
        timer.start()


def main(argv: list[str]) -> int:
    """Start the program after `--`, stop it when stdin closes or a signal arrives; return its exit code."""
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: python -m core.serve_guard -- PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    me = os.getpid()
    child = subprocess.Popen(argv[argv.index("--") + 1:], stdin=subprocess.DEVNULL,
                             preexec_fn=lambda: _die_with_parent(me))

    def owner_gone():
        sys.stdin.buffer.read()  # returns only at EOF: the owner closed the pipe or died
        _stop(child)

    threading.Thread(target=owner_gone, daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: _stop(child))
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

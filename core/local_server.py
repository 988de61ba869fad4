"""Run a local server process on a free 127.0.0.1 port for as long as a `with` block lasts: `llama_cpp.server`
serving a GGUF file as an OpenAI-compatible endpoint (a judge or teacher on a laptop), or any other command."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from core.errors import EngineError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(args: list[str], ready_url: str, log: Path, timeout: float = 240, env: dict | None = None,
          cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """Run `python ARGS` until the block ends; wait until `ready_url` answers 200. Output goes to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, cwd=cwd)
        try:
            deadline = time.time() + timeout
            while True:
                if proc.poll() is not None:
                    raise EngineError(f"The server `python {' '.join(args)}` exited early ({proc.returncode}); "
                                      f"its log {log} ends with:\n{log.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(ready_url, timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise EngineError(f"The server `python {' '.join(args)}` was not ready after {timeout:.0f} s; "
                                      f"its log {log} ends with:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def llama_server(gguf: Path, alias: str, log: Path, n_ctx: int = 4096, api_key: str | None = None,
                 extra: list[str] | None = None) -> Iterator[str]:
    """Serve `gguf` with `llama_cpp.server` as model `alias`; yields the base URL (http://127.0.0.1:PORT/v1)."""
    port = free_port()
    args = ["-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias, "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "false", *(extra or [])]
    if api_key:
        args += ["--api_key", api_key]
    with serve(args, f"http://127.0.0.1:{port}/docs", log):
        yield f"http://127.0.0.1:{port}/v1"

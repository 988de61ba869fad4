"""Run a local server process on a free 127.0.0.1 port for as long as a `with` block lasts: llama.cpp's
`llama-server` serving a GGUF file as an OpenAI-compatible endpoint (a judge or teacher on a laptop), or any
other Python command (the tests start the app this way)."""

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
                 parallel: int = 1, cache_prompt: bool = False) -> Iterator[str]:
    """Serve `gguf` with llama.cpp's llama-server as model `alias` (`parallel` slots of `n_ctx` tokens); yields the
    base URL (http://127.0.0.1:PORT/v1). The server stops with the block, or with this process.

    The defaults serve one request at a time with no prompt cache, so a rerun gets the same bytes: with 4 slots
    decoded together, a judge's verdict probabilities moved by up to 0.01 between two runs (docs/determinism.md)."""
    from core.llama_server import LlamaServer, ServerOptions

    options = ServerOptions(parallel=parallel, ctx=n_ctx, cache_prompt=cache_prompt)
    with LlamaServer(Path(gguf), alias, options, log=log, api_key=api_key) as s:
        yield s.url

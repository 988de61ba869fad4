"""A managed llama.cpp `llama-server`: one GGUF served on 127.0.0.1 with continuous batching over `parallel`
slots, started on a free port, ready when `/health` answers, stopped with its owner (see `core.serve_guard`),
and restartable after a crash."""

from __future__ import annotations

import atexit
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EngineError, ModelFileError
from core.local_server import free_port
from core.models import check_gguf_header, damaged_gguf_error

_BIND_FAILED = "couldn't bind HTTP server socket"
_live: weakref.WeakSet = weakref.WeakSet()


@dataclass(frozen=True)
class ServerOptions:
    """How a model is served: slots decoded together, context per slot, LoRA adapters (name, file.gguf)."""

    parallel: int = 8
    ctx: int = 4096
    adapters: tuple[tuple[str, str], ...] = ()
    threads: int | None = None  # default: every core, as the in-process gguf engine uses
    # Reusing a cached prompt prefix re-evaluates its last token alone, which rounds differently from the
    # first pass: off, a rerun of the same request gives the same bytes (at the cost of recomputing prompts).
    cache_prompt: bool = True
    extra: tuple[str, ...] = ()  # more llama-server flags, passed as they are

    def __post_init__(self):
        if self.parallel < 1 or self.ctx < 64:
            raise EngineError(f"Serving needs parallel >= 1 and ctx >= 64, got parallel={self.parallel}, "
                              f"ctx={self.ctx}.")


@dataclass(eq=False)  # compared by identity: the live set holds each server once
class LlamaServer:
    """`llama-server` for one GGUF. `start()` picks a port (another one if it is taken), `url` is its /v1."""

    gguf: Path
    alias: str
    options: ServerOptions = field(default_factory=ServerOptions)
    log: Path | None = None  # default: a temp file, kept for error messages
    api_key: str | None = None
    port: int | None = None  # preferred port; a taken one is replaced by a free one
    timeout: float = 240.0
    restarts: int = 0
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    def __post_init__(self):
        self.gguf = check_gguf_header(self.gguf)
        for _, path in self.options.adapters:
            check_gguf_header(path)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, port: int) -> list[str]:
        """The llama-server command line for `port` (the key, if any, travels in the environment)."""
        from core.llama_tools import tool

        o = self.options
        cmd = [str(tool("llama-server")), "--model", str(self.gguf), "--alias", self.alias, "--host", "127.0.0.1",
               "--port", str(port), "--parallel", str(o.parallel), "--ctx-size", str(o.ctx * o.parallel),
               "--no-kv-unified", "--threads", str(o.threads or os.cpu_count() or 1), "--no-webui",
               "--metrics", "--jinja", "--flash-attn", "off"]  # flash attention off: the in-process engine's numerics
        if not o.cache_prompt:
            cmd.append("--no-cache-prompt")
        for _, path in o.adapters:
            cmd += ["--lora", str(path)]
        if o.adapters:
            cmd.append("--lora-init-without-apply")  # the base by default; a request picks its adapter
        return cmd + list(o.extra)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def healthy(self) -> bool:
        """The process runs and /health answers 200 (a server just killed may still have its guard for a moment)."""
        if not self.alive():
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as resp:
                return resp.status == 200
        except OSError:
            return False

    def start(self) -> LlamaServer:
        """Start the server and wait until it serves; a taken port is replaced, a rejected GGUF explained."""
        with self._lock:
            if self.alive():
                return self
            if self.log is None:
                fd, name = tempfile.mkstemp(prefix=f"llama-server-{self.alias}-", suffix=".log")
                os.close(fd)
                self.log = Path(name)
            wanted = self.port
            for _ in range(5):
                port = wanted or free_port()
                wanted = None
                if self._launch(port):
                    self.port = port
                    _live.add(self)
                    return self
            raise EngineError(f"llama-server found no free port after 5 tries; see {self.log}.")

    def _launch(self, port: int) -> bool:
        """Run the server on `port`; True once healthy, False if the port was taken; raises on other failures."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **({"LLAMA_API_KEY": self.api_key} if self.api_key else {})}
        with self.log.open("a") as out:
            out.write(f"\n--- starting on port {port} at {time.strftime('%H:%M:%S')}\n")
            out.flush()
            self._proc = subprocess.Popen([sys.executable, "-m", "core.serve_guard", "--", *self.command(port)],
                                          stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                text = self._tail()
                if _BIND_FAILED in text:
                    return False
                raise self._load_error(text)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except (OSError, urllib.error.HTTPError):
                pass  # 503 while the model loads; refused before it listens
            time.sleep(0.2)
        self.stop()
        raise EngineError(f"llama-server for {self.gguf} was not ready after {self.timeout:.0f} s; its log "
                          f"{self.log} ends with:\n{self._tail()[-2000:]}")

    def _tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log and self.log.exists() else ""
        return text[text.rfind("--- starting on port"):]

    def _load_error(self, text: str) -> Exception:
        """One message naming the file and llama.cpp's own reason for refusing it."""
        reasons = [re.sub(r"^[\d.]+ [A-Z] ", "", line.strip()) for line in text.splitlines()
                   if re.search(r"error|failed|invalid|unknown|not supported|exception", line, re.I)]
        reason = "; ".join(dict.fromkeys(reasons[:3])) or text.strip()[-400:]
        damaged = damaged_gguf_error(self.gguf)
        if damaged:
            return ModelFileError(f"{damaged} (llama-server said: {reason})")
        return ModelFileError(f"llama-server could not serve {self.gguf}: {reason}. Check that the file is a GGUF "
                              f"this llama.cpp supports (re-export it with `python -m quantize gguf`); full log: "
                              f"{self.log}")

    def restart(self) -> None:
        """Start it again after it died, on the same port if it is still free."""
        self.stop()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        """Stop the server and its guard; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _live.discard(self)
        if proc.stdin:
            proc.stdin.close()  # the guard's signal to stop the server
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def metrics(self) -> str:
        """The server's Prometheus metrics text (tokens, requests, slots busy)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for server in list(_live):
        server.stop()

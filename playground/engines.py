"""The app's open engines, loaded on first use, shared by every session and reference-counted by leases.

A GGUF model (a packaged one or a .gguf path) is served by one managed llama-server with `SERVED_PARALLEL`
slots, so concurrent visitors are decoded together in one batch instead of queueing behind one lock; the app's
jobs reuse the same servers (`served_env`). `configure(serve=False)` keeps models in process instead.
Callers hold an engine only inside `with lease(spec) as engine:`; an engine evicted from the LRU leaves the table
at once but is closed when its last lease ends, so no session loses a model mid-answer.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.engines import Engine, load, parse_spec
from core.engines.served import SHARED_ENV
from core.errors import EngineError

SERVED_PARALLEL = 16  # slots per served model: 20 visitors at once are decoded in batches of up to 16
SERVED_CTX = 2048  # tokens per slot (a conversation in the Arena); 16 x 2048 KV cache ~0.75 GB for SmolLM2
_MAX_OPEN = 4  # the Arena shows up to four models; a fifth evicts the least recently used


class _Entry:
    """One loaded engine: how many leases hold it, and whether it left the table or was closed."""

    def __init__(self, key: str, engine: Engine):
        self.key, self.engine = key, engine
        self.leases = 0
        self.evicted = False
        self.closed = False


class LeasedEngine:
    """The engine a lease hands out: every attribute is the engine's, refused once the engine was closed."""

    def __init__(self, entry: _Entry):
        self._entry = entry

    def __getattr__(self, name: str) -> Any:
        if self._entry.closed:
            raise EngineError(f"The engine for {self._entry.key} was closed (evicted after its last lease); "
                              f"take a new lease with playground.engines.lease(spec).")
        return getattr(self._entry.engine, name)


_open: OrderedDict[str, _Entry] = OrderedDict()
_lock = threading.Lock()  # the table and the lease counts
_load_lock = threading.Lock()  # one load at a time (memory: models are loaded one after another)
_serve = {"on": True}


def configure(serve: bool) -> None:
    """Serve GGUF models through llama-server (True, the default) or run them in process (False)."""
    _serve["on"] = serve


def shared_spec(spec: str) -> str:
    """The spec the app really loads: `served:MODEL+parallel=16` for a GGUF model when serving, else `spec`."""
    parsed = parse_spec(spec)
    if _serve["on"] and parsed.backend == "gguf":
        return f"served:{parsed.model}+parallel={SERVED_PARALLEL}+ctx={SERVED_CTX}"
    return spec


def _take(key: str) -> _Entry | None:
    """The open entry for `key` with one more lease, or None (callers hold `_lock`)."""
    entry = _open.get(key)
    if entry is not None:
        _open.move_to_end(key)
        entry.leases += 1
    return entry


def _acquire(key: str) -> _Entry:
    """The entry for `key` with one more lease, loading it if needed; returns after closing what it evicted."""
    with _lock:
        entry = _take(key)
    if entry is not None:
        return entry
    # Loads queue on their own lock, so a slow load (a llama-server starting) never blocks other models' leases.
    with _load_lock:
        with _lock:
            entry = _take(key)  # another session may have loaded it while this one waited
        if entry is not None:
            return entry
        engine = load(key)
        with _lock:
            entry = _open[key] = _Entry(key, engine)
            entry.leases = 1
            idle = []
            while len(_open) > _MAX_OPEN:
                old = _open.popitem(last=False)[1]
                old.evicted = True
                if old.leases == 0:
                    old.closed = True
                    idle.append(old)
    for old in idle:  # outside the table lock: stopping a server takes a moment
        old.engine.close()
    return entry


def _release(entry: _Entry) -> None:
    with _lock:
        entry.leases -= 1
        last = entry.evicted and entry.leases == 0 and not entry.closed
        if last:
            entry.closed = True  # claimed under the lock, so no second release closes it again
    if last:
        entry.engine.close()


@contextmanager
def lease(spec: str) -> Iterator[Engine]:
    """`with lease(spec) as engine:` the engine for `spec`, loaded if needed; it stays open until the block ends,
    even if a load of another model evicts it from the LRU meanwhile."""
    entry = _acquire(shared_spec(spec))
    try:
        yield LeasedEngine(entry)  # type: ignore[misc]
    finally:
        _release(entry)


def open_specs() -> list[str]:
    """The specs loaded now (the Models and runs tab shows them)."""
    with _lock:
        return list(_open)


def served_env() -> dict[str, str]:
    """The environment that lets a job use the app's running servers ($POLYGLOT_SERVED: spec -> URL)."""
    with _lock:
        urls = {key: e.engine.url for key, e in _open.items() if getattr(e.engine, "backend", "") == "served"}
    return {SHARED_ENV: json.dumps(urls)} if urls else {}

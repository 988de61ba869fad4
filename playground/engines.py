"""The app's open engines, loaded on first use and shared by every session.

A GGUF model (a packaged one or a .gguf path) is served by one managed llama-server with `SERVED_PARALLEL`
slots, so concurrent visitors are decoded together in one batch instead of queueing behind one lock; the app's
jobs reuse the same servers (`served_env`). `configure(serve=False)` keeps models in process instead.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from core.engines import Engine, load, parse_spec
from core.engines.served import SHARED_ENV

SERVED_PARALLEL = 16  # slots per served model: 20 visitors at once are decoded in batches of up to 16
SERVED_CTX = 2048  # tokens per slot (a conversation in the Arena); 16 x 2048 KV cache ~0.75 GB for SmolLM2
_MAX_OPEN = 4  # the Arena shows up to four models; a fifth evicts the least recently used
_open: OrderedDict[str, Engine] = OrderedDict()
_lock = threading.Lock()
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


def get_engine(spec: str) -> Engine:
    """The engine for `spec`, loading it (and closing the least recently used one) if needed."""
    key = shared_spec(spec)
    with _lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key]
        engine = load(key)
        _open[key] = engine
        while len(_open) > _MAX_OPEN:
            _open.popitem(last=False)[1].close()
        return engine


def open_specs() -> list[str]:
    """The specs loaded now (the Models and runs tab shows them)."""
    with _lock:
        return list(_open)


def served_env() -> dict[str, str]:
    """The environment that lets a job use the app's running servers ($POLYGLOT_SERVED: spec -> URL)."""
    with _lock:
        urls = {key: e.url for key, e in _open.items() if getattr(e, "backend", "") == "served"}
    return {SHARED_ENV: json.dumps(urls)} if urls else {}


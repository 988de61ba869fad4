"""The app's open engines, loaded on first use and kept for the next message."""

from __future__ import annotations

import threading
from collections import OrderedDict

from core.engines import Engine, load

_MAX_OPEN = 4  # the Arena shows up to four models; a fifth evicts the least recently used
_open: OrderedDict[str, Engine] = OrderedDict()
_lock = threading.Lock()


def get_engine(spec: str) -> Engine:
    """The engine for `spec`, loading it (and closing the least recently used one) if needed."""
    with _lock:
        if spec in _open:
            _open.move_to_end(spec)
            return _open[spec]
        engine = load(spec)
        _open[spec] = engine
        while len(_open) > _MAX_OPEN:
            _open.popitem(last=False)[1].close()
        return engine


def open_specs() -> list[str]:
    """The specs loaded now (the Models and runs tab shows them)."""
    with _lock:
        return list(_open)

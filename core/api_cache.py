"""On-disk cache of chat-completion calls, keyed by a hash of model + messages + sampling parameters, so a
rerun (after a crash, a Ctrl-C or a SIGKILL) never pays for a finished call twice; and the price table
that turns token counts into dollars."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

from core.models import polyglot_home

# USD per million tokens (input, output), from the providers' public price pages (2025). Prices change:
# a recipe's `translate.prices` overrides or extends this table.
DEFAULT_PRICES = {
    "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1": (2.00, 8.00), "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40), "gpt-3.5-turbo": (0.50, 1.50),
}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "::1")


def default_cache_path() -> Path:
    return polyglot_home() / "api-cache.sqlite"


def call_key(model: str, messages: list[dict], **params) -> str:
    blob = json.dumps({"model": model, "messages": messages, **params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ApiCache:
    """A sqlite table of finished calls. Every `put` commits at once, so a killed process keeps all of them."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT, text TEXT, "
                         "prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)")

    def get(self, key: str) -> dict | None:
        row = self._db.execute("SELECT text, prompt_tokens, completion_tokens FROM calls WHERE key = ?",
                               (key,)).fetchone()
        return None if row is None else {"text": row[0], "prompt_tokens": row[1], "completion_tokens": row[2]}

    def put(self, key: str, model: str, text: str, prompt_tokens: int, completion_tokens: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?, ?)",
                         (key, model, text, prompt_tokens, completion_tokens, time.time()))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def price_for(model: str, base_url: str | None, prices: dict) -> tuple[float, float] | None:
    """(input, output) USD per million tokens; 0 for local servers; None when unknown."""
    if base_url and (urlsplit(base_url).hostname or "") in LOCAL_HOSTS:
        return (0.0, 0.0)
    if model in prices:
        p = prices[model]  # a recipe's Price, or an (input, output) pair
        return (p.input, p.output) if hasattr(p, "input") else (float(p[0]), float(p[1]))
    return DEFAULT_PRICES.get(model)


def cost(prompt_tokens: int, completion_tokens: int, price: tuple[float, float] | None) -> float | None:
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: ~4 bytes of UTF-8 per token (English ~4 chars, CJK ~1.3 chars)."""
    return max(1, len(text.encode("utf-8")) // 4)

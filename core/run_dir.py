"""A run's directory and the crash-safe writes into it: its card (what ran, with which settings, and the
results), which of its stages are done, and the one way to write a file or a whole directory atomically
(a temp name beside the target, renamed into place only when complete)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from core.errors import ConfigError

CARD = "card.json"
RUNNING = "running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _temp_beside(path: Path) -> Path:
    """A temp name beside `path` that no other process or thread shares. Temps left by dead processes are
    removed, so a killed export does not leave gigabytes behind; a live writer's temp is left alone."""
    for old in path.parent.glob(glob.escape(path.name) + ".*.tmp"):
        pid = old.name[len(path.name) + 1:-len(".tmp")].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    # the name must not end in a digit: checkpoints are found by `step-*[0-9]`
    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temp path to write `path` through: renamed over `path` when the block succeeds, removed when it
    raises, so a reader never sees half a file."""
    tmp = _temp_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: Path, keep_existing: bool = False) -> Iterator[Path]:
    """A fresh temp directory that becomes `path` when the block succeeds (replacing an older `path`, or with
    `keep_existing` yielding to one another process finished first) and is deleted when it raises."""
    tmp = _temp_beside(path)
    shutil.rmtree(tmp, ignore_errors=True)  # a reused pid's leftover
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists() and keep_existing:
            return
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: Path, obj) -> None:
    """Write `obj` as JSON atomically: a reader never sees half a file, and two writers (the app and a job's
    runner) never share a temp file."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


class RunDir:
    """A run directory and its card. Stages record themselves in `card["stages"]`; the settings that make
    a run what it is (model, limit, recipe hash) sit at the card's top level, where `refuse_other_run` looks."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._card: dict | None = None

    @property
    def card_path(self) -> Path:
        """Where the card lives: `path/card.json`."""
        return self.path / CARD

    @property
    def card(self) -> dict:
        """The card in memory: the one on disk when first asked for, or {} before the run wrote one."""
        if self._card is None:
            self._card = self.read_card() or {}
        return self._card

    def read_card(self) -> dict | None:
        """The card on disk, or None if the run has not written one."""
        return json.loads(self.card_path.read_text(encoding="utf-8")) if self.card_path.is_file() else None

    def write_card(self, card: dict | None = None) -> None:
        """Write `card` (by default the one in memory, else it becomes the one in memory) atomically."""
        if card is not None:
            self._card = card
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.card_path, self.card)

    def refuse_other_run(self, identity: dict, what: str = "a run") -> None:
        """Raise ConfigError if the card holds other values for `identity`'s keys: resuming would mix two runs."""
        if not self.card:
            return
        for key, value in identity.items():
            if self.card.get(key) != value:
                raise ConfigError(f"{self.path} holds {what} with {key}={self.card.get(key)!r}, not {value!r}; "
                                  f"resuming would mix two runs. Pass another --out (or delete {self.path} to start "
                                  f"over), or the same settings to resume it.")

    @property
    def stages(self) -> dict:
        """The card's stage -> entry table (created empty on first use)."""
        return self.card.setdefault("stages", {})

    def done(self, name: str, key: str | None = None) -> bool:
        """Whether stage `name` finished (with inputs hashed to `key`, if given); one marked running did not."""
        entry = self.stages.get(name)
        return entry is not None and entry.get("status") != RUNNING and (key is None or entry.get("key") == key)

    def mark_running(self, name: str, **fields) -> None:
        """Record that `name` started, saved at once: a kill before `mark_done` leaves it to resume, not skip."""
        self.stages[name] = {**fields, "status": RUNNING}
        self.write_card()

    def mark_done(self, name: str, entry: dict) -> dict:
        """Record stage `name` as done with `entry` (its outputs), saved at once: a rerun skips it from now on."""
        self.stages[name] = entry
        self.write_card()
        return entry

"""An experiment's run directory: one sub-directory and one `card.json` per stage, and the run's own card that
lists each stage with a hash of its inputs. A rerun skips a stage whose inputs are unchanged; a stage whose
inputs changed (an edited setting, or a stage before it redone) is cleared and redone, and so is everything
that depends on it, because its hash is part of their inputs."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from core.run_dir import RunDir
from core.versions import versions


def machine() -> str:
    """The machine in words, for the report: CPU cores and the GPU, if any."""
    import os

    import torch

    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{os.cpu_count()} CPU cores{gpu}"


def inputs_key(inputs: dict) -> str:
    """A short stable hash of a stage's inputs (any JSON-able values; paths as strings)."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]


def wall_minutes(card: dict) -> float | None:
    """Wall-clock minutes of a run card's finished invocations that ran stages (None if none was recorded)."""
    runs = card.get("invocations")
    return sum(x["seconds"] for x in runs) / 60 if runs else None


class Run:
    """The run dir `out` and its card (a `RunDir`): which stages are done, with which inputs, and their results."""

    def __init__(self, out: Path, identity: dict, log=print):
        self.out, self.log = out, log
        out.mkdir(parents=True, exist_ok=True)
        self.run_dir = RunDir(out)
        self.card.update({**identity, "versions": versions(), "machine": machine()})
        self.card.setdefault("stages", {})
        self.keys: dict[str, str] = {}  # stage -> key, this process
        self.ran: list[str] = []  # the stages this process ran (not skipped)
        self.started = time.time()

    @property
    def card(self) -> dict:
        """The run's card, in memory (saved by the run dir at every stage change)."""
        return self.run_dir.card

    def done(self, name: str) -> bool:
        return self.run_dir.done(name)

    def stage(self, name: str, inputs: dict, fn: Callable[[Path], dict]) -> dict:
        """Run `fn(stage_dir)` (returns the stage's results) unless it is done with the same inputs."""
        key = inputs_key(inputs)
        self.keys[name] = key
        stage_dir = self.out / name
        old = self.run_dir.stages.get(name)
        if self.run_dir.done(name, key):
            if stage_dir.is_dir():
                self.log(f"{name}: done before, skipped")
                return old["results"]
            # Deleting a stage's folder is how a user asks for it again (or it was lost): run it, do not fail later.
            self.log(f"{name}: recorded as done but {stage_dir} is gone; running it again")
        if old and old["key"] != key and stage_dir.exists():
            self.log(f"{name}: its inputs changed since the last run; redoing it")
            shutil.rmtree(stage_dir)
        stage_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mark_running(name, key=key, inputs=inputs)
        self.log(f"{name}: running")
        self.ran.append(name)
        started = time.time()
        results = fn(stage_dir)
        entry = {"key": key, "status": "done", "inputs": inputs, "results": results,
                 "seconds": round(time.time() - started, 1)}
        stage_card = RunDir(stage_dir)
        if not stage_card.card_path.is_file():  # the tools that write no card of their own (train, merge)
            stage_card.write_card({"stage": name, **entry})
        self.run_dir.mark_done(name, entry)
        return results

    def record_invocation(self) -> None:
        """Add this process's wall-clock time to the card, if it ran any stage (a rerun that only rewrites the
        report adds nothing), so the run's total wall time survives resumes."""
        if self.ran:
            self.card.setdefault("invocations", []).append(
                {"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "seconds": round(time.time() - self.started, 1), "stages_run": len(self.ran)})

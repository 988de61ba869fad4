"""Logging of a training run: `log.jsonl` (and TensorBoard) lines with loss and throughput, the progress bar,
and the adapter directory with its `polyglot_card.json`. Only the main process writes files."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import ConfigError
from core.run_dir import atomic_dir


def peak_memory_gb() -> float:
    """Peak GPU memory allocated by torch on CUDA, else the process's peak resident memory."""
    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**30, 2)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)  # Linux reports KiB


def tensorboard_writer(out: Path):
    """A TensorBoard writer under out/tensorboard; a clear error when the package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ConfigError("tensorboard: true needs the tensorboard package: pip install tensorboard "
                          "(log.jsonl is written either way).") from exc
    return SummaryWriter(str(out / "tensorboard"))


def reset_log(out: Path, step: int) -> None:
    """Start log.jsonl afresh, or on resume keep its lines up to the checkpoint's `step`."""
    if step:
        truncate_log(out / "log.jsonl", step)  # the dead run's lines after the checkpoint are redone
    else:
        (out / "log.jsonl").unlink(missing_ok=True)


def truncate_log(path: Path, step: int) -> None:
    """Keep the log lines up to `step` (a killed process may also have left half a line)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    path.write_text("".join(line + "\n" for line in keep))


class Meter:
    """Loss and throughput since the last log line, and the step loop's totals (no eval, no checkpoints)."""

    def __init__(self, tokens_before: int = 0):
        self.totals = {"train_tokens": tokens_before, "train_seconds": 0.0}
        self._reset()

    def _reset(self) -> None:
        self.window = {"loss": 0.0, "tokens": 0, "steps": 0, "seconds": 0.0}

    def add_tokens(self, tokens: int) -> None:
        self.window["tokens"] += tokens

    def add_loss(self, loss: float) -> None:
        self.window["loss"] += loss

    def end_step(self, seconds: float) -> None:
        self.window["steps"] += 1
        self.window["seconds"] += seconds

    def entry(self, step: int, lr: float) -> dict:
        """The log line of the window (mean loss, rates, peak memory)."""
        seconds = max(self.window["seconds"], 1e-9)
        return {"step": step, "loss": round(self.window["loss"] / self.window["steps"], 4), "lr": lr,
                "tokens_per_s": round(self.window["tokens"] / seconds, 1),
                "steps_per_s": round(self.window["steps"] / seconds, 3), "peak_mem_gb": peak_memory_gb()}

    def roll(self) -> None:
        """Add the window to the totals and start a new one."""
        self.totals["train_tokens"] += self.window["tokens"]
        self.totals["train_seconds"] += self.window["seconds"]
        self._reset()

    def tokens_so_far(self) -> int:
        """Tokens trained up to now, the open window included (what a checkpoint keeps)."""
        return self.totals["train_tokens"] + self.window["tokens"]

    def final(self) -> dict:
        return {**self.totals, "train_seconds": round(self.totals["train_seconds"], 2)}


class RunLog:
    """Where a run's progress goes: log.jsonl and TensorBoard (main process only) and the tqdm bar."""

    def __init__(self, out: Path, step: int, max_steps: int, main: bool, board=None, progress: bool = True):
        from tqdm import tqdm

        self.file = (out / "log.jsonl").open("a", encoding="utf-8") if main else None
        self.board = board
        self.bar = tqdm(total=max_steps, initial=step, desc="train", unit="step", disable=not progress or not main)

    def write(self, entry: dict) -> None:
        """Append one line (a dict value such as eval_loss becomes a TensorBoard scalar group)."""
        if self.file:
            self.file.write(json.dumps(entry) + "\n")
            if self.board:
                for key, value in entry.items():
                    if isinstance(value, dict):
                        self.board.add_scalars(key, value, entry["step"])
                    elif key != "step":
                        self.board.add_scalar(key, value, entry["step"])
            self.file.flush()
        self.bar.set_postfix(loss=entry["loss"])

    def close(self) -> None:
        self.bar.close()
        if self.file:
            self.file.close()
        if self.board:
            self.board.close()


def save_adapter(model, tokenizer, path: Path, card: dict) -> None:
    """Write the adapter, tokenizer and `polyglot_card.json` to `path` (whole or absent: `atomic_dir`)."""
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp)
        _sort_target_modules(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "polyglot_card.json").write_text(json.dumps(card, indent=2, default=str))


def _sort_target_modules(adapter: Path) -> None:
    """PEFT keeps target_modules as a set and writes it in hash order, which changes with each process's
    PYTHONHASHSEED: sorted, the same adapter has the same bytes in every run."""
    for config in adapter.rglob("adapter_config.json"):
        data = json.loads(config.read_text())
        if isinstance(data.get("target_modules"), list):
            data["target_modules"] = sorted(data["target_modules"])
            config.write_text(json.dumps(data, indent=2, sort_keys=True))

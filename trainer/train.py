"""Training entry points: `train` runs the recipe `cfg.recipe` names (default `sft_lora`) for one adapter,
`train_all` one adapter or one per language group. The recipes live in `trainer/recipes/`; the components
they compose in `modeling.py`, `optim.py`, `loop.py`, `eval_loss.py` and `runlog.py`."""

from __future__ import annotations

from pathlib import Path

from trainer import recipes
from trainer.config import TrainConfig
from trainer.modeling import load_base
from trainer.runlog import peak_memory_gb

__all__ = ["load_base", "peak_memory_gb", "train", "train_all"]


def train(cfg: TrainConfig, resume: bool = False, languages: list[str] | None = None, out: Path | None = None,
          log=print, progress: bool = True) -> dict:
    """Train one adapter with `cfg.recipe`; returns the final metrics. Writes `out/adapter/`, `out/log.jsonl`,
    checkpoints."""
    job = recipes.Job(Path(out or cfg.out), resume, languages or cfg.languages, log, progress)
    return recipes.get(cfg.recipe)(cfg, job)


def train_all(cfg: TrainConfig, resume: bool = False, log=print) -> dict[str, dict]:
    """Train one adapter, or one per language group (`per_language`), each into its own directory."""
    if not cfg.per_language:
        return {"adapter": train(cfg, resume, log=log)}
    results = {}
    for group in cfg.per_language:
        name = "-".join(group)
        log(f"adapter {name}: languages {group}")
        results[name] = train(cfg, resume, languages=group, out=Path(cfg.out) / name, log=log)
    return results

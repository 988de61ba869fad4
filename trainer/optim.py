"""Optimizer and learning-rate schedule: AdamW with linear warmup and cosine decay over `max_steps`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainer.config import TrainConfig


def adamw_cosine(params: list, cfg: TrainConfig):
    """AdamW over `params` and its cosine schedule (warmup `warmup_ratio` of the steps)."""
    import torch
    from transformers import get_scheduler

    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=int(cfg.warmup_ratio * cfg.max_steps),
                              num_training_steps=cfg.max_steps)
    return optimizer, scheduler

"""The step loop, through `accelerate` (so `accelerate launch` runs it on several GPUs or nodes): fp32 on
CPU, bf16 on CUDA. A recipe supplies the step's forward/backward; the loop owns the optimizer step,
logging cadence, eval cadence and checkpoints, so `resume` continues with the same batches and loss curve."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError
from trainer import checkpoints
from trainer.runlog import Meter, RunLog, reset_log

if TYPE_CHECKING:
    from trainer.config import TrainConfig

# step -> (the loss of each micro-batch, as logged, and the step's token count over all processes); the
# function runs forward and backward, the loop then steps the optimizer.
StepFn = Callable[[int], tuple[list[float], int]]


@dataclass
class TrainState:
    """What the loop steps: the prepared model, optimizer and scheduler, and the step reached."""

    accelerator: object
    model: object
    params: list
    optimizer: object
    scheduler: object
    out: Path
    step: int = 0
    tokens_before: int = 0  # trained by the processes before a resume


def accelerator_for(seed: int):
    """An Accelerator (bf16 mixed precision on CUDA) with every RNG seeded."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    accelerator = Accelerator(gradient_accumulation_steps=1,
                              mixed_precision="bf16" if torch.cuda.is_available() else "no")
    set_seed(seed)
    return accelerator


def prepare(accelerator, model, params: list, optimizer, scheduler, out: Path, resume: bool,
            log=print) -> TrainState:
    """Prepare the parts for `accelerator` and restore the latest checkpoint in `out` when resuming."""
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    state = TrainState(accelerator, model, params, optimizer, scheduler, out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = checkpoints.latest(out)
    if ckpt and not resume:
        raise ConfigError(f"{out} holds checkpoints of an earlier run (latest {ckpt.name}); pass --resume to "
                          f"continue it, or set another `out:` (or delete {out / 'checkpoints'}) to start afresh.")
    if ckpt:
        state.step = checkpoints.load(accelerator, model, optimizer, scheduler, ckpt)
        state.tokens_before = checkpoints.tokens_before(ckpt)
        log(f"resumed from {ckpt} (step {state.step})")
    elif resume:
        log(f"no checkpoint in {out}; starting from step 0")
    if accelerator.is_main_process:  # one process owns the files
        reset_log(out, state.step)
    accelerator.wait_for_everyone()
    return state


def run_steps(state: TrainState, cfg: TrainConfig, step_fn: StepFn, evaluate: Callable[[], dict] | None,
              runlog: RunLog) -> dict:
    """Step from `state.step` to `cfg.max_steps`; returns the last log line with eval loss and totals."""
    acc, meter, last = state.accelerator, Meter(state.tokens_before), {}
    state.model.train()
    while state.step < cfg.max_steps:
        started = time.perf_counter()
        losses, tokens = step_fn(state.step)
        meter.add_tokens(tokens)
        for loss in losses:
            meter.add_loss(loss)
        acc.clip_grad_norm_(state.params, 1.0)
        state.optimizer.step()
        state.scheduler.step()
        state.optimizer.zero_grad()
        state.step += 1
        step = state.step
        meter.end_step(time.perf_counter() - started)
        runlog.bar.update()
        evaluating = evaluate is not None and (step % cfg.eval_every == 0 or step == cfg.max_steps)
        if step % cfg.log_every == 0 or step == cfg.max_steps or evaluating:
            last = meter.entry(step, state.scheduler.get_last_lr()[0])
            if evaluating:
                last["eval_loss"] = evaluate()
            runlog.write(last)
            meter.roll()
        if step % cfg.save_every == 0 and step < cfg.max_steps:
            checkpoints.save(acc, state.model, state.optimizer, state.scheduler, state.out, step,
                             cfg.keep_checkpoints, meter.tokens_so_far())
    runlog.close()
    if "eval_loss" not in last and evaluate is not None:
        last["eval_loss"] = evaluate()
    last.update(meter.final())
    return last

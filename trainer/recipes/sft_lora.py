"""`sft_lora`: LoRA / QLoRA supervised fine-tuning on a mix, loss on the assistant turns only, with
per-language eval loss, checkpoints and resume. The batch order depends only on (seed, step)."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from core.errors import ConfigError
from trainer import lm_loss, loop, lora_dropout, modeling, optim, runlog
from trainer.batches import Example, collate, encode_rows, micro_batch, read_mix, real_tokens, split
from trainer.encode import IGNORE
from trainer.eval_loss import per_language_loss
from trainer.recipes import Job, register

if TYPE_CHECKING:
    from trainer.config import TrainConfig


@dataclass
class SftData:
    train: list[Example]
    eval: list[Example]
    dropped: int  # examples with no answer token left after max_length
    cut: int  # examples kept but cut at max_length


def sft_data(cfg: TrainConfig, tokenizer, fmt, languages: list[str] | None) -> SftData:
    """The mix's rows split per language into train and held-out, encoded with assistant-only labels."""
    rows = read_mix(cfg.data_path, languages)
    train_rows, eval_rows = split(rows, cfg.eval_fraction, cfg.eval_max_rows, cfg.seed)
    train_ex, dropped = encode_rows(train_rows, tokenizer, fmt, cfg.max_length)
    eval_ex, _ = encode_rows(eval_rows, tokenizer, fmt, cfg.max_length)
    if not train_ex:
        raise ConfigError(f"No trainable example in {cfg.data_path} (max_length={cfg.max_length}); raise max_length.")
    return SftData(train_ex, eval_ex, dropped, sum(ex.enc.cut > 0 for ex in train_ex))


def sft_step(state: loop.TrainState, cfg: TrainConfig, examples: list[Example], pad_id: int,
             fused_loss: bool = False) -> loop.StepFn:
    """The step function of token-level cross-entropy over the step's `grad_accum` micro-batches (through the
    fused loss head of `trainer.lm_loss` when `fused_loss`)."""
    import torch

    acc = state.accelerator

    # No KV cache: with one, transformers ignores packed rows' position ids and attends across examples.
    extra = {"use_cache": False, **({"fused_loss": True} if fused_loss else {})}

    def step_fn(step: int) -> tuple[list[float], int]:
        micro_batches = [micro_batch(examples, step * cfg.grad_accum + micro, cfg.batch_size, cfg.seed,
                                     acc.num_processes, acc.process_index, cfg.group_by_length)
                         for micro in range(cfg.grad_accum)]
        batches = [collate(mb, pad_id, cfg.packing, cfg.max_length) for mb in micro_batches]
        # Every trained token of the step weighs the same, whichever micro-batch or process it is in: the
        # loss is a sum over tokens divided by the step's token count (DDP then averages over processes).
        counts = torch.tensor([sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in batches),
                               sum(real_tokens(mb) for mb in micro_batches)], device=acc.device)
        step_trained, step_tokens = (int(x) for x in acc.reduce(counts, reduction="sum"))
        losses = []
        for micro, batch in enumerate(batches):
            batch = {k: v.to(acc.device) for k, v in batch.items()}
            # Gradients are synchronised across processes only on the last micro-batch of a step.
            sync = contextlib.nullcontext() if micro == cfg.grad_accum - 1 else acc.no_sync(state.model)
            with sync:
                loss = state.model(**batch, num_items_in_batch=max(step_trained, 1), **extra).loss
                loss = loss * acc.num_processes
                acc.backward(loss)
            losses.append(loss.item() / acc.num_processes)
        return losses, step_tokens

    return step_fn


@register("sft_lora")
def sft_lora(cfg: TrainConfig, job: Job) -> dict:
    """Train one LoRA adapter into job.out (adapter/, log.jsonl, checkpoints/); returns the final metrics."""
    accelerator = loop.accelerator_for(cfg.seed)
    main = accelerator.is_main_process
    board = runlog.tensorboard_writer(job.out) if cfg.tensorboard and main else None  # fail before loading
    tokenizer, model, base_name = modeling.load_base(cfg, accelerator.device.type == "cuda")
    fmt = modeling.chat_tokenizer(tokenizer, cfg, base_name)
    data = sft_data(cfg, tokenizer, fmt, job.languages)
    head = lm_loss.LossHead(cfg.supervised_head, cfg.chunked_loss)
    # Before PEFT wraps the model, so the patched forward is the one called.
    plain_why = lm_loss.install(model, head) if head.fused else "supervised_head and chunked_loss are off"
    if plain_why:
        job.log(f"plain loss head: {plain_why}")
    model = modeling.add_lora(model, cfg)
    if cfg.gap_dropout and accelerator.device.type == "cpu":
        lora_dropout.use_gap_dropout(model)
    params = modeling.trainable_parameters(model)
    optimizer, scheduler = optim.adamw_cosine(params, cfg)
    state = loop.prepare(accelerator, model, params, optimizer, scheduler, job.out, job.resume, job.log)

    meta = {"base": cfg.base, "languages": sorted({ex.lang for ex in data.train}),
            "train_examples": len(data.train), "eval_examples": len(data.eval), "dropped_too_long": data.dropped,
            "cut_at_max_length": data.cut,
            "chat_format": fmt.name, "loss_head": "fused" if plain_why is None else f"plain ({plain_why})",
            "config": asdict(cfg)}
    job.log(f"training {meta['languages']}: {len(data.train)} examples ({data.cut} cut at max_length={cfg.max_length}, "
            f"{data.dropped} dropped with no answer left), {len(data.eval)} held out; "
            f"{sum(p.numel() for p in params):,} trainable parameters")
    pad_id = tokenizer.pad_token_id
    evaluate = (lambda: per_language_loss(state.model, data.eval, pad_id, accelerator.device)) if data.eval else None
    log = runlog.RunLog(job.out, state.step, cfg.max_steps, main, board, job.progress)
    last = loop.run_steps(state, cfg, sft_step(state, cfg, data.train, pad_id, plain_why is None), evaluate, log)
    if main:
        runlog.save_adapter(accelerator.unwrap_model(state.model), tokenizer, job.out / "adapter",
                            {**meta, "final": last})
    accelerator.wait_for_everyone()
    return last

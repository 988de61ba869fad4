"""LoRA / QLoRA supervised fine-tuning on a mix, with per-language eval loss, checkpoints and resume.

One loop through `accelerate` (so `accelerate launch` runs it on several GPUs or nodes): fp32 on CPU, bf16
on CUDA. The batch order depends only on (seed, step), and a checkpoint holds the adapter, optimizer,
scheduler and RNG states, so `resume` continues with the same batches and the same loss curve.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from core.chat import resolve_format
from core.errors import ConfigError
from core.models import chat_fallback
from trainer import checkpoints
from trainer.batches import collate, encode_rows, micro_batch, read_mix, split
from trainer.config import TrainConfig
from trainer.encode import IGNORE


def load_base(cfg: TrainConfig, device_is_cuda: bool):
    """Tokenizer and model of `cfg.base` (through the hf engine's source resolution: GGUFs are converted once)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.engines.hf import resolve_source

    if cfg.base.startswith("openai:") or "+adapter=" in cfg.base:
        raise ConfigError(f"base {cfg.base!r}: training needs plain weights: a packaged name, hf:DIR_OR_HUB_ID or "
                          f"a .gguf (merge adapters first with `python -m trainer merge`).")
    name = cfg.base.removeprefix("hf:").removeprefix("gguf:")
    source = resolve_source(name)
    dtype = torch.bfloat16 if device_is_cuda else torch.float32
    kwargs = {"dtype": dtype}
    if cfg.qlora:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    return tokenizer, model, name


def _peft(model, cfg: TrainConfig):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, use_dora=cfg.lora.dora, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def peak_memory_gb() -> float:
    """Peak GPU memory allocated by torch on CUDA, else the process's peak resident memory."""
    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**30, 2)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)  # Linux reports KiB


def train(cfg: TrainConfig, resume: bool = False, languages: list[str] | None = None, out: Path | None = None,
          log=print, progress: bool = True) -> dict:
    """Train one adapter; returns the final metrics. Writes `out/adapter/`, `out/log.jsonl`, checkpoints."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm import tqdm
    from transformers import get_scheduler

    out = Path(out or cfg.out)
    accelerator = Accelerator(gradient_accumulation_steps=1,
                              mixed_precision="bf16" if torch.cuda.is_available() else "no")
    set_seed(cfg.seed)
    board = _tensorboard(out) if cfg.tensorboard and accelerator.is_main_process else None  # fail before loading
    tokenizer, model, base_name = load_base(cfg, accelerator.device.type == "cuda")
    fmt = resolve_format(tokenizer.chat_template, cfg.chat_template, chat_fallback(base_name))
    if tokenizer.chat_template is None or cfg.chat_template:
        tokenizer.chat_template = fmt.template  # saved with the adapter, so the tuned model keeps its format
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token

    rows = read_mix(cfg.data_path, languages or cfg.languages)
    train_rows, eval_rows = split(rows, cfg.eval_fraction, cfg.eval_max_rows, cfg.seed)
    train_ex, dropped = encode_rows(train_rows, tokenizer, fmt, cfg.max_length)
    eval_ex, _ = encode_rows(eval_rows, tokenizer, fmt, cfg.max_length)
    if not train_ex:
        raise ConfigError(f"No trainable example in {cfg.data_path} (max_length={cfg.max_length}); raise max_length.")

    model = _peft(model, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=int(cfg.warmup_ratio * cfg.max_steps),
                              num_training_steps=cfg.max_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    step = 0
    out.mkdir(parents=True, exist_ok=True)
    ckpt = checkpoints.latest(out)
    if ckpt and not resume:
        raise ConfigError(f"{out} holds checkpoints of an earlier run (latest {ckpt.name}); pass --resume to "
                          f"continue it, or set another `out:` (or delete {out / 'checkpoints'}) to start afresh.")
    if ckpt:
        step = checkpoints.load(accelerator, model, optimizer, scheduler, ckpt)
        log(f"resumed from {ckpt} (step {step})")
    elif resume:
        log(f"no checkpoint in {out}; starting from step 0")
    if accelerator.is_main_process:  # one process owns the files
        if step:
            _truncate_log(out / "log.jsonl", step)  # the dead run's lines after the checkpoint are redone
        else:
            (out / "log.jsonl").unlink(missing_ok=True)
    accelerator.wait_for_everyone()

    def evaluate() -> dict[str, float]:
        model.eval()
        sums, counts = defaultdict(float), defaultdict(int)
        with torch.no_grad():
            for ex in eval_ex:
                batch = {k: v.to(accelerator.device) for k, v in collate([ex], tokenizer.pad_token_id).items()}
                n = ex.enc.trained_tokens
                sums[ex.lang] += model(**batch).loss.item() * n
                counts[ex.lang] += n
        model.train()
        return {lang: round(sums[lang] / counts[lang], 4) for lang in sorted(sums)}

    meta = {"base": cfg.base, "languages": sorted({ex.lang for ex in train_ex}), "train_examples": len(train_ex),
            "eval_examples": len(eval_ex), "dropped_too_long": dropped, "chat_format": fmt.name,
            "config": asdict(cfg)}
    log(f"training {meta['languages']}: {len(train_ex)} examples ({dropped} without an answer left after "
        f"max_length), {len(eval_ex)} held out; {sum(p.numel() for p in params):,} trainable parameters")
    model.train()
    logf = (out / "log.jsonl").open("a", encoding="utf-8") if accelerator.is_main_process else None
    bar = tqdm(total=cfg.max_steps, initial=step, desc="train", unit="step",
               disable=not progress or not accelerator.is_main_process)
    window = {"loss": 0.0, "tokens": 0, "steps": 0, "seconds": 0.0}
    totals = {"train_tokens": 0, "train_seconds": 0.0}  # the loop alone: no eval, no checkpoint writing
    last: dict = {}
    while step < cfg.max_steps:
        started = time.perf_counter()
        batches = [collate(micro_batch(train_ex, step * cfg.grad_accum + micro, cfg.batch_size, cfg.seed,
                                       accelerator.num_processes, accelerator.process_index, cfg.group_by_length),
                           tokenizer.pad_token_id, cfg.packing, cfg.max_length) for micro in range(cfg.grad_accum)]
        # Every trained token of the step weighs the same, whichever micro-batch or process it is in: the
        # loss is a sum over tokens divided by the step's token count (DDP then averages over processes).
        counts = torch.tensor([sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in batches),
                               sum(int(b["attention_mask"].sum()) for b in batches)], device=accelerator.device)
        step_trained, step_tokens = (int(x) for x in accelerator.reduce(counts, reduction="sum"))
        window["tokens"] += step_tokens
        for micro, batch in enumerate(batches):
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            # Gradients are synchronised across processes only on the last micro-batch of a step.
            sync = contextlib.nullcontext() if micro == cfg.grad_accum - 1 else accelerator.no_sync(model)
            with sync:
                loss = model(**batch, num_items_in_batch=max(step_trained, 1)).loss * accelerator.num_processes
                accelerator.backward(loss)
            window["loss"] += loss.item() / accelerator.num_processes
        accelerator.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        window["steps"] += 1
        window["seconds"] += time.perf_counter() - started
        bar.update()
        evaluating = bool(eval_ex) and (step % cfg.eval_every == 0 or step == cfg.max_steps)
        if step % cfg.log_every == 0 or step == cfg.max_steps or evaluating:
            seconds = max(window["seconds"], 1e-9)
            last = {"step": step, "loss": round(window["loss"] / window["steps"], 4), "lr": scheduler.get_last_lr()[0],
                    "tokens_per_s": round(window["tokens"] / seconds, 1),
                    "steps_per_s": round(window["steps"] / seconds, 3), "peak_mem_gb": peak_memory_gb()}
            if evaluating:
                last["eval_loss"] = evaluate()
            if accelerator.is_main_process:
                logf.write(json.dumps(last) + "\n")
                if board:
                    for key, value in last.items():
                        if isinstance(value, dict):
                            board.add_scalars(key, value, step)
                        elif key != "step":
                            board.add_scalar(key, value, step)
                logf.flush()
            bar.set_postfix(loss=last["loss"])
            totals["train_tokens"] += window["tokens"]
            totals["train_seconds"] += window["seconds"]
            window = {"loss": 0.0, "tokens": 0, "steps": 0, "seconds": 0.0}
        if step % cfg.save_every == 0 and step < cfg.max_steps:
            checkpoints.save(accelerator, model, optimizer, scheduler, out, step, cfg.keep_checkpoints)
    bar.close()
    if logf:
        logf.close()
    if board:
        board.close()
    if "eval_loss" not in last and eval_ex:
        last["eval_loss"] = evaluate()
    last.update(totals, train_seconds=round(totals["train_seconds"], 2))
    if accelerator.is_main_process:
        _save_adapter(accelerator.unwrap_model(model), tokenizer, out / "adapter", {**meta, "final": last})
    accelerator.wait_for_everyone()
    return last


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ConfigError("tensorboard: true needs the tensorboard package: pip install tensorboard "
                          "(log.jsonl is written either way).") from exc
    return SummaryWriter(str(out / "tensorboard"))


def _truncate_log(path: Path, step: int) -> None:
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


def _save_adapter(model, tokenizer, path: Path, card: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "polyglot_card.json").write_text(json.dumps(card, indent=2, default=str))
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)



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

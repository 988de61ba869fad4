"""Training speed and memory of `trainer` against TRL's SFTTrainer: same model, data, LoRA, batch, steps,
precision (fp32 on CPU, bf16 on CUDA). Each side runs in its own process so peak memory is its own.

    python bench/sft.py --data runs/multi-3/mix.jsonl                       # smollm2-135m, 30 steps
    python bench/sft.py --model hf:/path/to/model --steps 50 --batch-size 8 --max-length 1024

Prints tokens/s and peak memory of each, the ratio ours/TRL, and the mean loss of the last steps (both
train on assistant tokens only, so the losses are comparable).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _settings(args) -> dict:
    return {"base": args.model, "data": args.data, "chat_template": args.chat_template, "max_length": args.max_length,
            "lora": {"r": args.lora_r, "alpha": args.lora_r, "dropout": 0.05, "target_modules": "all-linear"},
            "learning_rate": 2e-4, "warmup_ratio": 0.0, "max_steps": args.steps, "batch_size": args.batch_size,
            "grad_accum": 1, "gradient_checkpointing": args.gradient_checkpointing, "eval_fraction": 0.0,
            "log_every": 1, "eval_every": 10**9, "save_every": 10**9, "seed": 0}


def run_ours(args, out: Path) -> dict:
    from core.config import load_config
    from trainer.config import TrainConfig
    from trainer.train import peak_memory_gb, train

    cfg = load_config(TrainConfig, {**_settings(args), "out": str(out)})
    final = train(cfg, progress=False, log=lambda m: None)
    losses = [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]
    return {"tokens_per_s": final["train_tokens"] / final["train_seconds"], "peak_mem_gb": peak_memory_gb(),
            "loss_last5": sum(losses[-5:]) / len(losses[-5:]), "seconds": final["train_seconds"]}


def run_trl(args, out: Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from core.chat import resolve_format
    from core.engines.hf import resolve_source
    from core.models import chat_fallback
    from trainer.batches import read_mix
    from trainer.train import peak_memory_gb

    name = args.model.removeprefix("hf:")
    source = resolve_source(name)
    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(source)
    fmt = resolve_format(tok.chat_template, args.chat_template, chat_fallback(name))
    if fmt.name != "chatml":
        raise SystemExit("bench/sft.py compares on the chatml format (TRL's assistant-only loss needs a template "
                         "with {% generation %} tags); pass --chat-template chatml")
    tok.chat_template = CHATML_GENERATION
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.bfloat16 if cuda else torch.float32)
    rows = read_mix(Path(args.data))
    ds = Dataset.from_list([{"messages": r["messages"]} for r in rows])
    cfg = SFTConfig(output_dir=str(out), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                    gradient_accumulation_steps=1, learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=0,
                    logging_steps=1, save_strategy="no", report_to="none", bf16=cuda, use_cpu=not cuda,
                    max_length=args.max_length, packing=False, gradient_checkpointing=args.gradient_checkpointing,
                    assistant_only_loss=True, dataloader_num_workers=0, seed=0)
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_r, lora_dropout=0.05, target_modules="all-linear",
                      task_type="CAUSAL_LM")
    class Timer(TrainerCallback):
        """Times TRL's steps the way ours are timed (the step loop only); counts the non-padding tokens."""

        tokens, seconds, start = 0, 0.0, 0.0

        def on_step_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.seconds += time.perf_counter() - self.start

    timer = Timer()
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok, peft_config=lora,
                         callbacks=[timer])
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    timer.tokens = int(logs[-1].get("num_tokens") or trainer.state.num_input_tokens_seen)
    return {"tokens_per_s": timer.tokens / timer.seconds, "peak_mem_gb": peak_memory_gb(),
            "loss_last5": sum(h["loss"] for h in logs[-5:]) / len(logs[-5:]), "seconds": timer.seconds}


CHATML_GENERATION = (
    "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}{% generation %}"
    "{{ m['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}{% else %}"
    "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")  # core.chat's chatml + tags


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="hf:smollm2-135m")
    p.add_argument("--data", default="runs/multi-3/mix.jsonl")
    p.add_argument("--chat-template", default="chatml")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--side", choices=["ours", "trl"], help=argparse.SUPPRESS)  # internal: run one side
    args = p.parse_args()
    if args.side:
        with tempfile.TemporaryDirectory() as tmp:
            result = (run_ours if args.side == "ours" else run_trl)(args, Path(tmp))
        print("RESULT " + json.dumps(result))
        return
    results = {}
    for side in ("trl", "ours"):
        proc = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--side", side], capture_output=True,
                              text=True, cwd=ROOT)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
        results[side] = json.loads(line[7:])
    ours, trl = results["ours"], results["trl"]
    print(f"model {args.model}, {args.steps} steps x batch {args.batch_size}, max_length {args.max_length}, "
          f"LoRA r={args.lora_r}")
    print(f"{'':6} {'tokens/s':>10} {'peak GB':>8} {'loss(last 5)':>13}")
    for side, r in (("TRL", trl), ("ours", ours)):
        print(f"{side:6} {r['tokens_per_s']:10.1f} {r['peak_mem_gb']:8.2f} {r['loss_last5']:13.4f}")
    print(f"ratio ours/TRL: tokens/s {ours['tokens_per_s'] / trl['tokens_per_s']:.2f}x, "
          f"peak memory {ours['peak_mem_gb'] / trl['peak_mem_gb']:.2f}x")


if __name__ == "__main__":
    main()

"""Training speed and memory of `trainer` against TRL's SFTTrainer, with TRL given every option a user who cares
about speed would set: same model, mix, LoRA, batch, steps, precision (fp32 on CPU, bf16 on CUDA), attention
implementation and gradient checkpointing; TRL groups batches by length, and is also run padding-free (one
packed row per batch, block-diagonal attention), and the faster of the two is the baseline.

Every side runs in its own process (so peak memory is its own); the sides alternate their order over the runs;
tokens/s counts real tokens only (no padding) over the step loop alone. `--ablation` also runs our trainer with
each speed option on its own against the plain implementation (full logits, no packing).

    python bench/sft.py                                  # both packaged models, 3 runs, writes the card
    python bench/sft.py --models hf:smollm2-135m --steps 10 --runs 1 --no-card
    python bench/sft.py --readme                         # only regenerate the README section from the card
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import ROOT, card_bench_args, fmt, measure_and_publish, median_spread, write_card  # noqa: E402

# Our trainer's options per side (TrainConfig fields); "ours" is the default config.
OURS = {"ours": {}}
PLAIN = {"supervised_head": False, "chunked_loss": False, "gap_dropout": False}
ABLATION = {  # each speed option on its own, against the plain implementation
    "plain": PLAIN,
    "plain+supervised-head": {**PLAIN, "supervised_head": True},
    "plain+chunked-loss": {**PLAIN, "chunked_loss": True},
    "plain+gap-dropout": {**PLAIN, "gap_dropout": True},
    "plain+packing": {**PLAIN, "packing": True},
}
# TRL is fed our length-grouped batches in order (a sequential sampler over the rows as our trainer takes
# them): both sides pad exactly alike and train on the same examples step by step, so the loss curves compare.
TRL = {
    "trl": {"group_by_length": "our batches"},
    "trl-padding-free": {"group_by_length": "our batches", "padding_free": True},
}
ATTENTION = "sdpa"


def bench_mix(data: Path, model: str, max_length: int, out: Path) -> tuple[Path, int]:
    """The mix without rows longer than `max_length` tokens (TRL padding-free cannot truncate), and how many
    rows were left out: both sides then train on exactly the same tokens."""
    from transformers import AutoTokenizer

    from core.chat import resolve_format
    from core.engines.hf import resolve_source
    from core.models import chat_fallback
    from trainer.batches import read_mix
    from trainer.encode import encode

    name = model.removeprefix("hf:")
    tok = AutoTokenizer.from_pretrained(resolve_source(name))
    fmt_ = resolve_format(tok.chat_template, "chatml", chat_fallback(name))
    rows = read_mix(data)
    kept = [r for r in rows if len(encode(tok, fmt_, r["messages"], max_length + 1).input_ids) <= max_length]
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    return out, len(rows) - len(kept)


def _settings(args, data: Path, options: dict) -> dict:
    return {"base": args.model, "data": str(data), "chat_template": "chatml", "max_length": args.max_length,
            "lora": {"r": args.lora_r, "alpha": args.lora_r, "dropout": 0.05, "target_modules": "all-linear"},
            "learning_rate": 2e-4, "warmup_ratio": 0.0, "max_steps": args.steps, "batch_size": args.batch_size,
            "grad_accum": 1, "gradient_checkpointing": args.gradient_checkpointing, "eval_fraction": 0.0,
            "log_every": 1, "eval_every": 10**9, "save_every": 10**9, "seed": 0, "group_by_length": True,
            **options}


def run_ours(args, data: Path, out: Path, options: dict) -> dict:
    from core.config import load_config
    from trainer.config import TrainConfig
    from trainer.train import peak_memory_gb, train

    cfg = load_config(TrainConfig, {**_settings(args, data, options), "out": str(out)})
    final = train(cfg, progress=False, log=lambda m: None)
    losses = [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]
    card = json.loads((out / "adapter" / "polyglot_card.json").read_text())
    return {"tokens": final["train_tokens"], "seconds": final["train_seconds"], "peak_mem_gb": peak_memory_gb(),
            "losses": losses, "options": {"attention": ATTENTION, "loss_head": card["loss_head"],
                                          **{k: card["config"][k] for k in ("group_by_length", "packing",
                                                                             "supervised_head", "chunked_loss",
                                                                             "gap_dropout",
                                                                             "gradient_checkpointing")}}}


def run_trl(args, data: Path, out: Path, options: dict) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from core.engines.hf import resolve_source
    from trainer.batches import read_mix
    from trainer.encode import _adds_bos
    from trainer.train import peak_memory_gb

    source = resolve_source(args.model.removeprefix("hf:"))
    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(source)
    # Our encoder starts with BOS when the tokenizer adds one (Gemma does, and scores badly without it).
    tok.chat_template = ("{{ bos_token }}" if _adds_bos(tok) else "") + CHATML_GENERATION
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.bfloat16 if cuda else torch.float32,
                                                 attn_implementation=ATTENTION)
    ds = Dataset.from_list([{"messages": r["messages"]} for r in our_batches(read_mix(data), tok, args)])
    padding_free = options.get("padding_free", False)
    sft_options = {k: v for k, v in options.items() if k != "group_by_length"}
    cfg = SFTConfig(output_dir=str(out), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                    gradient_accumulation_steps=1, learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=0,
                    logging_steps=1, save_strategy="no", report_to="none", bf16=cuda, use_cpu=not cuda,
                    # Padding-free cannot truncate; the bench mix holds only rows that fit max_length.
                    max_length=None if padding_free else args.max_length, packing=False,
                    gradient_checkpointing=args.gradient_checkpointing, assistant_only_loss=True,
                    dataloader_num_workers=0, seed=0, train_sampling_strategy="sequential", **sft_options)
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_r, lora_dropout=0.05, target_modules="all-linear",
                      task_type="CAUSAL_LM")

    class Timer(TrainerCallback):
        """Times TRL's steps the way ours are timed (the step loop only, data loading excluded)."""

        seconds, start = 0.0, 0.0

        def on_step_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.seconds += time.perf_counter() - self.start

    timer = Timer()
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok, peft_config=lora,
                         callbacks=[timer])
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    # TRL's num_tokens counts the attention mask (padded) or the packed row (padding-free): real tokens only.
    return {"tokens": int(logs[-1]["num_tokens"]), "seconds": timer.seconds, "peak_mem_gb": peak_memory_gb(),
            "losses": [h["loss"] for h in logs],
            "options": {"attention": model.config._attn_implementation, "loss_head": "TRL fused (every position "
                        "on CPU, labelled ones on CUDA)", "gradient_checkpointing": args.gradient_checkpointing,
                        **options}}


CHATML_GENERATION = (
    "{% for m in messages %}{% if m['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}{% generation %}"
    "{{ m['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}{% else %}"
    "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")  # core.chat's chatml + tags


def our_batches(rows: list[dict], tok, args) -> list[dict]:
    """The rows in the order our trainer takes them over `args.steps` steps (the same split, encoding and
    length-grouped batch order as trainer/recipes/sft_lora.py with eval_fraction 0)."""
    from core.chat import NAMED_FORMATS
    from trainer.batches import encode_rows, micro_batch, split

    train, _ = split(rows, 0.0, 200, seed=0)
    examples, dropped = encode_rows(train, tok, NAMED_FORMATS["chatml"], args.max_length)
    if dropped or len(examples) != len(train):
        raise SystemExit("bench mix rows without an answer after max_length; rebuild the bench mix")
    row_of = {id(ex): row for ex, row in zip(examples, train)}
    return [row_of[id(ex)] for step in range(args.steps)
            for ex in micro_batch(examples, step, args.batch_size, 0, group_by_length=True)]


def one_side(args) -> None:
    """Run `args.side` in this process and print its result as one RESULT line."""
    options = {**OURS, **ABLATION, **TRL}[args.side]
    runner = run_trl if args.side in TRL else run_ours
    with tempfile.TemporaryDirectory() as tmp:
        result = runner(args, Path(args.mix), Path(tmp) / "run", options)
    result["tokens_per_s"] = result["tokens"] / result["seconds"]
    print("RESULT " + json.dumps(result))


def race(args, model: str, mix: Path) -> dict:
    """Every side `args.runs` times, each in its own process, the order reversed on every other run."""
    main = args.sides.split(",") if args.sides else [*TRL, *OURS]
    # The ablation's sides run once, in the first round (they are compared with "plain", not with TRL).
    sides = main + ([*ABLATION] if args.ablation else [])
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    for r in range(args.runs):
        for side in (sides if r == 0 else main if r % 2 == 0 else main[::-1]):
            cmd = [sys.executable, __file__, "--side", side, "--mix", str(mix), "--model", model,
                   *[f"--{k.replace('_', '-')}={getattr(args, k)}" for k in ("steps", "batch_size", "max_length",
                                                                          "lora_r")],
                   *(["--gradient-checkpointing"] if args.gradient_checkpointing else [])]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
            runs[side].append(json.loads(line[7:]))
            print(f"  run {r + 1} {side:24} {runs[side][-1]['tokens_per_s']:8.1f} tokens/s", flush=True)
    return {side: summarize(rs) for side, rs in runs.items()}


def summarize(runs: list[dict]) -> dict:
    last5 = [statistics.fmean(r["losses"][-5:]) for r in runs]
    return {"tokens_per_s": median_spread([r["tokens_per_s"] for r in runs]),
            "peak_mem_gb": median_spread([r["peak_mem_gb"] for r in runs]),
            "loss_last5": median_spread(last5), "losses": runs[0]["losses"], "tokens": runs[0]["tokens"],
            "options": runs[0]["options"]}


def measure(args) -> dict:
    from trainer.data.build import build
    from trainer.data.recipe import load_recipe

    card = {"settings": {k: getattr(args, k) for k in ("steps", "batch_size", "max_length", "lora_r", "runs",
                                                         "gradient_checkpointing", "ablation")}, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            data = Path(args.data)
        else:  # the multi-3 mix of the seed recipes, built from ../shared/data
            build(load_recipe(ROOT / "configs/recipes/multi-3.yaml", ["stats.tokenizer=null"]), Path(tmp) / "mix",
                  args.data_dir)
            data = Path(tmp) / "mix" / "mix.jsonl"
        card["settings"]["data"] = args.data or "configs/recipes/multi-3.yaml"
        for model in args.models.split(","):
            name = model.removeprefix("hf:")
            mix, left_out = bench_mix(data, model, args.max_length, Path(tmp) / f"{name}.jsonl")
            print(f"{model}: {left_out} rows longer than {args.max_length} tokens left out", flush=True)
            sides = race(args, model, mix)
            best_trl = max(TRL, key=lambda s: sides[s]["tokens_per_s"]["median"])
            ours = sides["ours"]
            card["models"][name] = {
                "rows_left_out": left_out, "sides": sides, "baseline": best_trl,
                "speedup": ours["tokens_per_s"]["median"] / sides[best_trl]["tokens_per_s"]["median"],
                "memory_ratio": ours["peak_mem_gb"]["median"] / sides[best_trl]["peak_mem_gb"]["median"],
                "loss_gap": ours["loss_last5"]["median"] - sides[best_trl]["loss_last5"]["median"],
                "plot": plot_losses(name, sides)}
            print(render(card), flush=True)
            if not args.no_card:  # a model's numbers are kept even if a later model's run is stopped
                write_card("sft", card)
    return card


def plot_losses(name: str, sides: dict) -> str:
    """docs/sft_loss_<model>.png: every side's loss per step (run 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for side, s in sides.items():
        ax.plot(range(1, len(s["losses"]) + 1), s["losses"], label=side, lw=1.2,
                ls="--" if side.startswith("trl") else "-")
    ax.set(xlabel="step", ylabel="training loss (assistant tokens)", title=f"{name}: loss per step")
    ax.legend(fontsize=8)
    path = ROOT / "docs" / f"sft_loss_{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path.relative_to(ROOT))


def render(card: dict) -> str:
    """The README section: per model, the race against TRL, each option of ours on its own, the loss curves."""
    s = card["settings"]
    lines = [f"Measured by `bench/sft.py` on {card.get('date', 'this machine')} ({s['steps']} steps x batch "
             f"{s['batch_size']}, max_length {s['max_length']}, LoRA r={s['lora_r']} on every linear layer, fp32 "
             f"on {card.get('machine', {}).get('cpus', '?')} CPU cores; median (min-max) of {s['runs']} runs per "
             f"side, the order reversed between runs). The baseline is the faster of TRL's two settings.", ""]
    for name, m in card["models"].items():
        sides = m["sides"]
        base = sides[m["baseline"]]
        step_gap = max(abs(a - b) for a, b in zip(sides["ours"]["losses"], base["losses"]))
        lines += [f"**{name}**: ours / TRL ({m['baseline']}) = **{m['speedup']:.2f}x** tokens/s at "
                  f"{m['memory_ratio']:.2f}x the peak memory; loss of the last 5 steps {m['loss_gap']:+.3f} "
                  f"against TRL's, and at most {step_gap:.3f} apart at any step (the same batches; dropout draws "
                  f"differ). {m['rows_left_out']} rows longer than max_length were left out of both sides.", "",
                  "| side | options | tokens/s | vs TRL | peak GB | loss, last 5 |", "|---|---|---|---|---|---|"]
        for side in [*TRL, *OURS]:
            r = sides[side]
            lines.append(f"| {side} | {_options(r)} | {fmt(r['tokens_per_s'], 1)} | "
                         f"{r['tokens_per_s']['median'] / base['tokens_per_s']['median']:.2f}x | "
                         f"{fmt(r['peak_mem_gb'])} | {fmt(r['loss_last5'], 3)} |")
        if "plain" in sides:
            plain = sides["plain"]
            lines += ["", f"Each option on its own ({name}, one run each, against our plain implementation: full "
                      "logits, padded batches):", "", "| side | tokens/s | vs plain | peak GB | vs plain |",
                      "|---|---|---|---|---|"]
            for side in [*ABLATION, "ours"]:
                r = sides[side]
                lines.append(f"| {side} | {r['tokens_per_s']['runs'][0]:.1f} | "
                             f"{r['tokens_per_s']['runs'][0] / plain['tokens_per_s']['runs'][0]:.2f}x | "
                             f"{r['peak_mem_gb']['runs'][0]:.2f} | "
                             f"{r['peak_mem_gb']['runs'][0] / plain['peak_mem_gb']['runs'][0]:.2f}x |")
        lines += ["", f"![{name}: loss per step of every side]({m['plot']})", ""]
    return "\n".join(lines)


def _options(result: dict) -> str:
    shown = {k: v for k, v in result["options"].items() if k not in ("attention", "loss_head") and v}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "-"


def main() -> None:
    ap = card_bench_args(__doc__, "runs/sft")
    ap.add_argument("--data", help="a mix.jsonl (default: configs/recipes/multi-3.yaml built from --data-dir)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--ablation", action="store_true", help="also each speed option of ours on its own")
    ap.add_argument("--sides", help="only these sides, comma-separated (a probe; needs --no-card)")
    ap.add_argument("--no-card", action="store_true", help="print only; leave the card and README alone")
    ap.add_argument("--side", choices=[*OURS, *ABLATION, *TRL], help=argparse_suppress())
    ap.add_argument("--mix", help=argparse_suppress())
    ap.add_argument("--model", default="hf:smollm2-135m", help=argparse_suppress())
    args = ap.parse_args()
    if args.side:
        return one_side(args)
    if args.no_card:
        print(render(measure(args)))
        return
    measure_and_publish(args, "sft", "sft", lambda: measure(args), render)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()

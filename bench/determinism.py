"""How far an experiment's numbers move where bitwise equality is impossible: one arm of a finished experiment
run retrained, exported and answered exactly as the run did, but with PyTorch's CPU kernels forced to another
SIMD level (ATEN_CPU_CAPABILITY=avx2: what a CPU without AVX-512 runs), against the run's own arm. A control
retrains the same arm on this machine's kernels: its adapter must have the same bytes as the run's.

    python bench/determinism.py --run runs/experiments/multi-i-cpu --arm multi-1 --simd avx2
    python bench/determinism.py --readme          # only rewrite docs/determinism.md's table from the card
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import ROOT, SHARED_DATA, read_card, write_card  # noqa: E402

NAME, MARKER, PAGE = "determinism", "determinism", ROOT / "docs" / "determinism.md"


def worker(run: Path, arm: str, out: Path, data_dir: Path, train_only: bool) -> None:
    """Train (and unless `train_only`, export and answer) `arm` of the experiment run `run` into `out`."""
    from experiments import steps
    from experiments.config import load_experiment, train_config_for

    card = json.loads((run / "card.json").read_text())
    exp = load_experiment(card["experiment"], card["scale"])
    s = exp.scales[card["scale"]]
    cfg = train_config_for(exp, arm, card["scale"], run / f"data/{arm}/mix.jsonl", out / "train")
    steps.train_arm(cfg, log=lambda *_: None)
    if train_only:
        return
    steps.export_arm(s.base, out / "train/adapter", s.export, out / "export", log=lambda *_: None)
    steps.generate(steps.exported_spec(out / "export", s.export), exp.generate, s, out / "generate", data_dir)


def _side(run: Path, arm: str, out: Path, data_dir: Path, simd: str | None, train_only: bool) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)} | ({"ATEN_CPU_CAPABILITY": simd} if simd else {})
    cmd = [sys.executable, __file__, "--worker", "--run", str(run), "--arm", arm, "--out", str(out),
           "--data-dir", str(data_dir)] + (["--train-only"] if train_only else [])
    subprocess.run(cmd, env=env, check=True)


def _losses(train_dir: Path) -> dict[int, float]:
    lines = (train_dir / "log.jsonl").read_text().splitlines()
    return {e["step"]: e["loss"] for e in map(json.loads, lines) if "loss" in e}


def _weights(adapter: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(adapter / "adapter_model.safetensors"))


def compare(run: Path, arm: str, side: Path) -> dict:
    """The side against the run's arm: adapter bytes, weights, logged losses, answers and agreement."""
    from eval.results import read_items

    ours, theirs = _weights(run / f"train/{arm}/adapter"), _weights(side / "train/adapter")
    diffs = [float((ours[k] - theirs[k]).abs().max()) for k in ours]
    la, lb = _losses(run / f"train/{arm}"), _losses(side / "train")
    out = {"adapter_bytes_equal": (run / f"train/{arm}/adapter/adapter_model.safetensors").read_bytes()
           == (side / "train/adapter/adapter_model.safetensors").read_bytes(),
           "tensors_differing": sum(d > 0 for d in diffs), "tensors": len(diffs), "max_abs_weight_diff": max(diffs),
           "max_logged_loss_diff": max(abs(la[k] - lb[k]) for k in la), "logged_losses": len(la)}
    if not (side / "generate/card.json").is_file():
        return out
    a = {(r["lang"], r["id"]): r for r in read_items(run / f"generate/{arm}")}
    b = {(r["lang"], r["id"]): r for r in read_items(side / "generate")}
    same = [k for k in a if k in b]
    ca = json.loads((run / f"generate/{arm}/card.json").read_text())["agreement"]
    cb = json.loads((side / "generate/card.json").read_text())["agreement"]
    out |= {"answers": len(same), "answers_differing": sum(a[k]["answers"] != b[k]["answers"] for k in same),
            "agreement": {lang: [ca[lang]["agreement"], cb[lang]["agreement"]] for lang in ca}}
    non_en = [lang for lang in ca if lang != "en" and ca[lang].get("agreement") is not None]
    pooled = [sum(c[lang]["agreement"] * c[lang]["n"] for lang in non_en) / sum(c[lang]["n"] for lang in non_en)
              for c in (ca, cb)]
    out["non_english_agreement"] = [round(x, 4) for x in pooled]
    return out


def render(card: dict) -> str:
    """The measured table for docs/determinism.md."""
    c, x = card["control"], card["other_simd"]
    lines = [f"Measured by `python bench/determinism.py --run {card['run']} --arm {card['arm']} --simd "
             f"{card['simd']}` on {card['numerics']['cpu']} ({card['numerics']['simd']} kernels), {card['date']}:",
             "", "| retrained on | adapter bytes | tensors differing | max abs weight diff | largest logged loss diff "
             "| answers differing | non-English agreement (run → retrained) |", "|---|---|---|---|---|---|---|",
             f"| the same kernels ({card['numerics']['simd']}) | {'equal' if c['adapter_bytes_equal'] else 'differ'} "
             f"| {c['tensors_differing']} of {c['tensors']} | {c['max_abs_weight_diff']:.2g} | "
             f"{c['max_logged_loss_diff']:.4f} | - | - |",
             f"| {card['simd']} kernels | {'equal' if x['adapter_bytes_equal'] else 'differ'} | "
             f"{x['tensors_differing']} of {x['tensors']} | {x['max_abs_weight_diff']:.2g} | "
             f"{x['max_logged_loss_diff']:.4f} | {x.get('answers_differing', '-')} of {x.get('answers', '-')} | "
             + (" → ".join(f"{v:.3f}" for v in x["non_english_agreement"]) if "non_english_agreement" in x else "-")
             + " |", ""]
    rows = [f"| {lang} | {v[0]:.2f} | {v[1]:.2f} |" for lang, v in x.get("agreement", {}).items()
            if None not in v]
    if rows:
        lines += [f"Agreement per language, the run's {card['arm']} against it retrained on {card['simd']} kernels:",
                  "", "| lang | run | retrained |", "|---|---|---|", *rows, ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=ROOT / "runs/experiments/multi-i-cpu")
    ap.add_argument("--arm", default="multi-1")
    ap.add_argument("--simd", default="avx2", help="the other kernel level (ATEN_CPU_CAPABILITY: avx2, default)")
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--readme", action="store_true", help="only rewrite docs/determinism.md's table from the card")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--train-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.run, args.arm, args.out, args.data_dir, args.train_only)
    if not args.readme:
        from core.versions import numerics

        with tempfile.TemporaryDirectory() as tmp:
            _side(args.run, args.arm, Path(tmp) / "control", args.data_dir, None, train_only=True)
            _side(args.run, args.arm, Path(tmp) / "other", args.data_dir, args.simd, train_only=False)
            card = {"run": str(args.run.relative_to(ROOT) if args.run.is_relative_to(ROOT) else args.run),
                    "arm": args.arm, "simd": args.simd, "numerics": numerics(),
                    "control": compare(args.run, args.arm, Path(tmp) / "control"),
                    "other_simd": compare(args.run, args.arm, Path(tmp) / "other")}
        write_card(NAME, card)
    card = read_card(NAME)
    text = render(card)
    print(text)
    from core.markers import update_marked

    if not update_marked(PAGE, MARKER, text):
        print(f"{PAGE} has no <!-- {MARKER}:begin/end --> markers; the table was not written.")


if __name__ == "__main__":
    main()

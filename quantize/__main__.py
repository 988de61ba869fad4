"""`python -m quantize`: export models to the formats people run.

    python -m quantize gguf --model hf:smollm2-135m --types f16,q8_0,q4_k_m --out runs/gguf
    python -m quantize gguf --model runs/merged --types f16 --out runs/gguf --no-verify
    python -m quantize bnb --model hf:smollm2-135m --bits 4 --out runs/smollm2-nf4
    python -m quantize lora --adapter runs/smollm2-135m-lora/adapter --base hf:smollm2-135m --out de.gguf
    python -m quantize onnx --model hf:smollm2-135m --out runs/smollm2-onnx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m quantize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gguf", help="export to GGUF (f32/f16/bf16) and llama.cpp quant types, verified")
    g.add_argument("--model", required=True, help="a transformers model dir, or an hf: spec (e.g. hf:gemma3-270m)")
    g.add_argument("--types", default="f16,q8_0,q4_k_m", help="comma-separated: f32, f16, bf16, q8_0, q4_k_m, ...")
    g.add_argument("--out", required=True, type=Path)
    g.add_argument("--no-verify", action="store_true", help="skip the comparison with the transformers model")
    b = sub.add_parser("bnb", help="save a bitsandbytes 4-bit (NF4) or 8-bit checkpoint, reloaded and verified")
    b.add_argument("--model", required=True, help="a transformers model dir, or an hf: spec")
    b.add_argument("--bits", type=int, default=4, choices=(4, 8))
    b.add_argument("--out", required=True, type=Path)
    lo = sub.add_parser("lora", help="write a LoRA adapter as a llama.cpp adapter GGUF (use with lora_path)")
    lo.add_argument("--adapter", required=True, type=Path)
    lo.add_argument("--base", required=True, help="the base the adapter was trained on (dir or hf: spec)")
    lo.add_argument("--out", required=True, type=Path, help="the .gguf file to write")
    o = sub.add_parser("onnx", help="export to ONNX through optimum-onnx (its own environment), verified in "
                                    "onnxruntime")
    o.add_argument("--model", required=True, help="a transformers model dir, or an hf: spec")
    o.add_argument("--out", required=True, type=Path)
    o.add_argument("--no-verify", action="store_true", help="skip the comparison with the transformers model")
    return p


def _run(args: argparse.Namespace) -> None:
    from quantize.gguf_job import model_dir_of, run, summary, verify_table

    if args.command == "bnb":
        from quantize.bnb_export import export_bnb

        report = export_bnb(model_dir_of(args.model), args.out, args.bits)
        print(f"{args.bits}-bit checkpoint in {args.out} ({report['bytes'] / 1e6:.1f} MB); vs full precision: "
              f"top-1 {report['mean']['top1']:.3f}, KL {report['mean']['kl']:.4f}")
        for lang, r in report["per_language"].items():
            print(f"  {lang}: top-1 {r['top1']:.3f}  KL {r['kl']:.4f}")
    elif args.command == "lora":
        from quantize.lora_gguf import export_lora_gguf

        path = export_lora_gguf(args.adapter, model_dir_of(args.base), args.out)
        print(f"{path} ({path.stat().st_size / 1e6:.1f} MB): load with Llama(base.gguf, lora_path=...)")
    elif args.command == "onnx":
        from quantize.onnx_export import export_onnx

        card = export_onnx(model_dir_of(args.model), args.out, check=not args.no_verify,
                           log=lambda m: print(m, file=sys.stderr))
        print(f"{args.out}/model.onnx ({card['bytes'] / 1e6:.1f} MB, {card['seconds']} s)")
        if "verify" in card:
            print(verify_table(card["verify"]))
    else:
        card = run(args.model, [t.strip().lower() for t in args.types.split(",") if t.strip()], args.out,
                   check=not args.no_verify, log=lambda m: print(m, file=sys.stderr))
        print(summary(card))
        print(f"\nfiles and card.json in {args.out}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    args = _parser().parse_args(argv)
    return run_command(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())

"""Export per type: conversion time, file size, and generation tokens/s (GGUF types in llama-cpp-python,
`onnx` in onnxruntime), each as a ratio against the transformers (hf, fp32) model measured in the same run.

    python bench/quantize.py [--model hf:smollm2-135m] [--types f16,q8_0,q6_k,q4_k_m,q4_0,onnx] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engines import load  # noqa: E402
from quantize.gguf_export import export_gguf  # noqa: E402
from quantize.gguf_job import model_dir_of  # noqa: E402
from quantize.llama_quant import quantize_gguf  # noqa: E402

PROMPTS = ["The history of the printing press begins", "Der Hund läuft schnell über die Wiese und",
           "我们今天早上去了公园，然后", "La recette traditionnelle de la ratatouille"]


def tokens_per_s(spec: str, max_tokens: int) -> float:
    engine = load(spec)
    "".join(engine.generate(PROMPTS[0], max_tokens=4, temperature=0))  # warm-up
    tokens, start = 0, time.perf_counter()
    for prompt in PROMPTS:
        tokens += engine.count_tokens("".join(engine.generate(prompt, max_tokens=max_tokens, temperature=0)))
    speed = tokens / (time.perf_counter() - start)
    engine.close()
    return speed


def onnx_tokens_per_s(out: Path, src: Path, max_tokens: int) -> float:
    """Greedy generation through onnxruntime with the KV cache (what `quantize onnx` verifies with)."""
    from transformers import AutoTokenizer

    from quantize.onnx_export import OnnxRunner

    tok = AutoTokenizer.from_pretrained(src)
    runner = OnnxRunner(out / "model.onnx", tok.eos_token_id)
    runner.greedy(tok(PROMPTS[0]).input_ids, 4)  # warm-up
    tokens, start = 0, time.perf_counter()
    for prompt in PROMPTS:
        tokens += len(runner.greedy(tok(prompt).input_ids, max_tokens))
    return tokens / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="hf:smollm2-135m")
    p.add_argument("--types", default="f16,q8_0,q6_k,q4_k_m,q4_0,onnx")
    p.add_argument("--max-tokens", type=int, default=48)
    args = p.parse_args()
    src = model_dir_of(args.model)
    hf_bytes = sum(f.stat().st_size for f in src.glob("*.safetensors"))
    hf_speed = tokens_per_s(f"hf:{src}", args.max_tokens)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        f16 = export_gguf(src, Path(tmp) / "m-f16.gguf", "f16")
        f16_seconds = time.perf_counter() - start
        for t in args.types.split(","):
            start = time.perf_counter()
            if t == "onnx":
                from quantize.onnx_export import ensure_env, export_onnx

                ensure_env()  # built once; not part of the conversion time
                start = time.perf_counter()
                card = export_onnx(src, Path(tmp) / "onnx", check=False, log=lambda m: None)
                rows.append((t, time.perf_counter() - start, card["bytes"],
                             onnx_tokens_per_s(Path(tmp) / "onnx", src, args.max_tokens)))
                continue
            path = f16 if t == "f16" else quantize_gguf(f16, Path(tmp) / f"m-{t}.gguf", t)
            seconds = f16_seconds if t == "f16" else time.perf_counter() - start
            rows.append((t, seconds, path.stat().st_size, tokens_per_s(f"gguf:{path}", args.max_tokens)))
    print(f"model {args.model}; baseline: transformers fp32 ({hf_bytes / 1e6:.0f} MB, {hf_speed:.1f} tokens/s)")
    print(f"{'type':8} {'convert s':>9} {'MB':>8} {'size/hf':>8} {'tok/s':>8} {'speed/hf':>9}")
    for t, seconds, size, speed in rows:
        print(f"{t:8} {seconds:9.1f} {size / 1e6:8.1f} {size / hf_bytes:8.2f} {speed:8.1f} {speed / hf_speed:9.2f}")


if __name__ == "__main__":
    main()

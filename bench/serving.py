"""Serving throughput: `eval generate` through a managed llama-server at concurrency 8 against 1 (the baseline,
the same served engine, one request at a time), as a share of the hardware's own limit, which llama.cpp's
`llama-batched-bench` (built from the same source) measures in the same run: total tokens/s at 1, 8 and 16
parallel sequences of 64-token prompts and 48-token answers. Also single-stream decode through the server
against in-process llama-cpp-python on the same prompts.

    python bench/serving.py [--models smollm2-135m,gemma3-270m] [--prompts 64] [--runs 3] [--readme]

Each phase starts a fresh server (its start is not timed; no prompt cache is shared between phases). Prompts:
the packaged examples, 4 per language in 16 languages (64), greedy, at most 48 tokens. Every figure is the
median of --runs runs with the spread; the card goes to bench/results/serving.json and --readme rewrites the
README's serving table from it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import fmt, median_spread, update_readme, write_card  # noqa: E402

PP, TG = 64, 48


def batched_bench(gguf: Path, parallel: list[int], pp: int = PP, tg: int = TG) -> dict[int, dict]:
    """llama-batched-bench: {B: {"speed": total tokens/s, "speed_tg": decode tokens/s}} at pp + tg tokens."""
    from core.llama_tools import tool

    cmd = [str(tool("llama-batched-bench")), "-m", str(gguf), "-c", str(max(parallel) * (pp + tg) + 256),
           "-b", "2048", "-ub", "512", "-npp", str(pp), "-ntg", str(tg), "-npl", ",".join(map(str, parallel)),
           "-t", str(os.cpu_count()), "--output-format", "jsonl"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    rows = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    return {r["pl"]: {"speed": r["speed"], "speed_tg": r["speed_tg"]} for r in rows}


def server_profile(metrics: str) -> dict:
    """From llama-server's /metrics: decode calls, sequences per decode call, prompt and generated tokens."""
    values = {}
    for line in metrics.splitlines():
        if line.startswith("llamacpp:"):
            name, _, value = line.partition(" ")
            values[name.removeprefix("llamacpp:")] = float(value)
    names = {"decode_calls": "n_decode_total", "busy_slots_per_decode": "n_busy_slots_per_decode",
             "prompt_tokens": "prompt_tokens_total", "generated_tokens": "tokens_predicted_total"}
    return {key: values.get(name) for key, name in names.items()}


def generate_phase(model: str, concurrency: int, prompts: int, tmp: Path) -> dict:
    """One `eval generate` run of the examples set on a fresh served:MODEL (its start not timed); the card's
    throughput and agreement, and the server's own profile of the phase."""
    from core.engines.served import SHARED_ENV, gguf_of, server_options
    from core.engines.spec import parse_spec
    from core.llama_server import LlamaServer
    from eval.generate import run_generate

    per_lang = max(1, prompts // 16)
    out = tmp / f"{model}-c{concurrency}-{time.time()}"
    spec = f"served:{model}+parallel=8+ctx=1024"
    parsed = parse_spec(spec)
    with LlamaServer(gguf_of(parsed), model, server_options(parsed), log=tmp / "server.log") as server:
        os.environ[SHARED_ENV] = json.dumps({spec: server.url})
        try:
            card = run_generate(spec, "examples", out, limit=per_lang, max_tokens=TG, concurrency=concurrency)
        finally:
            del os.environ[SHARED_ENV]
        profile = server_profile(server.metrics())
    from eval.results import read_items

    records = read_items(out)
    answers = {(r["lang"], r["id"]): r["answers"][0] for r in records}
    return {**card["throughput"], "answers": answers, "server": profile,
            "agreement": sum(r["detected"][0][0] == r["lang"] for r in records) / len(records),
            "nonempty": sum(bool(a.strip()) for a in answers.values()) / len(records)}


def single_stream(model: str) -> dict:
    """Decode tokens/s of one stream: in-process llama-cpp-python vs the same prompts through served:MODEL."""
    from core.engines import load

    prompts = ["Write a short story about a lighthouse keeper.", "Explique la photosynthèse en détail.",
               "Erkläre, wie ein Verbrennungsmotor funktioniert."]
    out = {}
    for label, spec in (("in_process", model), ("served", f"served:{model}+parallel=1")):
        engine = load(spec)
        list(engine.generate([{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0))  # warm
        tokens, seconds = 0, 0.0
        for p in prompts:
            start = time.perf_counter()
            text = "".join(engine.generate([{"role": "user", "content": p}], max_tokens=128, temperature=0))
            seconds += time.perf_counter() - start
            tokens += engine.count_tokens(text)
        engine.close()
        out[label] = tokens / seconds
    return out


def measure(model: str, prompts: int, tmp: Path) -> dict:
    from core.models import packaged_gguf

    limit = batched_bench(packaged_gguf(model), [1, 8, 16])
    c1 = generate_phase(model, 1, prompts, tmp)
    c8 = generate_phase(model, 8, prompts, tmp)
    a1, a8 = c1.pop("answers"), c8.pop("answers")
    stream = single_stream(model)
    return {"limit": limit, "c1": c1, "c8": c8, "stream": stream,
            "same_answers": sum(a1[k] == a8.get(k) for k in a1) / len(a1),
            "limit_ratio_8": limit[8]["speed"] / limit[1]["speed"],
            "limit_ratio_16": limit[16]["speed"] / limit[1]["speed"],
            "ratio_tokens": c8["tokens_per_s"] / c1["tokens_per_s"],
            "ratio_requests": c8["requests_per_s"] / c1["requests_per_s"],
            "stream_ratio": stream["served"] / stream["in_process"]}


def summarize(runs: list[dict]) -> dict:
    keys = ["limit_ratio_8", "limit_ratio_16", "ratio_tokens", "ratio_requests", "stream_ratio", "same_answers"]
    out = {k: median_spread([r[k] for r in runs]) for k in keys}
    for b in (1, 8, 16):
        out[f"limit_{b}"] = median_spread([r["limit"][b]["speed"] for r in runs])
        out[f"limit_tg_{b}"] = median_spread([r["limit"][b]["speed_tg"] for r in runs])
    for c in ("c1", "c8"):
        for k in ("tokens_per_s", "requests_per_s", "latency_p50", "latency_p95", "agreement", "nonempty"):
            out[f"{c}_{k}"] = median_spread([r[c][k] for r in runs])
    out["share_of_limit"] = median_spread([r["ratio_tokens"] / r["limit_ratio_8"] for r in runs])
    return out


def table(models: dict[str, dict]) -> str:
    lines = ["| model | batched-bench tokens/s at 1 / 8 / 16 | limit 8/1 | `eval generate` c8/c1 (tokens/s) | "
             "share of limit | language agreement c1 / c8 | same answers c1, c8 | served / in-process decode |",
             "|---|---|---|---|---|---|---|---|"]
    for model, s in models.items():
        lines.append(
            f"| {model} | {s['limit_1']['median']:.0f} / {s['limit_8']['median']:.0f} / {s['limit_16']['median']:.0f} "
            f"| {fmt(s['limit_ratio_8'], unit='x')} | {fmt(s['ratio_tokens'], unit='x')} "
            f"| {fmt(s['share_of_limit'], digits=2)} | {s['c1_agreement']['median']:.2f} / "
            f"{s['c8_agreement']['median']:.2f} | {s['same_answers']['median']:.2f} "
            f"| {fmt(s['stream_ratio'], unit='x')} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="smollm2-135m,gemma3-270m")
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--readme", action="store_true", help="rewrite the README's serving table from this run's card")
    args = p.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            runs = []
            for i in range(args.runs):
                runs.append(measure(model, args.prompts, Path(tmp)))
                r = runs[-1]
                print(f"{model} run {i + 1}: limit 8/1 {r['limit_ratio_8']:.2f}x, eval generate c8/c1 "
                      f"{r['ratio_tokens']:.2f}x tokens/s ({r['ratio_requests']:.2f}x requests/s), served/in-process "
                      f"decode {r['stream_ratio']:.2f}x", flush=True)
            results[model] = {"summary": summarize(runs), "runs": runs}
    card = {"prompts": args.prompts, "pp": PP, "tg": TG, "models": results}
    path = write_card("serving", card)
    text = table({m: r["summary"] for m, r in results.items()})
    print(text)
    for model, r in results.items():
        s = r["summary"]
        print(f"{model}: eval generate at concurrency 8 reaches {s['share_of_limit']['median']:.0%} of "
              f"llama-batched-bench's 8/1 ratio (target >= 90%); latency p50 c1 {s['c1_latency_p50']['median']:.2f} s, "
              f"c8 {s['c8_latency_p50']['median']:.2f} s")
    print(f"card: {path}")
    if args.readme and not update_readme("serving", text + f"\n\n(`python bench/serving.py --readme`, "
                                          f"{card['prompts']} prompts, median of {args.runs} runs with the spread)"):
        print("README has no <!-- serving:begin --> marker; table not written", file=sys.stderr)


if __name__ == "__main__":
    main()

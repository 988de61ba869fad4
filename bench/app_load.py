"""Latency and throughput of the Gradio app's `/chat` API under load: many concurrent sessions (each its own
gradio_client.Client in its own thread, all starting together) against one session alone (the baseline),
both measured in the same run against the same app; and llama.cpp's `llama-batched-bench` at 1 and 16
sequences of the same prompt and reply lengths, the hardware's limit for the throughput ratio.

    python bench/app_load.py [--model smollm2-135m] [--sessions 20] [--turns 3] [--max-tokens 32] [--runs 3]
    python bench/app_load.py --in-process        # the app runs the model in process (one answer at a time)
    python bench/app_load.py --url http://127.0.0.1:7860/     # a running app (its --concurrency is not known)

Each load session sends its turns one after another (the first N packaged example prompts of its language;
the languages are taken in turn). The baseline session sends the load phase's whole prompt mix (20 x 3 = 60
requests) one after another. Prints p50/p95 request latency (s), throughput (requests/s over the phase's wall
time), the mean of the replies' own `seconds` (`app s`: generation plus any wait; the rest of a latency is
Gradio's queue and transport) and the ratios load/single. Every request must return a non-empty reply:
failures are printed and the exit status is 1. Each figure is the median of --runs app starts with the spread
(card: bench/results/app_load-MODEL.json). The clients share the 2 cores with the app and its server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import fmt, median_spread, read_card, released_together, update_readme, write_card  # noqa: E402
from eval.prompt_sets import get_set, load_prompts  # noqa: E402
from tests.servers import free_port, serve  # noqa: E402


def prompts_for(lang: str, turns: int) -> list[str]:
    """The first `turns` example prompts of `lang` (repeated if it has fewer)."""
    texts = [p.turns[0] for p in load_prompts(get_set("examples"), lang, None)]
    return [texts[i % len(texts)] for i in range(turns)]


def run_session(url: str, prompts: list[str], args, results: list, errors: list, name: str,
                barrier: threading.Barrier | None = None) -> None:
    """One session: its own Client, then its prompts in order; appends (latency, the reply's `seconds`) to
    results, failures to errors."""
    from gradio_client import Client

    client = None
    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # noqa: BLE001 - any failure is a result to report, not a crash
        errors.append((name, "connect", f"{type(exc).__name__}: {exc}"))
    if barrier is not None:
        barrier.wait()  # even a session that could not connect, so that the others are not left waiting
    if client is None:
        errors.extend((name, f"turn {t + 1}", "not sent (no client)") for t in range(len(prompts)))
        return
    for t, prompt in enumerate(prompts):
        start = time.perf_counter()
        try:
            out = client.predict(prompt, args.model, args.max_tokens, args.temperature, api_name="/chat")
            reply = out.get("reply") if isinstance(out, dict) else None
            if not isinstance(reply, str) or not reply.strip():
                raise ValueError(f"empty or missing reply: {out!r}"[:300])
            results.append((time.perf_counter() - start, float(out.get("seconds") or 0)))
        except Exception as exc:  # noqa: BLE001
            errors.append((name, f"turn {t + 1}", f"{type(exc).__name__}: {exc}"[:500]))


def phase(url: str, sessions: list[list[str]], args, errors: list) -> dict:
    """Run the sessions at once (one thread each, released together); latency percentiles and throughput."""
    results: list[tuple[float, float]] = []
    barrier = threading.Barrier(len(sessions) + 1)  # +1: this thread starts the clock when all are connected
    threads = [threading.Thread(target=run_session, args=(url, p, args, results, errors, f"session {i}", barrier))
               for i, p in enumerate(sessions)]
    wall = released_together(threads, barrier)
    lat = np.array([r[0] for r in results] or [np.nan])
    return {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
            "rps": len(results) / wall, "ok": len(results), "n": sum(map(len, sessions)), "wall": wall,
            # the app's own timing: separates slower generation (CPU contention) from waiting in Gradio's queue
            "app": float(np.mean([r[1] for r in results] or [np.nan]))}


def prompt_tokens(model: str, prompts: list[str]) -> int:
    """Mean tokens of the prompts as the model sees them (its chat template applied), for batched-bench."""
    from core.engines import load

    engine = load(f"served:{model}+parallel=1")
    try:
        return round(sum(len(engine.prompt_tokens([{"role": "user", "content": p}])) for p in prompts) / len(prompts))
    finally:
        engine.close()


def bench(url: str, args, concurrency: str) -> tuple[dict, list]:
    """Warm up, then one session sending the load phase's whole prompt mix in turn (the baseline), then the
    load; returns the measurements and the failed requests."""
    langs = get_set("examples").langs
    errors: list = []
    # The first request loads the model into the app: keep that out of both measurements.
    run_session(url, prompts_for("en", 1), args, [], errors, "warm-up")
    sessions = [prompts_for(langs[i % len(langs)], args.turns) for i in range(args.sessions)]
    single = phase(url, [[p for s in sessions for p in s]], args, errors)
    load = phase(url, sessions, args, errors)
    print(f"model {args.model}  max_tokens {args.max_tokens}  temperature {args.temperature}  "
          f"sessions {args.sessions}  turns {args.turns}  app --concurrency {concurrency}")
    print(f"{'':<22}{'p50 s':>8}{'p95 s':>8}{'req/s':>8}{'ok/n':>9}{'wall s':>8}{'app s':>8}")
    for label, m in (("1 session (baseline)", single), (f"{args.sessions} sessions", load)):
        print(f"{label:<22}{m['p50']:>8.2f}{m['p95']:>8.2f}{m['rps']:>8.2f}{m['ok']:>5}/{m['n']:<3}"
              f"{m['wall']:>8.1f}{m['app']:>8.2f}")
    ratio = {k: load[k] / single[k] if single[k] else float("nan") for k in ("p50", "p95", "rps")}  # nan: none ok
    print(f"ratio load/single: p50 {ratio['p50']:.2f}x  p95 {ratio['p95']:.2f}x  throughput {ratio['rps']:.2f}x")
    for name, what, msg in errors:
        print(f"ERROR {name} {what}: {msg}")
    print(f"{len(errors)} failed request(s)" if errors else "all requests succeeded")
    return {"single": single, "load": load, "ratio": ratio, "errors": len(errors),
            "prompts": [p for s in sessions for p in s]}, errors


def one_run(args, tmp: Path) -> dict:
    """Start the app, measure, add llama-batched-bench at 1 and 16 sequences of the same lengths."""
    from bench.serving import batched_bench
    from core.models import packaged_gguf

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tmp / f"app-{port}.log"
    extra = ["--in-process"] if args.in_process else []
    with serve(["app.py", "--port", str(port), "--runs-dir", str(tmp / "runs"),
                "--concurrency", str(args.concurrency), *extra], url, log):
        result, errors = bench(url, args, str(args.concurrency))
    if errors:  # the app's side of the failures
        print(f"app log (last 3000 chars):\n{log.read_text()[-3000:]}")
    pp = prompt_tokens(args.model, result.pop("prompts"))
    limit = batched_bench(packaged_gguf(args.model), [1, 16], pp=pp, tg=args.max_tokens)
    result |= {"pp": pp, "tg": args.max_tokens, "limit": limit, "limit_ratio": limit[16]["speed"] / limit[1]["speed"]}
    result["share_of_limit"] = result["ratio"]["rps"] / result["limit_ratio"]
    print(f"llama-batched-bench 16/1 at {pp}+{args.max_tokens} tokens: {result['limit_ratio']:.2f}x; throughput share "
          f"of that limit {result['share_of_limit']:.0%}", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy, for repeatable replies")
    p.add_argument("--turns", type=int, default=3, help="requests per session, sent one after another")
    p.add_argument("--sessions", type=int, default=20, help="concurrent sessions in the load phase")
    p.add_argument("--concurrency", type=int, default=16, help="app.py --concurrency (ignored with --url)")
    p.add_argument("--in-process", action="store_true", help="the app runs GGUF models in process (the old way)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--readme", action="store_true", help="rewrite the README's app load table from the card")
    p.add_argument("--url", default=None, help="a running app instead of starting one (one run, no card)")
    args = p.parse_args()
    if args.url:
        sys.exit(1 if bench(args.url, args, "unknown (--url)")[1] else 0)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(args, Path(tmp)) for _ in range(args.runs)]
    summary = {"p50_ratio": median_spread([r["ratio"]["p50"] for r in runs]),
               "p95_ratio": median_spread([r["ratio"]["p95"] for r in runs]),
               "rps_ratio": median_spread([r["ratio"]["rps"] for r in runs]),
               "limit_ratio": median_spread([r["limit_ratio"] for r in runs]),
               "share_of_limit": median_spread([r["share_of_limit"] for r in runs]),
               "single_p50": median_spread([r["single"]["p50"] for r in runs]),
               "load_p50": median_spread([r["load"]["p50"] for r in runs]),
               "load_p95": median_spread([r["load"]["p95"] for r in runs]),
               "errors": sum(r["errors"] for r in runs)}
    name = f"app_load-{args.model}" + ("-in-process" if args.in_process else "")
    path = write_card(name, {"model": args.model, "sessions": args.sessions, "turns": args.turns,
                             "max_tokens": args.max_tokens, "concurrency": args.concurrency,
                             "in_process": args.in_process, "summary": summary, "runs": runs})
    row = _row({"model": args.model + (" (in process)" if args.in_process else ""), "summary": summary})
    print(row)
    print(f"card: {path}")
    if args.readme:
        rows = [read_card(n) for n in ("app_load-smollm2-135m", "app_load-gemma3-270m")]
        print(f"README rows from {sum(r is not None for r in rows)} cards")
        table = [APP_TABLE_HEAD] + [_row(c) for c in rows if c]
        update_readme("app-load", "\n".join(table))
    sys.exit(1 if summary["errors"] else 0)


APP_TABLE_HEAD = ("| model | 1 session p50 | 20 sessions p50 / p95 | p50 ratio | throughput ratio | batched-bench 16/1 "
                  "| share of limit | errors |\n|---|---|---|---|---|---|---|---|")


def _row(card: dict) -> str:
    s = card["summary"]
    return (f"| {card['model']} | {s['single_p50']['median']:.2f} s | {s['load_p50']['median']:.2f} / "
            f"{s['load_p95']['median']:.2f} s | {fmt(s['p50_ratio'], 1, 'x')} | {fmt(s['rps_ratio'], 2, 'x')} | "
            f"{fmt(s['limit_ratio'], 2, 'x')} | {fmt(s['share_of_limit'])} | {s['errors']} |")


if __name__ == "__main__":
    main()

"""Judge throughput: judgments/s of `python -m eval judge` (pairwise, both orders) against a served
smollm2-135m (llama-server, 8 slots, continuous batching) at concurrency 1 (the baseline) and N, as a ratio,
measured in the same run; and llama.cpp's `llama-batched-bench` at 1 and N sequences of the judge calls' own
mean prompt and reply lengths, the hardware's limit for that ratio.

    python bench/judge.py [--questions 8] [--concurrency 8] [--max-tokens 96] [--runs 3] [--readme]

The answers judged are MT-Bench-X's English GPT-4 reference answers (A) against their first sentence (B).
The server is warmed before either side is timed, its host prompt cache is off (`--cache-ram 0`) so the
second side does not find the first side's prompts cached, and the order of the sides alternates per run.
Each figure is the median of --runs runs with the spread (card: bench/results/judge.json)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import fmt, median_spread, update_readme, write_card  # noqa: E402
from bench.serving import batched_bench, server_profile  # noqa: E402
from core.engines import complete, load  # noqa: E402
from core.llama_server import LlamaServer, ServerOptions  # noqa: E402
from core.models import packaged_gguf  # noqa: E402
from core.readers import read_local  # noqa: E402
from eval.judge import run_judge  # noqa: E402
from eval.results import append_items  # noqa: E402
from eval.results import write_card as write_answers_card  # noqa: E402


def answer_sets(data_dir: Path, n: int, tmp: Path) -> tuple[Path, Path]:
    """Two `generate`-style answer dirs over the first `n` MT-Bench-X questions that have a reference."""
    root = data_dir / "mt_bench_x" / "mt_bench_EN"
    refs = {r["question_id"]: r["choices"][0]["turns"]
            for _, r in read_local(root / "reference_answer" / "gpt-4.jsonl")}
    questions = [q for _, q in read_local(root / "question.jsonl") if q["question_id"] in refs][:n]
    dirs = []
    for name, cut in (("full", lambda t: t), ("short", lambda t: t.split(". ")[0] + ".")):
        out = tmp / name
        out.mkdir()
        write_answers_card(out, {"model": name, "set": "mt_bench_x", "langs": ["en"], "turns": 1})
        append_items(out, [{"set": "mt_bench_x", "lang": "en", "id": q["question_id"], "category": q["category"],
                            "turns": q["turns"][:1], "answers": [cut(refs[q["question_id"]][0])],
                            "detected": [["en", 1.0]]} for q in questions])
        dirs.append(out)
    return dirs[0], dirs[1]


def judge_once(a: Path, b: Path, server: LlamaServer, out: Path, args, c: int) -> dict:
    """One judge run at concurrency c; its rate, mean call lengths, and the prompt tokens the server computed
    (a prompt prefix found in a slot's cache is not computed again)."""
    url = server.url
    before = server_profile(server.metrics())
    card = run_judge("pairwise", a, f"openai:smollm2@{url}", out, b=b, data_dir=args.data_dir, turns=1,
                     concurrency=c, max_tokens=args.max_tokens, english_prompts=True, log=lambda m: None)
    calls = card["calls_this_run"]
    return {"rate": card["judgments_per_s"], "calls": calls, "unparseable": card["results"]["unparseable"]["n"],
            "prompt_tokens": card["usage"]["prompt_tokens"] / max(calls, 1),
            "completion_tokens": card["usage"]["completion_tokens"] / max(calls, 1),
            "prompt_tokens_computed": server_profile(server.metrics())["prompt_tokens"] - before["prompt_tokens"],
            "prompt_tokens_sent": card["usage"]["prompt_tokens"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=96)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--readme", action="store_true", help="rewrite the README's judge line from this run's card")
    p.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = p.parse_args()
    n = args.concurrency
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        a, b = answer_sets(args.data_dir, args.questions, tmp)
        options = ServerOptions(parallel=n, ctx=4096, extra=("--cache-ram", "0"))
        with LlamaServer(packaged_gguf("smollm2-135m"), "smollm2", options, log=tmp / "server.log") as server:
            warm = load(f"openai:smollm2@{server.url}")
            for _ in range(2):
                complete(warm, [{"role": "user", "content": "Say hello."}], max_tokens=16, temperature=0)
            for i in range(args.runs):
                sides = (1, n) if i % 2 == 0 else (n, 1)
                got = {c: judge_once(a, b, server, tmp / f"run{i}-c{c}", args, c) for c in sides}
                pp, tg = round(got[1]["prompt_tokens"]), max(1, round(got[1]["completion_tokens"]))
                limit = batched_bench(packaged_gguf("smollm2-135m"), [1, n], pp=pp, tg=tg)
                run = {"c1": got[1], f"c{n}": got[n], "pp": pp, "tg": tg, "limit": limit,
                       "ratio": got[n]["rate"] / got[1]["rate"], "limit_ratio": limit[n]["speed"] / limit[1]["speed"]}
                run["share_of_limit"] = run["ratio"] / run["limit_ratio"]
                runs.append(run)
                print(f"run {i + 1}: concurrency 1 {got[1]['rate']:.3f} judgments/s, {n}: {got[n]['rate']:.3f} "
                      f"-> {run['ratio']:.2f}x; llama-batched-bench {n}/1 at {pp}+{tg} tokens: "
                      f"{run['limit_ratio']:.2f}x; share {run['share_of_limit']:.0%}; prompt tokens computed / "
                      f"sent: c1 {got[1]['prompt_tokens_computed']:.0f}/{got[1]['prompt_tokens_sent']}, c{n} "
                      f"{got[n]['prompt_tokens_computed']:.0f}/{got[n]['prompt_tokens_sent']}", flush=True)
    summary = {k: median_spread([r[k] for r in runs]) for k in ("ratio", "limit_ratio", "share_of_limit")}
    for c in (1, n):
        summary[f"c{c}_computed"] = median_spread([r[f"c{c}"]["prompt_tokens_computed"] /
                                                   max(r[f"c{c}"]["prompt_tokens_sent"], 1) for r in runs])
    summary["c1_rate"] = median_spread([r["c1"]["rate"] for r in runs])
    summary[f"c{n}_rate"] = median_spread([r[f"c{n}"]["rate"] for r in runs])
    path = write_card("judge", {"questions": args.questions, "concurrency": n, "max_tokens": args.max_tokens,
                                "summary": summary, "runs": runs})
    line = (f"`bench/judge.py` (served smollm2-135m judge, {args.questions} MT-Bench-X pairs in both orders, "
            f"median of {args.runs} runs): {summary['c1_rate']['median']:.2f} -> "
            f"{summary[f'c{n}_rate']['median']:.2f} judgments/s, concurrency {n}/1 = "
            f"{fmt(summary['ratio'], unit='x')}; "
            f"llama-batched-bench's {n}/1 at the same lengths: {fmt(summary['limit_ratio'], unit='x')}; share of "
            f"the limit {fmt(summary['share_of_limit'])}. Share of the prompt tokens the server computed (the rest "
            f"came from a slot's prompt cache): {summary['c1_computed']['median']:.2f} at concurrency 1, "
            f"{summary[f'c{n}_computed']['median']:.2f} at {n}.")
    print(line)
    print(f"card: {path}")
    if args.readme and not update_readme("judge-bench", line):
        print("README has no <!-- judge-bench:begin --> marker; line not written", file=sys.stderr)


if __name__ == "__main__":
    main()

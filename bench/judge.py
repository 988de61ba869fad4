"""Judge throughput: judgments/s of `python -m eval judge` (pairwise, both orders) against a real local
llama_cpp.server, at concurrency 1 (the baseline) and N, as a ratio, measured in the same run.

    python bench/judge.py [--questions 8] [--concurrency 8] [--max-tokens 96]

The answers judged are MT-Bench-X's English GPT-4 reference answers (A) against their first sentence (B).
llama_cpp.server answers one request at a time, so concurrency only overlaps our side (prompt building,
HTTP, parsing, writing) with its work; against a hosted API it also hides network latency."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.models import packaged_gguf  # noqa: E402
from core.readers import read_local  # noqa: E402
from eval.judge import run_judge  # noqa: E402
from eval.results import append_items, write_card  # noqa: E402
from tests.servers import free_port, serve  # noqa: E402


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
        write_card(out, {"model": name, "set": "mt_bench_x", "langs": ["en"], "turns": 1})
        append_items(out, [{"set": "mt_bench_x", "lang": "en", "id": q["question_id"], "category": q["category"],
                            "turns": q["turns"][:1], "answers": [cut(refs[q["question_id"]][0])],
                            "detected": [["en", 1.0]]} for q in questions])
        dirs.append(out)
    return dirs[0], dirs[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=96)
    p.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = p.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        a, b = answer_sets(args.data_dir, args.questions, tmp)
        server = ["-m", "llama_cpp.server", "--model", str(packaged_gguf("smollm2-135m")), "--model_alias",
                  "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                  "--verbose", "false"]
        os.environ.setdefault("OPENAI_API_KEY", "local")
        with serve(server, f"http://127.0.0.1:{port}/docs", tmp / "server.log"):
            rates = {}
            for c in (1, args.concurrency):
                card = run_judge("pairwise", a, f"openai:smollm2@http://127.0.0.1:{port}/v1", tmp / f"c{c}", b=b,
                                 data_dir=args.data_dir, turns=1, concurrency=c, max_tokens=args.max_tokens,
                                 english_prompts=True, log=lambda m: None)
                rates[c] = card["judgments_per_s"]
                print(f"concurrency {c}: {card['calls_this_run']} judgments in {card['seconds']} s = "
                      f"{rates[c]} judgments/s ({card['results']['unparseable']['n']} unparseable)")
    print(f"ratio concurrency {args.concurrency} / concurrency 1 (baseline): {rates[args.concurrency] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()

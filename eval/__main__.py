"""`python -m eval`: benchmarks per language, and reports across runs.

    python -m eval bench --model hf:smollm2-135m --tasks xcopa,xwinograd --langs et,ht,zh --limit 100 \\
        --data-dir ../shared/data --out runs/eval/smollm2
    python -m eval report runs/eval/smollm2 runs/eval/gemma --plots runs/eval/plots
    python -m eval generate --model smollm2-135m --set hplt --langs en,fr,zh --limit 20 --data-dir ../shared/data \
        --out runs/answers/smollm2-hplt
    python -m eval judge --mode pairwise --a runs/answers/a --b runs/answers/b --judge openai:gpt-4o \
        --data-dir ../shared/data --out runs/judge/a-vs-b --dry-run
    python -m eval tasks
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="score a model on log-likelihood benchmarks (resumes a stopped run)")
    b.add_argument("--model", required=True, help="an engine spec: hf:..., gguf:..., openai:..., or a packaged name")
    b.add_argument("--tasks", required=True, help="comma-separated task names (python -m eval tasks lists them)")
    b.add_argument("--langs", default=None, help="comma-separated languages (default: each task's own)")
    b.add_argument("--limit", type=int, default=None, help="the first N items per task and language")
    b.add_argument("--data-dir", type=Path, default=None, help="local copies of the datasets (else the hub)")
    b.add_argument("--batch-items", type=int, default=64, help="items per engine call (written together)")
    b.add_argument("--batch-size", type=int, default=16, help="hf backend: requests per forward pass")
    b.add_argument("--prompt-style", choices=("chat", "raw"), default="chat",
                   help="generative tasks: the model's chat format with a forced reply prefix, or the paper's "
                        "raw '### Human: ... ### Assistant:' text")
    b.add_argument("--out", required=True, type=Path)
    r = sub.add_parser("report", help="a task/language x model table, and plots, from finished runs")
    r.add_argument("runs", nargs="+", type=Path)
    r.add_argument("--plots", type=Path, default=None, help="write PNG plots into this directory")
    g = sub.add_parser("generate", help="answer an open-ended prompt set per language (resumes), with the "
                                        "input/output language agreement")
    g.add_argument("--model", required=True, help="an engine spec")
    g.add_argument("--set", required=True, help="a prompt set (python -m eval tasks lists them), or a .jsonl file "
                                                "of {\"lang\": ..., \"prompt\": ...} rows")
    g.add_argument("--langs", default=None, help="comma-separated languages (default: all of the set's)")
    g.add_argument("--limit", type=int, default=None, help="the first N prompts per language")
    g.add_argument("--turns", type=int, default=1, help="answer up to this many turns of each question")
    g.add_argument("--max-tokens", type=int, default=256)
    g.add_argument("--temperature", type=float, default=0.0)
    g.add_argument("--concurrency", type=int, default=1,
                   help="prompts answered at once: concurrent requests (openai, served), batched generation (hf); "
                        "the in-process gguf backend answers one at a time")
    g.add_argument("--data-dir", type=Path, default=None, help="local copies of the datasets (not needed for "
                                                                 "`examples` or a .jsonl file)")
    g.add_argument("--out", required=True, type=Path)
    j = sub.add_parser("judge", help="an OpenAI-compatible judge rates answer sets (pairwise both orders, "
                                     "scores, single, likert); resumes, --dry-run prints the cost first")
    j.add_argument("--mode", required=True, choices=("pairwise", "scores", "single", "likert"))
    j.add_argument("--a", required=True, help="a `generate` answers dir, or a model spec (with --questions)")
    j.add_argument("--b", default=None, help="the other answers dir or model spec (pairwise, scores)")
    j.add_argument("--questions", default=None, help="the prompt set (or .jsonl file) to answer when --a/--b are "
                                                      "model specs")
    j.add_argument("--judge", required=True, help="openai:MODEL or openai:MODEL@URL (key from $OPENAI_API_KEY)")
    j.add_argument("--langs", default=None)
    j.add_argument("--limit", type=int, default=None, help="the first N questions per language")
    j.add_argument("--turns", type=int, default=2, help="judge up to this many turns")
    j.add_argument("--concurrency", type=int, default=4, help="judge calls in flight at once")
    j.add_argument("--english-prompts", action="store_true", help="FastChat's English judge prompts everywhere")
    j.add_argument("--constrain", action="store_true",
                   help="llama.cpp servers only: a grammar lets the judge write only the verdict (small local judges)")
    j.add_argument("--dry-run", action="store_true", help="print the calls still to make and their cost; call nothing")
    j.add_argument("--price", default=None, metavar="IN,OUT",
                   help="the judge's USD per million input,output tokens (default: the built-in table)")
    j.add_argument("--data-dir", type=Path, default=None)
    j.add_argument("--out", required=True, type=Path)
    k = sub.add_parser("judge-agreement", help="Cohen's kappa between two judge runs of the same answers")
    k.add_argument("runs", nargs=2, type=Path)
    h = sub.add_parser("human-agreement", help="agreement statistics of the blind human votes (and with a judge)")
    h.add_argument("votes", type=Path, help="the votes SQLite file (the app's Human eval tab writes it)")
    h.add_argument("--judge-run", type=Path, default=None, help="a pairwise judge run of the same answers")
    sub.add_parser("tasks", help="list the tasks and prompt sets, their languages and datasets")
    return p


def _price(judge: str, text: str | None) -> dict | None:
    """--price IN,OUT as the judge model's entry in the price table."""
    if not text:
        return None
    from core.engines.spec import parse_spec
    from core.errors import ConfigError

    try:
        pair = tuple(float(x) for x in text.split(","))
    except ValueError:
        pair = ()
    if len(pair) != 2:
        raise ConfigError(f"--price takes USD per million input and output tokens, e.g. 2.5,10; not {text!r}.")
    return {parse_spec(judge).model: pair}


def _run(args: argparse.Namespace) -> None:
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()] if s else None  # noqa: E731
    if args.command == "tasks":
        from eval.prompt_sets import ROW_HINT, SETS
        from eval.tasks import TASKS

        for t in TASKS.values():
            hubs = dict.fromkeys(t.hub_of(lang)[0] for lang in t.langs if t.hub_of(lang)[0])
            where = ", ".join(hubs) + f" [{t.split}]" if hubs else "not on the hub"
            local = " (local copy under --data-dir)" if t.local else ""
            print(f"{t.name:16} {where}{local}\n{'':16} {', '.join(t.langs)}")
        print("\nprompt sets (python -m eval generate):")
        for ps in SETS.values():
            print(f"{ps.name:22} {ps.description}\n{'':22} {', '.join(ps.langs)}")
        print(f"{'FILE.jsonl':22} your own prompts: {ROW_HINT}")
    elif args.command == "generate":
        from eval.generate import format_agreement, format_throughput, run_generate

        card = run_generate(args.model, args.set, args.out, langs=split(args.langs), limit=args.limit,
                            data_dir=args.data_dir, turns=args.turns, max_tokens=args.max_tokens,
                            temperature=args.temperature, concurrency=args.concurrency)
        print(format_agreement(card))
        print(format_throughput(card))
        print(f"\nanswers and card in {args.out}")
    elif args.command == "judge":
        from eval.judge import answers_for, run_judge
        from eval.judge_summary import format_judge

        kw = dict(questions=args.questions, langs=split(args.langs), limit=args.limit, data_dir=args.data_dir,
                  turns=args.turns)
        a = answers_for(args.a, args.out / "answers-a", **kw)
        b = answers_for(args.b, args.out / "answers-b", **kw) if args.b else None
        card = run_judge(args.mode, a, args.judge, args.out / "judgments", b=b, langs=split(args.langs),
                         limit=args.limit, data_dir=args.data_dir, turns=args.turns, concurrency=args.concurrency,
                         english_prompts=args.english_prompts, dry_run=args.dry_run, constrain=args.constrain,
                         prices=_price(args.judge, args.price), log=lambda m: print(m, file=sys.stderr))
        if args.dry_run:
            plan = card["dry_run"]
            usd = "unknown price" if plan["usd"] is None else f"${plan['usd']}"
            print(f"{plan['calls']} calls to make ({plan['already_judged']} already judged): ~{plan['prompt_tokens']} "
                  f"prompt + ~{plan['completion_tokens']} completion tokens, {usd}")
        else:
            print(format_judge(card))
            print(f"\njudgments and card in {args.out / 'judgments'}")
    elif args.command == "judge-agreement":
        from eval.human_votes import runs_agreement

        r = runs_agreement(*args.runs)
        print(f"{r['n']} items judged in both: agreement {r['agreement']:.3f}, Cohen's kappa {r['cohen_kappa']:.3f}")
    elif args.command == "human-agreement":
        from eval.human_votes import agreement_report

        print(agreement_report(args.votes, args.judge_run))
    elif args.command == "report":
        from eval.judge_plots import judge_plots
        from eval.judge_summary import format_judge
        from eval.report import load_runs, plots, split_judge_runs, table

        cards, judged = split_judge_runs(load_runs(args.runs))
        if cards:
            print(table(cards))
        for card in judged:
            print(f"\n{format_judge(card)}")
        if args.plots:
            written = (plots(cards, args.plots) if cards else []) + \
                [p for card in judged for p in judge_plots(card, args.plots / Path(card["_dir"]).name)]
            for path in written:
                print(f"wrote {path}")
    else:
        from eval.bench import run_bench
        from eval.report import table

        card = run_bench(args.model, split(args.tasks), args.out, langs=split(args.langs), limit=args.limit,
                         data_dir=args.data_dir, batch_items=args.batch_items, prompt_style=args.prompt_style,
                         batch_size=args.batch_size,
                         log=lambda m: print(m, file=sys.stderr))
        print(table([card | {"_dir": str(args.out)}]))
        if card["items_per_s"]:
            print(f"\n{card['scored_this_run']} items scored at {card['items_per_s']} items/s; card in {args.out}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    args = _parser().parse_args(argv)
    return run_command(lambda: _run(args), "stopped; run the same command again to resume where it stopped.")


if __name__ == "__main__":
    sys.exit(main())

"""`python -m eval`: benchmarks per language, and reports across runs.

    python -m eval bench --model hf:smollm2-135m --tasks xcopa,xwinograd --langs et,ht,zh --limit 100 \\
        --data-dir ../shared/data --out runs/eval/smollm2
    python -m eval report runs/eval/smollm2 runs/eval/gemma --plots runs/eval/plots
    python -m eval generate --model smollm2-135m --set hplt --langs en,fr,zh --limit 20 --data-dir ../shared/data \\
        --out runs/answers/smollm2-hplt
    python -m eval judge --mode pairwise --a runs/answers/a --b runs/answers/b --judge openai:gpt-4o \\
        --data-dir ../shared/data --out runs/judge/a-vs-b --dry-run
    python -m eval confusion ../shared/data/language_confusion_lcb/outputs/command-r.csv --out runs/lcb/command-r \\
        --data-dir ../shared/data
    python -m eval leaderboard runs/human_votes.sqlite runs/judge/a-vs-b --out runs/leaderboard
    python -m eval tasks
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli import Commands, run_cli
from eval.jobs import (
    BenchJob,
    ConfusionJob,
    GenerateJob,
    HumanAgreementJob,
    JudgeAgreementJob,
    JudgeJob,
    LeaderboardJob,
    ReportJob,
    TasksJob,
)


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def bench(job: BenchJob) -> None:
    from eval.bench import run_bench
    from eval.report import table

    card = run_bench(**vars(job), log=_log)
    print(table([card | {"_dir": str(job.out)}]))
    if card["items_per_s"]:
        print(f"\n{card['scored_this_run']} items scored at {card['items_per_s']} items/s; card in {job.out}")


def report(job: ReportJob) -> None:
    from eval.judge_plots import judge_plots
    from eval.judge_summary import format_judge
    from eval.report import load_runs, plots, split_judge_runs, table
    from eval.run_pairs import paired_table

    cards, judged = split_judge_runs(load_runs(job.runs))
    if cards:
        print(table(cards))
    paired = paired_table(cards)  # runs that answered the same items: their difference, tested and sized
    if paired:
        print(f"\n{paired}")
        if job.plots:
            job.plots.mkdir(parents=True, exist_ok=True)
            (job.plots / "paired.txt").write_text(paired + "\n", encoding="utf-8")
            print(f"wrote {job.plots / 'paired.txt'}")
    for card in judged:
        print(f"\n{format_judge(card)}")
    if job.plots:
        written = (plots(cards, job.plots) if cards else []) + \
            [p for card in judged for p in judge_plots(card, job.plots / Path(card["_dir"]).name)]
        for path in written:
            print(f"wrote {path}")


def generate(job: GenerateJob) -> None:
    from eval.generate import format_agreement, format_throughput, run_generate

    card = run_generate(**job.run_args())
    print(format_agreement(card))
    print(format_throughput(card))
    print(f"\nanswers and card in {job.out}")


def judge(job: JudgeJob) -> None:
    from eval.judge import answers_for, run_judge
    from eval.judge_summary import format_judge

    kw = dict(questions=job.questions, langs=job.langs, limit=job.limit, data_dir=job.data_dir, turns=job.turns)
    a = answers_for(job.a, job.out / "answers-a", **kw)
    b = answers_for(job.b, job.out / "answers-b", **kw) if job.b else None
    card = run_judge(job.mode, a, job.judge, job.out / "judgments", **job.run_options(b=b, log=_log))
    if job.dry_run:
        plan = card["dry_run"]
        usd = "unknown price" if plan["usd"] is None else f"${plan['usd']}"
        print(f"{plan['calls']} calls to make ({plan['already_judged']} already judged): ~{plan['prompt_tokens']} "
              f"prompt + ~{plan['completion_tokens']} completion tokens, {usd}")
    else:
        print(format_judge(card))
        print(f"\njudgments and card in {job.out / 'judgments'}")


def confusion(job: ConfusionJob) -> None:
    from eval.confusion import format_scores, run_confusion

    card = run_confusion(job.input, job.out, job.data_dir)
    print(format_scores(card["scores"]))
    print(f"\n{card['responses']} responses; word-level check {card['word_level']}; card and plot in {job.out}")


def judge_agreement(job: JudgeAgreementJob) -> None:
    from eval.human_votes import runs_agreement

    r = runs_agreement(*job.runs)
    print(f"{r['n']} items judged in both: agreement {r['agreement']:.3f}, Cohen's kappa {r['cohen_kappa']:.3f}")


def human_agreement(job: HumanAgreementJob) -> None:
    from eval.human_votes import agreement_report

    print(agreement_report(job.votes, job.judge_run))


def leaderboard(job: LeaderboardJob) -> None:
    from eval.leaderboard import markdown, run_leaderboard

    print(markdown(run_leaderboard(job.inputs, job.out, job.bootstrap, job.seed)))
    print(f"card.json, leaderboard.md and leaderboard.png in {job.out}")


def tasks(job: TasksJob) -> None:
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


COMMANDS: Commands = {
    "bench": (BenchJob, bench), "report": (ReportJob, report), "generate": (GenerateJob, generate),
    "confusion": (ConfusionJob, confusion),
    "judge": (JudgeJob, judge), "judge-agreement": (JudgeAgreementJob, judge_agreement),
    "human-agreement": (HumanAgreementJob, human_agreement),
    "leaderboard": (LeaderboardJob, leaderboard), "tasks": (TasksJob, tasks),
}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    return run_cli("python -m eval", __doc__, COMMANDS, argv,
                   "stopped; run the same command again to resume where it stopped.")


if __name__ == "__main__":
    sys.exit(main())

"""The eval jobs' configs: each is the flags of its `python -m eval` subcommand, the keys of the matching
experiment YAML section, and (its `identity`) what defines the run's results. See core.job_config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic

from core.config import language_codes
from core.job_config import arg, config_dataclass

_SPEC = "an engine spec: hf:..., gguf:..., openai:..., served:..., or a packaged name"


@config_dataclass
class BenchJob:
    """score a model on log-likelihood benchmarks (resumes a stopped run)"""

    model: str = arg(help=_SPEC)
    tasks: list[str] = arg(help="comma-separated task names (python -m eval tasks lists them)")
    out: Path = arg(help="the run directory (card.json, items.jsonl)", identity=False)
    langs: list[str] | None = arg(None, help="comma-separated languages (default: each task's own)")
    limit: int | None = arg(None, help="the first N items per task and language")
    data_dir: Path | None = arg(None, help="local copies of the datasets (else the hub)", identity=False)
    batch_items: int = arg(64, help="items per engine call (written together)", identity=False)
    batch_size: int = arg(16, help="hf backend: requests per forward pass", identity=False)
    prompt_style: Literal["chat", "raw"] = arg("chat", help="generative tasks: the model's chat format with a "
                                               "forced reply prefix, or the paper's raw '### Human: ... ### "
                                               "Assistant:' text")

    @pydantic.field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        from core.errors import ConfigError
        from eval.tasks import get_task

        try:
            return [get_task(t).name for t in tasks]
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


@config_dataclass
class ReportJob:
    """a task/language x model table, and plots, from finished runs"""

    runs: list[Path] = arg(help="finished bench, generate or judge run directories", positional=True)
    plots: Path | None = arg(None, help="write PNG plots into this directory")


@config_dataclass
class GenerateJob:
    """answer an open-ended prompt set per language (resumes), with the input/output language agreement"""

    model: str = arg(help=_SPEC)
    set: str = arg(help="a prompt set (python -m eval tasks lists them), or a .jsonl file of {\"lang\": ..., "
                        "\"prompt\": ...} rows")
    out: Path = arg(help="the run directory", identity=False)
    langs: list[str] | None = arg(None, help="comma-separated languages (default: all of the set's)")
    limit: int | None = arg(None, help="the first N prompts per language")
    turns: int = arg(1, help="answer up to this many turns of each question")
    max_tokens: int = arg(256, help="per answer")
    temperature: float = arg(0.0)
    seed: int = arg(0, help="the sampling seed (with --temperature above 0)")
    concurrency: int = arg(1, help="prompts answered at once: concurrent requests (openai, served), batched "
                                   "generation (hf); the in-process gguf backend answers one at a time",
                           identity=False)
    data_dir: Path | None = arg(None, help="local copies of the datasets (not needed for `examples` or a .jsonl "
                                           "file)", identity=False)

    @pydantic.field_validator("langs")
    @classmethod
    def _codes(cls, langs: list[str] | None) -> list[str] | None:
        return language_codes(langs) if langs else langs

    def run_args(self) -> dict:
        """eval.generate.run_generate's arguments (its `prompt_set` is the --set flag)."""
        kw = dict(vars(self), prompt_set=self.set)
        del kw["set"]
        return kw


@config_dataclass
class JudgeJob:
    """an OpenAI-compatible judge rates answer sets (pairwise both orders, scores, single, likert); resumes,
    --dry-run prints the cost first"""

    mode: str = arg(help="the judge mode: pairwise and scores compare --a with --b; single and likert rate --a")
    a: str = arg(help="a `generate` answers dir, or a model spec (with --questions)")
    judge: str = arg(help="openai:MODEL or openai:MODEL@URL (key from $OPENAI_API_KEY), or served:NAME")
    out: Path = arg(help="the run directory (answers-a/, answers-b/, judgments/)", identity=False)
    b: str | None = arg(None, help="the other answers dir or model spec (pairwise, scores)")
    questions: str | None = arg(None, help="the prompt set (or .jsonl file) to answer when --a/--b are model specs")
    langs: list[str] | None = arg(None, help="comma-separated languages (default: all of the answers')")
    limit: int | None = arg(None, help="the first N questions per language")
    turns: int = arg(2, help="judge up to this many turns")
    concurrency: int = arg(4, help="judge calls in flight at once", identity=False)
    max_tokens: int = arg(1024, help="per judge reply")
    english_prompts: bool = arg(False, help="FastChat's English judge prompts everywhere")
    constrain: bool = arg(False, help="llama.cpp servers only: a grammar lets the judge write only the verdict "
                                      "(small local judges)")
    weighted: bool = arg(False, help="also read each verdict's probability from the judge's logprobs (G-Eval): "
                                     "expected scores, and P(A)-P(B) averaged over both orders for pairwise")
    dry_run: bool = arg(False, help="print the calls still to make and their cost; call nothing", identity=False)
    price: tuple[float, float] | None = arg(None, metavar="IN,OUT", identity=False,
                                            help="the judge's USD per million input,output tokens (default: the "
                                                 "built-in table)")
    judge_label: str | None = arg(None, help="the judge's name in the run's identity instead of its URL (a judge "
                                             "served on a new port each time)")
    data_dir: Path | None = arg(None, help="local copies of the datasets", identity=False)

    def run_options(self, **extra) -> dict:
        """eval.judge.run_judge's keyword options: the fields less its positionals, --price as a price table."""
        from core.engines.spec import parse_spec

        skip = ("mode", "a", "b", "judge", "out", "questions", "price")
        prices = {parse_spec(self.judge).model: self.price} if self.price else None
        return {k: v for k, v in vars(self).items() if k not in skip} | {"prices": prices} | extra

    @pydantic.field_validator("mode")
    @classmethod
    def _known_mode(cls, mode: str) -> str:
        from core.errors import ConfigError
        from eval.judge_protocols import get_protocol  # the one list of modes

        try:
            get_protocol(mode)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return mode

    @pydantic.field_validator("price", mode="before")
    @classmethod
    def _pair(cls, value):
        if value is not None and (not isinstance(value, (list, tuple)) or len(value) != 2):
            raise ValueError(f"takes USD per million input and output tokens, e.g. 2.5,10; not {value!r}")
        return value


@config_dataclass
class ConfusionJob:
    """the Language Confusion Benchmark's line/word pass rates of a completions CSV or a generate run"""

    input: Path = arg(help="a CSV in the LCB output format (completion, task, source, language[, model]) or an "
                           "`eval generate` run directory", positional=True)
    out: Path = arg(help="write card.json and confusion.png here")
    data_dir: Path | None = arg(None, help="the directory holding language_confusion_lcb/en_words.txt (the "
                                           "word-level rate is left out without it)")


@config_dataclass
class JudgeAgreementJob:
    """Cohen's kappa between two judge runs of the same answers"""

    runs: list[Path] = arg(help="two judge run directories", positional=True, nargs=2)


@config_dataclass
class HumanAgreementJob:
    """agreement statistics of the blind human votes (and with a judge)"""

    votes: Path = arg(help="the votes SQLite file (the app's Human eval tab writes it)", positional=True)
    judge_run: Path | None = arg(None, help="a pairwise judge run of the same answers")


@config_dataclass
class LeaderboardJob:
    """per-language Bradley-Terry leaderboards with bootstrap intervals from human votes and/or pairwise judge runs"""

    inputs: list[Path] = arg(help="vote stores (.sqlite/.db, the app's Human eval tab writes them) and/or pairwise "
                                  "judge run directories", positional=True)
    out: Path = arg(help="write card.json, leaderboard.md and leaderboard.png here", identity=False)
    bootstrap: int = arg(1000, help="bootstrap resamples per language for the 95 percent intervals")
    seed: int = arg(0, help="the bootstrap's seed (the same inputs and seed give the same bytes)")


@config_dataclass
class TasksJob:
    """list the tasks and prompt sets, their languages and datasets"""

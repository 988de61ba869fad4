"""Job configs are the CLIs: every field is a generated flag, a bad value is one line naming the flag, an unknown
subcommand is argparse's error, and an experiment's YAML section builds the same config as the flags."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import build_parser
from core.config import config_dataclass, load_config
from core.job_config import arg, fields, flag_name, identity, parse_job, to_argv
from tests.conftest import ROOT

PACKAGES = ("core", "eval", "trainer", "quantize", "experiments")


def _commands(package: str) -> dict:
    return importlib.import_module(f"{package}.__main__").COMMANDS


@pytest.mark.parametrize("package", PACKAGES)
def test_help_lists_a_flag_for_every_field(package):
    commands = _commands(package)
    parser = build_parser(f"python -m {package}", None, commands)
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, (cls, _) in commands.items():
        text = sub.choices[name].format_help()
        for f in fields(cls):
            assert (f.name if f.metadata.get("positional") else flag_name(f)) in text, (package, name, f.name)


def test_a_new_field_is_a_new_flag_without_a_parser_edit():
    @config_dataclass
    class Job:
        """a job"""

        model: str = arg(help="the model")
        batch_tokens: int = arg(512, help="tokens per batch")
        langs: list[str] | None = arg(None)
        verify: bool = arg(True, help="skip the check")

    job = parse_job(Job, ["--model", "m", "--batch-tokens", "64", "--langs", "de, fr", "--no-verify"])
    assert job == Job(model="m", batch_tokens=64, langs=["de", "fr"], verify=False)
    assert parse_job(Job, to_argv(job)) == job
    assert to_argv(Job(model="m")) == ["--model", "m"]  # defaults are left out


@pytest.mark.parametrize("package", PACKAGES)
def test_unknown_subcommand_is_an_error_naming_the_valid_ones(package):
    result = subprocess.run([sys.executable, "-m", package, "no-such-command"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert "invalid choice: 'no-such-command'" in result.stderr
    assert all(f"'{name}'" in result.stderr for name in _commands(package))


@pytest.mark.parametrize("argv,flag", [
    (["bench", "--model", "m", "--tasks", "xcopa", "--out", "o", "--limit", "abc"], "--limit"),
    (["bench", "--model", "m", "--tasks", "xcopa,xcopa_typo", "--out", "o"], "--tasks"),
    (["bench", "--model", "m", "--tasks", "xcopa", "--out", "o", "--prompt-style", "fancy"], "--prompt-style"),
    (["generate", "--model", "m", "--set", "examples", "--out", "o", "--langs", "de,xx"], "--langs"),
    (["judge", "--mode", "pairwise", "--a", "x", "--judge", "openai:m", "--out", "o", "--price", "cheap"], "--price"),
    (["judge", "--mode", "duel", "--a", "x", "--judge", "openai:m", "--out", "o"], "--mode"),
])
def test_a_bad_value_is_one_line_naming_the_flag(argv, flag, capsys):
    from eval.__main__ import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flag}: ") and err.count("\n") == 1 and "Traceback" not in err


def test_bad_values_of_the_other_clis(capsys):
    from quantize.__main__ import main as quantize
    from trainer.__main__ import main as trainer

    assert quantize(["bnb", "--model", "m", "--out", "o", "--bits", "5"]) == 2
    assert capsys.readouterr().err.startswith("error: --bits: ")
    with pytest.raises(SystemExit) as exc:  # argparse's own: not a key=value override
        trainer(["train", "c.yaml", "--bogus"])
    assert exc.value.code == 2


def test_overrides_before_or_after_the_options():
    from core.cli import run_cli
    from trainer.jobs import DataJob

    seen = []
    commands = {"data": (DataJob, seen.append)}
    assert run_cli("python -m trainer", None, commands, ["data", "r.yaml", "a=1", "--out", "o", "b=2"]) == 0
    assert seen == [DataJob(recipe="r.yaml", out=Path("o"), overrides=["a=1", "b=2"])]


def _scale(**kw):
    from experiments.config import Scale

    return Scale(**{"base": "smollm2-135m", "train": "configs/train/x.yaml", "limit": 5} | kw)


def test_experiment_sections_and_flags_give_equal_jobs(tmp_path):
    from eval.jobs import BenchJob, GenerateJob, JudgeJob
    from experiments import steps
    from experiments.config import Bench, Generate, Judging

    bench = load_config(Bench, {"tasks": ["xcopa", "xwinograd"], "langs": ["et", "zh"], "prompt_style": "raw"})
    flags = ["--model", "gguf:m.gguf", "--tasks", "xcopa,xwinograd", "--langs", "et,zh", "--prompt-style", "raw",
             "--limit", "5", "--data-dir", str(tmp_path), "--out", str(tmp_path / "b")]
    assert steps.bench_job("gguf:m.gguf", bench, _scale(), tmp_path / "b", tmp_path) == parse_job(BenchJob, flags)

    gen = load_config(Generate, {"set": "examples", "langs": ["German", "fr"], "turns": 2})
    flags = ["--model", "m", "--set", "examples", "--langs", "de,fr", "--turns", "2", "--limit", "5",
             "--max-tokens", "64", "--data-dir", str(tmp_path), "--out", str(tmp_path / "g")]
    built = steps.generate_job("m", gen, _scale(max_tokens=64), tmp_path / "g", tmp_path)
    assert built == parse_job(GenerateJob, flags)

    judging = load_config(Judging, {"mode": "pairwise", "arms": ["x", "y"], "langs": ["de"], "turns": 1})
    flags = ["--mode", "pairwise", "--a", "ax", "--b", "ay", "--judge", "openai:j", "--langs", "de", "--turns", "1",
             "--limit", "5", "--concurrency", "2", "--max-tokens", "256", "--constrain", "--judge-label",
             "served:j (served here)", "--data-dir", str(tmp_path), "--out", str(tmp_path / "j")]
    s = _scale(judge="served:j", concurrency=2, judge_max_tokens=256, judge_constrained=True)
    built = steps.judge_job(judging, [Path("ax"), Path("ay")], "openai:j", s, tmp_path / "j", tmp_path)
    assert built == parse_job(JudgeJob, flags)
    assert parse_job(JudgeJob, to_argv(built)) == built


def test_identity_leaves_out_paths_and_speed(tmp_path):
    from eval.jobs import BenchJob

    job = parse_job(BenchJob, ["--model", "m", "--tasks", "xcopa", "--out", str(tmp_path), "--batch-size", "4"])
    assert identity(job) == {"model": "m", "tasks": ["xcopa"], "langs": None, "limit": None, "prompt_style": "chat"}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_job_round_trips_through_its_argv(package):
    for cls, _ in _commands(package).values():
        values = {}
        for f in fields(cls):
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                values[f.name] = {"runs": ["r1", "r2"], "inputs": ["i1", "i2"], "texts": ["a b"], "mode": "single",
                                  "tasks": ["xcopa"]}.get(f.name, "x")
        job = load_config(cls, values)
        assert parse_job(cls, to_argv(job)) == job


def test_the_apps_commands_parse_back_into_the_job(tmp_path):
    from eval.jobs import BenchJob
    from playground.benchmarks import bench_job
    from playground.settings import Settings

    _, commands, outs = bench_job(Settings(runs_dir=tmp_path, data_dir=None), ["smollm2-135m"], ["xcopa"], "it, et", 8)
    assert commands[0][:3] == ["-m", "eval", "bench"]
    job = parse_job(BenchJob, commands[0][3:])
    assert (job.tasks, job.langs, job.limit, str(job.out)) == (["xcopa"], ["it", "et"], 8, outs[0])


def test_the_jobs_arguments_fit_the_functions_they_call(tmp_path):
    import inspect

    import eval.judge
    from eval.bench import run_bench
    from eval.generate import run_generate
    from eval.jobs import BenchJob, GenerateJob, JudgeJob
    from quantize.gguf_job import run
    from quantize.jobs import GgufJob

    out = ["--out", str(tmp_path)]
    inspect.signature(run_bench).bind(**vars(parse_job(BenchJob, ["--model", "m", "--tasks", "xcopa", *out])))
    inspect.signature(run_generate).bind(**parse_job(GenerateJob, ["--model", "m", "--set", "x", *out]).run_args())
    inspect.signature(run).bind(**parse_job(GgufJob, ["--model", "m", *out]).run_args())
    judge = parse_job(JudgeJob, ["--mode", "single", "--a", "x", "--judge", "openai:m", "--price", "1,2", *out])
    target = getattr(eval.judge, "_run_judge", eval.judge.run_judge)  # run_judge passes its **options on to it
    inspect.signature(target).bind("single", tmp_path, "openai:m", tmp_path, **judge.run_options(log=print))

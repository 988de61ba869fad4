"""Experiments 2-5, each from its shipped YAML, end to end in miniature on the packaged model: the cpu scale cut to
2 training steps, one prompt or item per language and short answers, evaluated through transformers +
adapter (the GGUF export path is the tiny Multi-i test's). The served teacher and judge are real llama_cpp
servers. What is checked: every stage done with its card, and a report that names the claim, the analysis's
own table and a verdict. The full cpu-scale runs (12 steps, ~15-20 min each) are in docs/results.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SMALL = {"train_overrides": {"max_steps": 2, "batch_size": 2, "grad_accum": 1, "max_length": 128,
                             "eval_every": 2, "save_every": 1, "log_every": 1},
         "export": None, "limit": 1, "max_tokens": 16, "judge_max_tokens": 32}
# per experiment: what its miniature adds to SMALL, the stages it must have, and a line its report must show
CASES = {
    "parallel-mono": ({}, {"judge/single-mono", "judge/single-sampled", "judge/pairwise-parallel-mono"},
                      "position"),
    "crossalpaca": ({}, {"bench/base", "bench/alpaca", "bench/crossalpaca"}, "xquad"),
    "bactrian-x": ({"recipe_overrides": {"translate.limit": 2, "translate.max_tokens": 24,
                                         "translate.translate_max_tokens": 48}},
                   {"data/bactrian", "bench/bactrian", "judge/pairwise-bactrian-base"}, "xcopa"),
    "x-instruction": ({"xinstruct_overrides": {"corpus_limit": 12, "seeds.held_out": 24,
                                               "reverse.train.max_steps": 2, "reverse.max_tokens": 16,
                                               "refine.iterations": 1, "refine.evaluator_train.max_steps": 2,
                                               "refine.model_train.max_steps": 2, "refine.model_max_tokens": 16,
                                               "diversify.clusters": 2}},
                      {"data/xinstruct", "data/translated", "judge/pairwise-xinstruct-translated"}, "zh"),
}


def _miniature(name: str, tmp_path: Path) -> Path:
    """The shipped experiment with its cpu scale shrunk (dotted overrides merged into the shipped ones)."""
    exp = yaml.safe_load((ROOT / "configs/experiments" / f"{name}.yaml").read_text())
    extra, _, _ = CASES[name]
    cpu = exp["scales"]["cpu"]
    for key, value in {**SMALL, **extra}.items():
        cpu[key] = {**cpu.get(key, {}), **value} if key.endswith("_overrides") else value
    exp["scales"] = {"cpu": cpu}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", list(CASES))
def test_each_seed_experiment_runs_in_miniature(name, tmp_path, shared_data, report):
    from experiments.pipeline import run_experiment

    out = tmp_path / "run"
    card = run_experiment(str(_miniature(name, tmp_path)), "cpu", out, shared_data, log=lambda *_: None)
    stages = card["stages"]
    _, expected, shown = CASES[name]
    assert expected <= set(stages), sorted(stages)
    assert all(s["status"] == "done" and (out / stage / "card.json").is_file() for stage, s in stages.items())
    text = (out / "report.md").read_text()
    claim = yaml.safe_load((ROOT / "configs/experiments" / f"{name}.yaml").read_text())["claim"]
    assert f"**Claim:** {claim.strip()}" in text and shown in text.split("## Results", 1)[1]
    if name == "x-instruction":  # what the filter did is in the report, and the mix's languages in the arms table
        assert "evaluator test accuracy" in text and "| X-Instruction | configs/recipes/xinstruct-zh.yaml |" in text
        assert "| zh " in text.split("## Arms", 1)[1].split("|---", 1)[1].split("\n")[1]
    if name in ("parallel-mono", "x-instruction"):  # their agreement table comes with health and LPR per arm
        _health_rows_match_the_cards(name, tmp_path, out, text)
    verdict = card["report"]["reproduced"]
    assert verdict.removesuffix(" (not significant)") in ("yes", "no", "mixed", "not measured"), verdict
    assert all((out / p).is_file() for p in json.loads((out / "card.json").read_text())["report"]["plots"])
    report(f"{name} in miniature: {sum(s['seconds'] for s in stages.values()) / 60:.1f} min of stages, "
           f"reproduced: {verdict}")


def _health_rows_match_the_cards(name: str, tmp_path: Path, out: Path, text: str) -> None:
    """Each generate card's language row shows up in the report's health table with the card's flag shares."""
    from experiments.config import load_experiment

    exp = load_experiment(str(tmp_path / f"{name}.yaml"), "cpu")
    assert "| agreement, healthy answers [95%] | LPR [95%] | echo | loop | empty | truncated |" in text
    for arm in exp.arms:
        for lang, r in json.loads((out / f"generate/{arm}/card.json").read_text())["agreement"].items():
            line = next(x for x in text.splitlines() if x.startswith(f"| {lang} | {exp.label(arm)} | {r['n']} | "))
            cells = [x.strip() for x in line.strip("|").split("|")]
            assert cells[-4:] == [f"{r['flags'][f]:.2f}" for f in ("echo", "loop", "empty", "truncated")], line
            assert cells[3].endswith(f"(n={r['healthy']['n']})"), line

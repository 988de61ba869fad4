"""The same command on the same machine gives the same bytes: sampled answers (seeded, also through a batched
llama-server), and a whole tiny experiment (data, LoRA, merged GGUF, answers, a served judge with verdict
probabilities, the report) run twice in processes with different hash seeds. `core.run_diff` compares the runs
with their timings left out, and must itself catch a changed answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from core.run_diff import diff_runs
from eval.results import read_items
from tests.conftest import ROOT
from tests.test_experiments import TINY


def _generate(out, model="smollm2-135m", seed=7, concurrency=1):
    from eval.generate import run_generate

    return run_generate(model, "examples", out, langs=["de", "ja"], limit=2, max_tokens=24, temperature=0.9,
                        seed=seed, concurrency=concurrency)


def test_sampled_answers_are_the_same_twice_and_the_seed_is_what_fixes_them(tmp_path):
    card = _generate(tmp_path / "a")
    _generate(tmp_path / "b")
    assert diff_runs(tmp_path / "a", tmp_path / "b") == []
    assert card["seed"] == 7 and card["temperature"] == 0.9
    assert card["versions"]["numerics"]["simd"] in ("avx512", "avx2", "default")  # what bitwise equality needs
    _generate(tmp_path / "c", seed=8)
    answers = {name: [r["answers"] for r in read_items(tmp_path / name)] for name in "ac"}
    assert answers["a"] != answers["c"]  # sampling really happened, and the seed decided it

    changed = tmp_path / "changed"
    shutil.copytree(tmp_path / "a", changed)
    items = read_items(changed)
    items[-1]["answers"][0] += "!"
    (changed / "items.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items))
    found = diff_runs(tmp_path / "a", changed)
    assert len(found) == 1 and found[0].startswith("items.jsonl: [3].answers[0]")


def test_sampled_answers_from_a_batched_server_are_the_same_twice(tmp_path):
    """Four requests decoded together by llama-server, finishing in any order: the same answers, in the same
    file order (a finished run's items are settled into the order they were asked in)."""
    spec = "served:smollm2-135m+cache=0"
    _generate(tmp_path / "a", spec, concurrency=4)
    _generate(tmp_path / "b", spec, concurrency=4)
    assert diff_runs(tmp_path / "a", tmp_path / "b") == []
    order = [(r["lang"], r["id"]) for r in read_items(tmp_path / "a")]
    assert [lang for lang, _ in order] == ["de", "de", "ja", "ja"]


@pytest.mark.slow
@pytest.mark.timeout(4800)  # two tiny experiments: ~3.5 min each on 2 idle cores, far longer on a busy machine
def test_a_tiny_experiment_run_twice_leaves_the_same_files(tmp_path, shared_data):
    config = tmp_path / "tiny.yaml"
    tiny = {**TINY, "scales": {"cpu": {**TINY["scales"]["cpu"], "judge_weighted": True}}}
    config.write_text(yaml.safe_dump(tiny))
    for run, hash_seed in (("one", "1"), ("two", "2")):  # set and dict order change with the hash seed
        done = subprocess.run([sys.executable, "-m", "experiments", "run", str(config), "--out", str(tmp_path / run),
                               "--data-dir", str(shared_data)], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": hash_seed}, timeout=2400)
        assert done.returncode == 0, done.stderr[-3000:]
    one, two = tmp_path / "one", tmp_path / "two"
    compared = {p.relative_to(one).as_posix() for p in one.rglob("*") if p.is_file()}
    # what the comparison covers: the mix, the adapter, the exported GGUF, answers, judgments, the report
    for must in ("data/multi-1/mix.jsonl", "train/multi-1/adapter/adapter_model.safetensors",
                 "train/multi-1/adapter/adapter_config.json", "generate/multi-1/items.jsonl",
                 "judge/likert-multi-1/items.jsonl", "report.md", "plots/agreement.png"):
        assert must in compared, must
    assert any(p.endswith(".gguf") and p.startswith("export/multi-1/") for p in compared)
    judged = read_items(one / "judge/likert-multi-1")
    assert any(r.get("weighted") for r in judged)  # the verdict probabilities are compared too
    assert diff_runs(one, two) == []
    done = subprocess.run([sys.executable, "-m", "experiments", "diff", str(one), str(two)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and "agree" in done.stdout

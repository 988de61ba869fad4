"""The same command on the same machine gives the same bytes: sampled answers (seeded, also through a batched
llama-server). `core.run_diff` compares the runs with their timings left out, and must itself catch a changed
answer. A whole tiny experiment run twice under different hash seeds is in tests/test_experiments.py."""

from __future__ import annotations

import json
import shutil

import pytest

from core.run_diff import diff_runs
from eval.results import read_items

pytestmark = pytest.mark.slow


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

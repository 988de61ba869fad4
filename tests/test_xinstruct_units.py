"""X-Instruction's pure parts: the three rating levels of the synthetic rating set, equal-per-cluster sampling,
and the recipe's validation."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from core.errors import ConfigError
from trainer.xinstruct.diversify import cluster, sample_per_cluster
from trainer.xinstruct.ratings import perturb, pieces, synthesize

PAIRS = [{"id": f"p{i}", "instruction": f"Instruction {i}?",
          "response": f"这是第{i}个回答的第一句。这是第二句，说明更多内容！最后一句在这里。"} for i in range(12)]
PAIRS.append({"id": "one", "instruction": "Say hi.", "response": "你好，很高兴见到你，我们今天一起学习"})


def test_every_pair_gets_a_2_a_1_and_a_0_built_as_specified():
    ratings = synthesize(PAIRS, random.Random(0))
    by_pair: dict[str, list] = {}
    for r in ratings:
        by_pair.setdefault(r.pair, []).append(r)
    responses = {p["id"]: p["response"] for p in PAIRS}
    assert set(by_pair) == set(responses)
    for pid, rs in by_pair.items():
        assert sorted(r.rating for r in rs) == [0, 1, 2]
        two, one, zero = (next(r for r in rs if r.rating == n) for n in (2, 1, 0))
        original = responses[pid]
        assert two.response == original and two.kind == "original"
        assert one.response != original and one.response.strip()
        if one.kind == "deleted":  # parts left out: shorter, and what is left comes from the original
            assert len(one.response) < len(original)
            assert _is_subsequence(one.response, original)
        else:
            assert one.kind == "duplicated" and len(one.response) > len(original)
        assert zero.kind == "mismatched" and zero.response != original
        assert zero.response in {p["response"] for p in PAIRS if p["id"] != pid}
        assert {r.instruction for r in rs} == {next(p["instruction"] for p in PAIRS if p["id"] == pid)}
    # each response serves as exactly one other pair's mismatch (a derangement), so 0s are not one popular text
    zeros = Counter(r.response for r in ratings if r.rating == 0)
    assert max(zeros.values()) == 1 or len(set(responses.values())) < len(responses)
    assert {r.kind for r in ratings if r.rating == 1} == {"deleted", "duplicated"}  # both kinds occur


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def test_model_answers_become_rating_1_at_the_given_share():
    outputs = {p["id"]: f"模型的回答 {p['id']}" for p in PAIRS}
    ratings = synthesize(PAIRS, random.Random(1), outputs, model_share=1.0)
    ones = [r for r in ratings if r.rating == 1]
    assert all(r.kind == "model" and r.response == outputs[r.pair] for r in ones)
    none = synthesize(PAIRS, random.Random(1), outputs, model_share=0.0)
    assert not [r for r in none if r.kind == "model"]


def test_synthesis_is_deterministic_per_seed_and_needs_two_pairs():
    assert synthesize(PAIRS, random.Random(5)) == synthesize(PAIRS, random.Random(5))
    assert synthesize(PAIRS, random.Random(5)) != synthesize(PAIRS, random.Random(6))
    with pytest.raises(ValueError, match="at least 2"):
        synthesize(PAIRS[:1], random.Random(0))


@pytest.mark.parametrize("text", ["短", "一句话没有句号但是很长很长的一句话", "A. B. C.", "x",
                                  "第一步。\n\n第二步是3.14。\n最后！", "\nabc  def"])
def test_perturb_never_returns_the_original_up_to_whitespace_or_empty(text):
    for seed in range(200):
        out, kind = perturb(text, random.Random(seed))
        assert "".join(out.split()) != "".join(text.split()) and out.strip() and kind in ("deleted", "duplicated")


def test_pieces_are_sentences_that_join_back():
    text = "第一步。\n\n第二步是3.14。\n最后！ Done. Next line\nend"
    assert pieces(text) == ["第一步。\n\n", "第二步是3.14。\n", "最后！ ", "Done. ", "Next line\n", "end"]
    assert "".join(pieces(text)) == text


def test_the_same_number_from_every_cluster():
    labels = np.array([0] * 10 + [1] * 4 + [2] * 7)
    chosen = sample_per_cluster(labels, None, random.Random(0))
    assert Counter(labels[chosen].tolist()) == {0: 4, 1: 4, 2: 4}  # the smallest cluster's size from each
    assert len(set(chosen)) == len(chosen) and chosen == sorted(chosen)
    three = sample_per_cluster(labels, 3, random.Random(1))
    assert Counter(labels[three].tolist()) == {0: 3, 1: 3, 2: 3}
    capped = sample_per_cluster(labels, 6, random.Random(1))  # a cluster of 4 gives all it has
    assert Counter(labels[capped].tolist()) == {0: 6, 1: 4, 2: 6}
    assert sample_per_cluster(labels, 3, random.Random(1)) == three  # deterministic per seed
    with pytest.raises(ConfigError):
        sample_per_cluster(labels, 0, random.Random(0))


def test_kmeans_finds_separated_groups():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(c, 0.05, size=(8, 4)) for c in (0.0, 1.0, 3.0)])
    labels = cluster(points, 3)
    assert {len(set(labels[i:i + 8])) for i in (0, 8, 16)} == {1} and len(set(labels)) == 3
    assert len(set(cluster(points[:2], 5))) == 2  # k capped at the number of points


def test_recipe_refuses_a_bad_training_setting_on_load(tmp_path):
    from trainer.xinstruct.recipe import load_xinstruct

    base = {"lang": "zh", "seeds": {"instructions": {"format": "alpaca", "path": "en.json", "lang": "en"},
                                    "responses": {"format": "alpaca", "path": "zh.json", "lang": "zh"}},
            "corpus": {"c": {"format": "text", "path": "c.txt", "lang": "zh"}}}
    assert load_xinstruct(base).refine.iterations == 3  # the paper's default
    with pytest.raises(ConfigError, match="max_steps"):
        load_xinstruct({**base, "refine": {"model_train": {"max_steps": 0}}})
    with pytest.raises(ConfigError, match="Unknown language|not a language|xx"):
        load_xinstruct({**base, "lang": "xx-not-a-language"})
    with pytest.raises(ConfigError, match="lower refine.test_fraction"):  # no pair left to train the evaluator
        load_xinstruct({**base, "seeds": {**base["seeds"], "held_out": 4}, "refine": {"test_fraction": 0.9}})


def test_the_shipped_recipes_load():
    from tests.conftest import ROOT
    from trainer.xinstruct.recipe import load_xinstruct

    shipped = sorted((ROOT / "configs" / "recipes").glob("xinstruct-*.yaml"))
    assert shipped and all(load_xinstruct(p).refine.iterations >= 1 for p in shipped)


def test_until_must_name_a_stage(tmp_path):
    from trainer.xinstruct.pipeline import run
    from trainer.xinstruct.recipe import load_xinstruct

    recipe = load_xinstruct({"lang": "zh", "corpus": {"c": {"format": "text", "path": "c.txt", "lang": "zh"}},
                             "seeds": {"instructions": {"format": "alpaca", "path": "en.json", "lang": "en"},
                                       "responses": {"format": "alpaca", "path": "zh.json", "lang": "zh"}}})
    with pytest.raises(ConfigError, match="iteration-3, diversify"):
        run(recipe, tmp_path / "out", tmp_path, until="iteration1")
    assert not (tmp_path / "out").exists()  # refused before anything was written

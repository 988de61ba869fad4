"""Language mixtures: exact counts on real parallel data (Alpaca en/zh, seed tasks en/fr) and on pools built
here, plus the arithmetic of temperature sampling."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from core.config import load_config
from core.errors import DataError
from tests.conftest import ROOT
from trainer.data.build import build
from trainer.data.mixtures import build_pool, language_quotas, mix
from trainer.data.recipe import Mixture, Recipe, load_recipe
from trainer.data.schema import Row

RECIPES = ROOT / "configs" / "recipes"
NO_STATS = ["stats.tokenizer=null"]


def _build(shared_data, name, *overrides):
    recipe = load_recipe(RECIPES / f"{name}.yaml", [*NO_STATS, *overrides])
    return build(recipe, None, shared_data, dry_run=True).rows


def _by_lang(rows):
    return Counter(r.lang for r in rows)


def test_multi_3_on_real_data(shared_data):
    rows = _build(shared_data, "multi-3")
    assert len(rows) == 300
    assert _by_lang(rows) == {"en": 100, "zh": 100, "fr": 100}
    ids = [r.id for r in rows]
    assert len(set(ids)) == 300  # each example once: substituted, not added
    # zh comes only from the Alpaca ids, fr only from the seed-task ids, and each is a real translation
    assert all(r.id.startswith("alpaca-") for r in rows if r.lang == "zh")
    assert all(r.id.startswith("seed_task_") for r in rows if r.lang == "fr")
    # Multi-2 (same seed) keeps the same 300 ids and the same Chinese choices: the series is nested.
    multi2 = _build(shared_data, "multi-3", "mixture.languages=[en, zh]")
    assert _by_lang(multi2) == {"en": 200, "zh": 100}
    assert {r.id for r in multi2} == set(ids)
    assert {r.id for r in multi2 if r.lang == "zh"} == {r.id for r in rows if r.lang == "zh"}


def test_multi_i_series_counts():
    # 5 languages, 400 ids each, all parallel: Multi-1..Multi-5 with 60 per added language.
    langs = ["en", "de", "fr", "es", "ru"]
    pool = build_pool(Row(f"id{i}", lang, [], "s") for lang in langs for i in range(400))
    for i in range(1, 6):
        m = Mixture(kind="multi_i", languages=langs[:i], size=300, per_language=60)
        rows = mix(pool, m, random.Random(7))
        assert _by_lang(rows) == {"en": 300 - 60 * (i - 1), **{x: 60 for x in langs[1:i]}}
        assert len({r.id for r in rows}) == 300
    # Default per_language spreads evenly
    rows = mix(pool, Mixture(kind="multi_i", languages=langs[:3], size=300), random.Random(0))
    assert _by_lang(rows) == {"en": 100, "de": 100, "fr": 100}


def test_multi_i_refuses_what_it_cannot_build():
    pool = build_pool([Row(f"id{i}", "en", [], "s") for i in range(100)] + [Row(f"id{i}", "de", [], "s")
                                                                            for i in range(10)])
    with pytest.raises(DataError, match=r"only 10 .* have a de translation"):
        mix(pool, Mixture(kind="multi_i", languages=["en", "de"], size=100, per_language=20), random.Random(0))
    with pytest.raises(DataError, match="more than the mix size"):
        mix(pool, Mixture(kind="multi_i", languages=["en", "de"], size=10, per_language=20), random.Random(0))


def test_parallel_and_sampled_on_real_data(shared_data):
    parallel = _build(shared_data, "parallel-en-zh")
    assert _by_lang(parallel) == {"en": 200, "zh": 200}
    pairs = Counter(r.id for r in parallel)
    assert set(pairs.values()) == {2} and len(pairs) == 200
    zh0 = next(r for r in parallel if r.id == "alpaca-0" and r.lang == "zh")
    en0 = next(r for r in parallel if r.id == "alpaca-0" and r.lang == "en")
    assert "staying healthy" in en0.text("user") and "健康" in zh0.text("user")

    sampled = _build(shared_data, "sampled-en-zh")
    assert len(sampled) == 200  # the size of one language
    assert sorted(r.id for r in sampled) == sorted(pairs)  # every id exactly once
    assert _by_lang(sampled) == {"en": 100, "zh": 100}


def test_mono_and_errors(shared_data):
    mono = _build(shared_data, "mono-zh", "lid_filter=null")
    assert len(mono) == 1000 and _by_lang(mono) == {"zh": 1000} and len({r.id for r in mono}) == 1000
    with pytest.raises(DataError, match="only 4996"):
        _build(shared_data, "mono-zh", "lid_filter=null", "mixture.size=6000")
    with pytest.raises(DataError, match=r"no rows in them.*zh \(4996\)"):
        _build(shared_data, "mono-zh", "lid_filter=null", "mixture.languages=[de]")


def test_same_seed_same_mix_other_seed_other_mix(shared_data):
    a, b = _build(shared_data, "multi-3"), _build(shared_data, "multi-3")
    c = _build(shared_data, "multi-3", "seed=1")
    assert [(r.id, r.lang) for r in a] == [(r.id, r.lang) for r in b]
    assert {(r.id, r.lang) for r in a} != {(r.id, r.lang) for r in c}


def test_temperature_quotas():
    counts = {"en": 10_000, "de": 1_000, "sw": 100}
    natural = language_quotas(counts, 11_100, temperature=1)
    assert natural == counts
    t5 = language_quotas(counts, 1_000, temperature=5)
    assert sum(t5.values()) == 1_000
    z = sum(n ** 0.2 for n in counts.values())
    for lang, n in counts.items():
        assert abs(t5[lang] - 1_000 * n ** 0.2 / z) < 1  # p ~ n^(1/T), largest-remainder rounding
    flat = language_quotas(counts, 999, temperature=1e9)
    assert flat == {"en": 333, "de": 333, "sw": 333}
    assert language_quotas(counts, 10, weights={"en": 1, "de": 1}) == {"en": 5, "de": 5, "sw": 0}


def test_weighted_upsamples_small_languages():
    pool = build_pool([Row(f"e{i}", "en", [], "s") for i in range(1000)] + [Row(f"s{i}", "sw", [], "s")
                                                                             for i in range(30)])
    rows = mix(pool, Mixture(kind="weighted", weights={"en": 1, "sw": 1}, size=200), random.Random(0))
    sw = [r for r in rows if r.lang == "sw"]
    assert len(sw) == 100 and len({r.id for r in sw}) == 30  # every sw row, three more times + 10
    assert Counter(r.meta.get("repeat", 0) for r in sw) == {0: 30, 1: 30, 2: 30, 3: 10}
    en = [r for r in rows if r.lang == "en"]
    assert len(en) == len({r.id for r in en}) == 100  # no repeats where there is enough data


def test_duplicate_ids_across_sources_are_an_error():
    with pytest.raises(DataError, match="set `id_prefix:`"):
        build_pool([Row("1", "en", [], "a"), Row("1", "en", [], "b")])


def test_mixture_validation_names_the_problem():
    from core.errors import ConfigError

    base = {"name": "x", "sources": {"a": {"format": "alpaca", "path": "a.json", "lang": "en"}}}
    for mixture, message in [({"kind": "mono", "languages": ["en", "de"]}, "exactly one language"),
                             ({"kind": "multi_i", "languages": ["en", "de"]}, "needs `size`"),
                             ({"kind": "weighted", "size": 3}, "exactly one of `temperature` or `weights`"),
                             ({"kind": "parallel", "languages": ["en", "en"]}, "listed twice: en"),
                             ({"kind": "parallel", "languages": ["en", "elvish"]}, "Unknown language 'elvish'")]:
        with pytest.raises(ConfigError, match=message):
            load_config(Recipe, {**base, "mixture": mixture})

"""The optional recipe steps on real data: CrossAlpaca translation demos from XQuAD, the LID filter and the
per-language stats (tokens with a real tokenizer)."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from core.errors import DataError
from tests.conftest import ROOT
from trainer.data.build import build
from trainer.data.demos import translation_demos
from trainer.data.lid_filter import lid_filter
from trainer.data.recipe import load_recipe
from trainer.data.schema import Row, Segment
from trainer.data.stats import format_table, mix_stats

RECIPES = ROOT / "configs" / "recipes"


def _xquad_paragraphs(shared_data, lang) -> dict[str, str]:
    doc = json.loads((shared_data / "xquad" / f"xquad.{lang}.json").read_text())
    return {p["qas"][0]["id"]: p["context"] for a in doc["data"] for p in a["paragraphs"]}


def test_crossalpaca_demos_are_aligned_translations(shared_data):
    recipe = load_recipe(RECIPES / "crossalpaca.yaml", ["stats.tokenizer=null"])
    rows = build(recipe, None, shared_data, dry_run=True).rows
    demos = [r for r in rows if r.meta.get("task") == "translation"]
    assert len(rows) - len(demos) == 200 and len(demos) == 100  # ratio 0.5 of the 200 Alpaca rows
    directions = Counter((r.meta["src"], r.meta["tgt"]) for r in demos)
    assert len(directions) == 8 and set(directions.values()) <= {12, 13}  # 100 spread over 4 langs x 2 ways
    paragraphs = {lang: _xquad_paragraphs(shared_data, lang) for lang in ("en", "de", "es", "zh", "ar")}
    names = {"en": "English", "de": "German", "es": "Spanish", "zh": "Chinese", "ar": "Arabic"}
    for r in demos:
        src, tgt, seg = r.meta["src"], r.meta["tgt"], r.meta["segment"]
        instruction, text = r.messages[0]["content"].split("\n\n", 1)
        assert instruction == f"Translate the following text from {names[src]} to {names[tgt]}."
        assert text == paragraphs[src][seg].strip() and r.messages[1]["content"] == paragraphs[tgt][seg].strip()
        assert r.lang == tgt
    # No paragraph is used twice for the same language pair.
    used = Counter((frozenset((r.meta["src"], r.meta["tgt"])), r.meta["segment"]) for r in demos)
    assert set(used.values()) == {1}


def test_demos_without_ratio_and_when_short():
    segs = [Segment(str(i), lang, f"{lang} text {i}", "c") for lang in ("en", "de") for i in range(10)]
    rows = translation_demos(segs, "en", ["de"], 5, random.Random(0))
    assert Counter((r.meta["src"], r.meta["tgt"]) for r in rows) == {("en", "de"): 5, ("de", "en"): 5}
    with pytest.raises(DataError, match="10 aligned en/de segments, need 12"):
        translation_demos(segs, "en", ["de"], 6, random.Random(0))


def _row(i, lang, answer):
    return Row(str(i), lang, [{"role": "user", "content": "q"}, {"role": "assistant", "content": answer}], "s")


def test_lid_filter_drops_or_flags_wrong_languages(shared_data):
    zh = json.loads((shared_data / "alpaca_zh_carbonz0" / "zh-data-part-00.first5000.json").read_text())[:300]
    rows = [_row(i, "zh", r["output"]) for i, r in enumerate(zh) if r["output"].strip()]
    wrong = [_row(f"w{i}", "zh", "The quick brown fox jumps over the lazy dog near the river bank.") for i in range(5)]
    short = [_row("s1", "zh", "4"), _row("s2", "zh", "def f(x): return x")]
    xhosa = [_row("x1", "xh", "The assistant answered in English instead of isiXhosa here.")]  # lid.176 lacks xh
    kept, report = lid_filter(rows + wrong + short + xhosa, min_confidence=0.8)
    kept_ids = {r.id for r in kept}
    assert not kept_ids & {r.id for r in wrong}  # English text declared as Chinese: dropped
    assert {"s1", "s2", "x1"} <= kept_ids  # too short / code / not identifiable: kept unjudged
    assert report["zh"]["rows"] == len(rows) + 7 and report["zh"]["found"].get("en", 0) >= 5
    assert report["xh"] == {"rows": 1, "kept": 1, "failed": 0, "unchecked": 1, "found": {}}
    assert report["zh"]["kept"] == len([r for r in kept if r.lang == "zh"])
    # Most Chinese Alpaca answers pass at >= 0.8 (measured: 20 of 299 fail, mostly code or mixed-in English;
    # before Han-only text stopped being read as "ja", 63 failed).
    assert report["zh"]["failed"] - 5 <= 0.1 * len(rows)

    flagged, _ = lid_filter(wrong, action="flag")
    assert len(flagged) == 5 and all(r.meta["lid"]["found"] == "en" for r in flagged)


def test_stats_counts_and_fertility(engine):
    rows = [Row("1", "en", [{"role": "user", "content": "ab cd"}, {"role": "assistant", "content": "ef"}], "s"),
            Row("1", "de", [{"role": "user", "content": "abc def ghi"}, {"role": "assistant", "content": "x"}], "s"),
            Row("2", "de", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "s")]
    words = mix_stats(rows, lambda text: len(text.split()))
    assert words["en"] == {"rows": 1, "chars": 9, "tokens": 3, "chars_per_row": 9.0, "tokens_per_row": 3.0,
                           "tokens_per_char": 0.3333, "tpc_vs_base": 1.0, "parallel_vs_base": 1.0}
    assert words["de"]["tokens"] == 6 and words["de"]["chars"] == 14 + 4  # contents joined by blank lines
    assert words["de"]["parallel_vs_base"] == round(4 / 3, 3)  # only id 1 exists in both languages
    table = format_table(words)
    assert table.splitlines()[-1].split()[:4] == ["total", "3", "27", "9"]

    gemma = engine("gemma3-270m")
    en = "The weather is nice today and we are going for a walk in the park."
    zh = "今天天气很好，我们要去公园散步。"
    real = mix_stats([Row("1", "en", [{"role": "user", "content": en}], "s"),
                      Row("1", "zh", [{"role": "user", "content": zh}], "s")], gemma.count_tokens)
    assert real["en"]["tokens"] == gemma.count_tokens(en)
    assert real["zh"]["tokens_per_char"] > real["en"]["tokens_per_char"]  # Han characters carry more per char

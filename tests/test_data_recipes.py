"""Every shipped recipe loads and builds on ../shared/data; the CLI writes a mix and a card, plans
translation cost without calling anything, and turns bad recipes into one clear message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import apply_overrides
from core.errors import ConfigError
from tests.conftest import ROOT
from trainer.__main__ import main
from trainer.data.recipe import load_recipe

# Mix recipes; xinstruct-*.yaml are X-Instruction pipeline recipes (tests/test_xinstruct_units.py loads them).
RECIPES = sorted(p for p in (ROOT / "configs" / "recipes").glob("*.yaml") if not p.name.startswith("xinstruct-"))
NEEDS_HUB_OR_API = {"bactrian-x-hub", "bactrian-x", "dolly-oasst-lima-hub"}


def test_recipes_are_shipped():
    names = {p.stem for p in RECIPES}
    assert {"mono-zh", "parallel-en-zh", "sampled-en-zh", "multi-3", "temperature", "crossalpaca",
            "bactrian-x", "multiturn-loaders"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_loads_and_builds(path, shared_data, tmp_path, capsys):
    recipe = load_recipe(path)
    assert recipe.name and recipe.sources
    if path.stem in NEEDS_HUB_OR_API:
        return  # built in test_bactrian_x_dry_run (plan only) and, with hub access, by users
    out = tmp_path / "out"
    assert main(["data", str(path), "--out", str(out), "--data-dir", str(shared_data), "stats.tokenizer=null"]) == 0
    rows = [json.loads(line) for line in (out / "mix.jsonl").read_text().splitlines()]
    card = json.loads((out / "card.json").read_text())
    assert card["rows"] == len(rows) > 0
    assert sum(s["rows"] for s in card["stats"].values()) == len(rows)
    assert all(set(r) == {"id", "lang", "messages", "source", "meta"} for r in rows)
    assert all(r["messages"][-1]["role"] == "assistant" and r["messages"][-1]["content"].strip() for r in rows)
    assert all(i["sha256"] and len(i["sha256"]) == 64 for i in card["inputs"])
    assert card["versions"]["python"] and card["recipe"]["name"] == recipe.name
    assert (out / "stats.txt").read_text().splitlines()[-1].startswith("total")
    assert "total" in capsys.readouterr().out


def test_bactrian_x_dry_run_plans_cost_and_calls_nothing(shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POLYGLOT_HOME", str(tmp_path / "home"))  # a fresh, empty call cache
    out = tmp_path / "out"
    code = main(["data", str(ROOT / "configs/recipes/bactrian-x.yaml"), "--out", str(out), "--data-dir",
                 str(shared_data), "--dry-run"])
    text = capsys.readouterr().out
    assert code == 0 and not out.exists()
    skipped = int(text.split("skipped as code: ")[1].split()[0])
    jobs = int(text.split(" = ")[1].split()[0])
    assert jobs == (200 - skipped) * 7 and 0 < skipped < 40  # e.g. "Write a function..." is not translated
    assert "requests to make" in text and "(already cached: 0)" in text
    usd = float(text.split("estimated cost: $")[1].split()[0])
    assert 0 < usd < 1  # gpt-4o-mini for ~1,300 short jobs

    # The estimate is tokens x the price table, and a recipe can override the table.
    from trainer.data.build import build
    recipe = load_recipe(ROOT / "configs/recipes/bactrian-x.yaml",
                         ["translate.prices={gpt-4o-mini: {input: 1.0, output: 2.0}}", "translate.limit=20"])
    est = build(recipe, None, shared_data, dry_run=True).card["translate"]["estimate"]["by_model"]
    m = est["models"]["gpt-4o-mini@https://api.openai.com/v1"]
    assert est["usd"] == pytest.approx((m["prompt_tokens"] * 1.0 + m["completion_tokens"] * 2.0) / 1e6, abs=1e-4)

    too_dear = ["translate.max_cost=0.0001"]
    assert main(["data", str(ROOT / "configs/recipes/bactrian-x.yaml"), "--out", str(out), "--data-dir",
                 str(shared_data), "--dry-run", *too_dear]) == 2
    assert "over translate.max_cost" in capsys.readouterr().err


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "recipe.yaml"
    p.write_text(text)
    return p


BASE = "name: t\nsources:\n  en: {format: alpaca, path: stanford_alpaca/alpaca_data.first200.json, lang: en}\n"


@pytest.mark.parametrize("body,message", [
    (BASE + "mixture: {kind: all, sizes: 3}\n",
     "unknown key 'mixture.sizes'. Did you mean 'size'? Valid keys here: kind, languages, size"),
    (BASE + "shuffel: true\n", "unknown key 'shuffel'. Did you mean 'shuffle'?"),
    (BASE.replace("lang: en", "lang: english-ish"), "Unknown language 'english-ish'"),
    (BASE.replace("alpaca, path", "alpacca, path"), "sources.en.format: Input should be 'alpaca'"),
    (BASE + "mixture: {kind: all}\ndemos: {corpus: [nope], languages: [de], per_direction: 2}\n",
     "demos.corpus names unknown source(s) ['nope']"),
    ("name: t\nsources: [1, 2\n", "is not valid YAML"),
    (BASE.replace("stanford_alpaca/alpaca_data.first200.json", "nowhere.json"), "Pass --data-dir"),
])
def test_bad_recipes_are_one_clear_message(body, message, tmp_path, shared_data):
    result = _cli("data", str(_write(tmp_path, body)), "--out", str(tmp_path / "o"), "--data-dir", str(shared_data))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_rows_over_the_threshold_stop_the_build(tmp_path, shared_data):
    data = tmp_path / "data.jsonl"
    data.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c"\n{"instruction": "d", "output": ""}\n')
    body = f"name: t\nsources:\n  x: {{format: alpaca, path: {data}, lang: en}}\n"
    result = _cli("data", str(_write(tmp_path, body)), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "2 of 3 rows are malformed" in result.stderr and "data.jsonl:2: broken JSON line" in result.stderr
    assert "data.jsonl:3: missing field 'output' (no response)" in result.stderr
    assert "max_bad_fraction" in result.stderr
    ok = _cli("data", str(_write(tmp_path, body + "max_bad_fraction: 0.9\nstats: {tokenizer: null}\n")),
              "--out", str(tmp_path / "o"))
    assert ok.returncode == 0, ok.stderr
    bad = [json.loads(line) for line in (tmp_path / "o" / "bad_rows.jsonl").read_text().splitlines()]
    assert [b["where"] for b in bad] == ["data.jsonl:2", "data.jsonl:3"]
    assert "2 malformed input row(s) skipped" in ok.stderr


def test_overrides():
    data = {"mixture": {"kind": "all"}, "name": "x"}
    assert apply_overrides(data, ["mixture.size=5", "seed=3", "mixture.languages=[en, de]"]) == \
        {"mixture": {"kind": "all", "size": 5, "languages": ["en", "de"]}, "name": "x", "seed": 3}
    assert data == {"mixture": {"kind": "all"}, "name": "x"}  # the input is not changed
    with pytest.raises(ConfigError, match="not key=value"):
        apply_overrides(data, ["mixture.size"])
    with pytest.raises(ConfigError, match="'name' is not a section"):
        apply_overrides(data, ["name.first=1"])


def test_review_regressions(shared_data, tmp_path, monkeypatch):
    from core.errors import DataError
    from trainer.data.build import build

    monkeypatch.setenv("POLYGLOT_HOME", str(tmp_path / "home"))
    # Credentials in a model URL never reach the card.
    recipe = load_recipe(ROOT / "configs/recipes/bactrian-x.yaml",
                         ["translate.translator=openai:m@https://user:sk-SECRET@host.example/v1?key=sk-QUERY",
                          "translate.limit=3", "translate.max_cost=null"])
    card = build(recipe, None, shared_data, dry_run=True).card
    text = json.dumps(card)
    assert "sk-SECRET" not in text and "sk-QUERY" not in text and "openai:m@https://host.example/v1" in text
    # Rows the sources already have in a target language are not translated again.
    recipe = load_recipe(ROOT / "configs/recipes/parallel-en-zh.yaml",
                         ["translate={translator: openai:gpt-4o-mini, languages: [zh], limit: 10}"])
    plan = build(recipe, None, shared_data, dry_run=True).card["translate"]
    assert plan["skipped_existing"] == 10 and plan["jobs"] == 0
    # A `langs:` source whose path has no {lang} would read one file for every language.
    with pytest.raises(ConfigError, match=r"needs '\{lang\}' in `path:`"):
        load_recipe(_write(tmp_path, BASE.replace("lang: en}", "langs: [en, de], config: '{lang}'}")))
    with pytest.raises(ConfigError, match="may only use {language}"):
        load_recipe(_write(tmp_path, BASE + "translate: {translator: openai:x, languages: [de], "
                                            "teacher_system: 'Answer in {lang}.'}\n"))
    with pytest.raises(ConfigError, match="weights must be >= 0"):
        load_recipe(_write(tmp_path, BASE + "mixture: {kind: weighted, size: 5, weights: {en: -1}}\n"))
    # A file that is not UTF-8 is one clear error.
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes('{"instruction": "Größe", "output": "ok"}\n'.encode("latin-1"))
    recipe = load_recipe(_write(tmp_path, f"name: t\nsources:\n  x: {{format: alpaca, path: {latin}, lang: de}}\n"))
    with pytest.raises(DataError, match="not UTF-8 text"):
        build(recipe, None, tmp_path, dry_run=True)


def test_demos_use_only_the_named_corpus(shared_data):
    from trainer.data.build import build

    recipe = load_recipe(ROOT / "configs/recipes/crossalpaca.yaml", [
        "stats.tokenizer=null", "demos.ratio=null", "demos.languages=[de]", "demos.per_direction=3",
        "sources.other={format: text, path: flores200_devtest/devtest/deu_Latn.devtest.txt, lang: de}"])
    demos = [r for r in build(recipe, None, shared_data, dry_run=True).rows if r.meta.get("task") == "translation"]
    assert len(demos) == 6 and {r.source.split("/")[0] for r in demos} == {"xquad"}

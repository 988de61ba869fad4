"""The X-Instruction pipeline on a tiny random model: every stage runs and writes its stats; a run killed in the
middle of a stage resumes without redoing finished work; diversification and the final mix on real embeddings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.records import read_jsonl
from tests.conftest import ROOT
from tests.tiny_model import build_tiny_model
from trainer.xinstruct.recipe import load_xinstruct

SUBJECTS = ["我的朋友", "这位老师", "那个学生", "我们的邻居", "一位医生", "公司的经理"]
ACTIONS = ["每天早上在公园里跑步", "周末喜欢去图书馆看书", "晚上常常给家人做饭", "经常在网上学习新的语言",
           "下午在花园里种花"]


def _data(root: Path) -> Path:
    """30 aligned English/Chinese Alpaca rows and 30 native Chinese lines, all different."""
    root.mkdir(parents=True, exist_ok=True)
    en, zh = [], []
    for i in range(30):
        en.append({"instruction": f"Describe what person number {i} does.", "input": "", "output": "x"})
        answer = f"第{i}个人{ACTIONS[i % 5]}，而且{ACTIONS[(i + 2) % 5]}。"
        zh.append({"instruction": "描述", "input": "", "output": answer})
    (root / "en.json").write_text(json.dumps(en))
    (root / "zh.json").write_text(json.dumps(zh, ensure_ascii=False))
    lines = [f"{s}{a}，因为这样{'让生活更加健康快乐' if k % 2 else '可以认识很多新朋友'}。"
             for k, (s, a) in enumerate((s, a) for s in SUBJECTS for a in ACTIONS)]
    (root / "corpus.txt").write_text("\n".join(lines) + "\n")
    return root


def _recipe(base: Path, **over) -> dict:
    recipe = {
        "lang": "zh", "name": "tiny", "base": str(base),
        "train": {"max_length": 1024, "batch_size": 4, "save_every": 2, "log_every": 1, "eval_fraction": 0.0,
                  "eval_every": 100, "learning_rate": 1e-3},
        "seeds": {"instructions": {"format": "alpaca", "path": "en.json", "lang": "en", "id_prefix": "a-"},
                  "responses": {"format": "alpaca", "path": "zh.json", "lang": "zh", "id_prefix": "a-"},
                  "held_out": 12},
        "corpus": {"native": {"format": "text", "path": "corpus.txt", "lang": "zh"}},
        "reverse": {"train": {"max_steps": 2}, "max_tokens": 8, "require_english": False},
        "refine": {"iterations": 2, "test_fraction": 0.5, "model_share": 1.0, "evaluator_train": {"max_steps": 2},
                   "model_train": {"max_steps": 2}, "model_max_tokens": 8},
        "diversify": {"clusters": 3}}
    for key, value in over.items():
        recipe[key] = {**recipe[key], **value} if isinstance(value, dict) else value
    return recipe


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("xi") / "model", initializer_range=0.3)


def test_every_stage_runs_and_reports_its_stats(tiny, tmp_path):
    from trainer.xinstruct.pipeline import run, summary

    data, out = _data(tmp_path / "data"), tmp_path / "out"
    card = run(load_xinstruct(_recipe(tiny)), out, data, log=lambda m: None, until="iteration-2")
    st = card["stages"]
    assert st["seeds"] == {"train": 18, "rate": 6, "test": 6}
    assert st["corpus"]["kept"] == 30 and st["candidates"]["texts"] == 30
    for k in (1, 2):
        it = st[f"iteration-{k}"]
        levels = Counter(int(key.split(":")[0]) for key, n in it["rating_set"].items() for _ in range(n))
        assert levels == {0: 6, 1: 6, 2: 6}  # one of each level per rating pair
        assert it["evaluator_test"]["n"] == 18 and 0 <= it["evaluator_test"]["accuracy"] <= 1
        assert sum(it["candidate_ratings"].values()) == st["candidates"]["candidates"]
        assert it["kept"] == it["candidate_ratings"]["2"]
        assert len(read_jsonl(out / f"iter-{k}" / "scores.jsonl")) == st["candidates"]["candidates"]
    ratings = read_jsonl(out / "iter-1" / "ratings.jsonl")
    test_responses = {x["response"] for x in ratings if x["split"] == "test" and x["rating"] == 2}
    assert not test_responses & {x["response"] for x in ratings if x["split"] == "rate"}  # no test text in training
    # iteration 2's rating-1 examples include the iteration-1 cross-lingual model's answers
    assert any(key.endswith(":model") for key in st["iteration-2"]["rating_set"])
    assert (out / "iter-1" / "model" / "train" / "adapter" / "polyglot_card.json").is_file()
    assert not (out / "iter-2" / "model").exists()  # the last model is not trained unless asked
    assert "evaluator test accuracy" in summary(card)
    # a rerun skips every finished stage and changes nothing
    before = (out / "iter-2" / "scores.jsonl").read_bytes()
    logged = []
    (data / "corpus.txt").unlink()  # a resume reads the corpus it kept, not the source again
    run(load_xinstruct(_recipe(tiny)), out, data, log=logged.append, until="iteration-2")
    assert sum("skipped" in m for m in logged) == 4 and (out / "iter-2" / "scores.jsonl").read_bytes() == before
    with pytest.raises(ConfigError, match="another recipe"):
        run(load_xinstruct(_recipe(tiny, seed=1)), out, data, log=lambda m: None)


def test_killed_mid_stage_resumes_without_redoing_finished_work(tiny, tmp_path):
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    recipe = tmp_path / "recipe.json"  # JSON is YAML
    recipe.write_text(json.dumps(_recipe(tiny, reverse={"max_tokens": 96})))
    cmd = [sys.executable, "-m", "trainer", "xinstruct", str(recipe), "--out", str(out), "--data-dir", str(data),
           "--until", "candidates"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    outputs = out / "reverse_outputs.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if outputs.is_file() and len(read_jsonl(outputs)) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"finished before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = read_jsonl(outputs)
    assert 3 <= len(first) < 30
    adapter = out / "reverse" / "train" / "adapter" / "adapter_model.safetensors"
    trained_at = adapter.stat().st_mtime_ns
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "reverse-train: done before, skipped" in done.stderr
    records = read_jsonl(outputs)
    assert len(records) == 30 and len({r["id"] for r in records}) == 30  # each text generated once
    assert records[:len(first)] == first  # what was written before the kill was kept, not redone
    assert adapter.stat().st_mtime_ns == trained_at  # the finished training stage was not rerun
    assert "candidates:" in done.stdout


def test_keep_at_least_fills_up_by_the_evaluators_p2(tiny, tmp_path):
    """A weak evaluator rates almost nothing 2: keep_at_least keeps the candidates it finds most likely 2,
    counted apart in the stats, and the mix says which rating each row had."""
    from trainer.xinstruct.pipeline import run, summary

    data, out = _data(tmp_path / "data"), tmp_path / "out"
    recipe = _recipe(tiny, refine={"iterations": 1, "keep_at_least": 12}, diversify={"clusters": 2})
    card = run(load_xinstruct(recipe), out, data, log=lambda m: None)
    it = card["stages"]["iteration-1"]
    twos = it["candidate_ratings"]["2"]
    assert it["kept"] == max(12, twos) and it["kept_by_rank"] == it["kept"] - twos
    scores = read_jsonl(out / "iter-1" / "scores.jsonl")
    kept = {c["id"] for c in read_jsonl(out / "iter-1" / "kept.jsonl")}
    others = sorted((s for s in scores if s["rating"] != 2), key=lambda s: -s["p"][2])
    if it["kept_by_rank"]:  # exactly the highest P(2) among the rest
        assert {s["id"] for s in others[:it["kept_by_rank"]]} <= kept
        assert not {s["id"] for s in others[it["kept_by_rank"]:]} & kept
        assert "by P(2), to keep_at_least" in summary(card)
    ratings = {s["id"]: s["rating"] for s in scores}
    mix = read_jsonl(out / "mix.jsonl")
    assert all(r["meta"]["rating"] == ratings[r["id"].removeprefix("xi-")] for r in mix)
    stage = card["stages"]["mix"]
    assert (stage["rows"], stage["languages"]) == (len(mix), {"zh": len(mix)})  # what the report shows
    with pytest.raises(ValueError, match="keep_at_least"):
        load_xinstruct(_recipe(tiny, refine={"keep_at_least": -1}))


def test_diversify_and_mix_take_the_same_number_per_cluster(tmp_path):
    from trainer.xinstruct.pipeline import Run, _diversify, _mix

    recipe = load_xinstruct(_recipe(tmp_path / "unused", refine={"iterations": 1}, diversify={"clusters": 2}))
    out = tmp_path / "out"
    run = Run(recipe, out, tmp_path, log=lambda m: None)
    topics = ["Write a poem about the sea.", "Compose a short poem about ocean waves.", "Write verses about the sea.",
              "How do I bake bread at home?", "Give me a recipe for homemade bread.",
              "Explain how to bake a loaf of bread.", "What is a good bread recipe for beginners?"]
    (out / "iter-1").mkdir()
    (out / "iter-1" / "kept.jsonl").write_text("".join(
        json.dumps({"id": f"c{i}", "instruction": t, "response": f"回答{i}"}, ensure_ascii=False) + "\n"
        for i, t in enumerate(topics)))
    stats = _diversify(run)
    assert stats["clusters"] == 2 and sorted(stats["cluster_sizes"]) == [3, 4]  # poems vs bread
    assert stats["per_cluster"] == 3 and stats["selected"] == 6
    _mix(run)
    rows = read_jsonl(out / "mix.jsonl")
    assert len(rows) == 6 and Counter(r["meta"]["cluster"] for r in rows).most_common()[0][1] == 3
    assert all(r["lang"] == "zh" and r["meta"]["instruction_lang"] == "en" for r in rows)
    assert rows[0]["messages"][0]["role"] == "user" and rows[0]["messages"][1]["content"].startswith("回答")
    assert "zh" in (out / "stats.txt").read_text()


@pytest.mark.slow
def test_real_chinese_run_with_smollm2_to_the_first_evaluator(shared_data, tmp_path, report):
    """The shipped recipe, shrunk: Alpaca en/zh seeds and OpenAssistant's Chinese text on smollm2-135m, through
    the reverse model, the candidates and one round of rating (the whole recipe: see the README's numbers)."""
    from trainer.xinstruct.pipeline import run, summary

    recipe = load_xinstruct(ROOT / "configs/recipes/xinstruct-zh.yaml", [
        "corpus_limit=12", "seeds.held_out=24", "reverse.train.max_steps=12", "refine.iterations=1",
        "refine.evaluator_train.max_steps=8", "reverse.max_tokens=24"])
    card = run(recipe, tmp_path / "out", shared_data, log=lambda m: None, until="iteration-1")
    st = card["stages"]
    assert st["seeds"] == {"train": 176, "rate": 14, "test": 10}
    assert st["corpus"]["kept"] == 12 and st["candidates"]["texts"] == 12
    assert st["candidates"]["candidates"] + sum(st["candidates"]["dropped"].values()) == 12
    for c in read_jsonl(tmp_path / "out" / "candidates.jsonl"):  # kept instructions are English, answers Chinese
        assert c["instruction"] and any("\u4e00" <= ch <= "\u9fff" for ch in c["response"])
    ev = st["iteration-1"]["evaluator_test"]
    assert ev["n"] == 30 and sum(st["iteration-1"]["candidate_ratings"].values()) == st["candidates"]["candidates"]
    report("X-Instruction zh on smollm2-135m (12 texts, 12 reverse steps, 8 evaluator steps):\n" + summary(card))

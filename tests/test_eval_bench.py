"""eval bench: prompts exactly as lm-evaluation-harness builds them (checked against requests it produced),
local data readers, resume after SIGKILL with no item scored twice, reports and plots, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import ConfigError, DataError
from eval.data import load_items
from eval.tasks import get_task, task_langs
from tests.conftest import ROOT
from tests.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", initializer_range=0.3)


def first(task: str, lang: str, data: Path):
    items, source = load_items(get_task(task), lang, data, limit=1)
    return items[0], source


def test_requests_match_lm_eval(shared_data):
    # Request strings copied from lm-eval 0.4.13 runs (--log_samples) on the same rows.
    item, source = first("xcopa", "zh", shared_data)
    ctx = "该物品用气泡包装纸包着 因为"
    assert item.requests == ((ctx, " 它很易碎。"), (ctx, " 它很小。"))
    assert item.gold == 0 and source["sha256"] and source["split"] == "test"
    item, _ = first("xcopa", "it", shared_data)
    assert item.requests[0] == ("L'oggetto era incartato nella plastica bollata perché", " era delicato.")
    item, _ = first("xwinograd", "ja", shared_data)
    assert item.requests == (("狙撃兵はテロリストを撃った。狙撃兵", " は悪漢だったからだ。"),
                             ("狙撃兵はテロリストを撃った。テロリスト", " は悪漢だったからだ。"))
    item, _ = first("xwinograd", "en", shared_data)
    assert item.requests[0] == ("The city councilmen refused the demonstrators a permit because The city "
                                "councilmen", " feared violence.") and item.gold == 0
    item, _ = first("xnli", "de", shared_data)
    assert item.requests[0][0] == "" and item.requests[0][1].endswith("redete., richtig? Ja, Ich habe nicht wieder "
                                                                      "mit ihm gesprochen.")
    assert item.gold == 2  # contradiction
    item, _ = first("pawsx", "de", shared_data)  # cleaned: no final period on s1, s2 starts lowercase, no space
    assert item.requests[1][1].startswith("Die Ausnahme war") and ", richtig? Ja, die Ausnahme" in item.requests[1][1]
    assert item.gold == 1


def test_local_xwinograd_matches_the_hub_sizes(shared_data):
    sizes = {lang: len(load_items(get_task("xwinograd"), lang, shared_data)[0]) for lang in get_task("xwinograd").langs}
    assert sizes == {"en": 2325, "fr": 83, "ja": 959, "pt": 263, "ru": 315, "zh": 16}
    assert len(load_items(get_task("xcopa"), "qu", shared_data)[0]) == 500
    items, _ = load_items(get_task("pawsx"), "de", shared_data)
    assert len(items) == 2000 and sum(i.gold for i in items) == 895  # the quoted rows are not merged


def test_bad_input_is_one_clear_message(tmp_path, offline_hub):
    with pytest.raises(ConfigError, match="Unknown task 'xcopaa'.*the tasks are: .*sib200, .*xcopa, "):
        get_task("xcopaa")
    with pytest.raises(ConfigError, match="xcopa has no language 'de'.*et, ht, id"):
        task_langs(get_task("xcopa"), ["de"])
    bad = tmp_path / "xcopa" / "data" / "zh"
    bad.mkdir(parents=True)
    rows = [{"premise": "我掏空了口袋。", "choice1": "a", "choice2": "b", "question": "effect", "label": 0, "idx": 0},
            {"premise": "我掏空了口袋。", "choice1": "a", "question": "effect", "label": 0, "idx": 1}]
    (bad / "test.zh.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    with pytest.raises(DataError, match=r"test.zh.jsonl:2: a xcopa row needs the field\(s\) choice2"):
        load_items(get_task("xcopa"), "zh", tmp_path)
    with pytest.raises(DataError, match="(?s)not found under --data-dir"):  # (then the hub, offline here)
        load_items(get_task("xcopa"), "it", tmp_path)


def _bench(tiny, data, out):
    return [sys.executable, "-m", "eval", "bench", "--model", f"hf:{tiny}", "--tasks", "xcopa,xwinograd",
            "--langs", "zh,it,fr", "--limit", "24", "--batch-items", "4", "--data-dir", str(data), "--out", str(out)]


def test_sigkill_and_rerun_give_the_same_numbers(tiny, tmp_path, shared_data):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = lambda out: subprocess.run(_bench(tiny, shared_data, out), cwd=ROOT, env=env, capture_output=True,  # noqa: E731
                                     text=True, timeout=600)
    whole = run(tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr[-2000:]
    cut = tmp_path / "cut"
    proc = subprocess.Popen(_bench(tiny, shared_data, cut), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline:
        lines = (cut / "items.jsonl").read_text().count("\n") if (cut / "items.jsonl").exists() else 0
        if lines >= 30:
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.02)
    proc.kill()  # SIGKILL mid-run, possibly mid-line
    proc.wait()
    with (cut / "items.jsonl").open("a") as f:
        f.write('{"task": "xcopa", "lang"')  # as if the kill landed in the middle of a write
    rerun = run(cut)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    a, b = (json.loads((d / "card.json").read_text()) for d in (tmp_path / "whole", cut))
    assert a["results"] == b["results"]  # the same numbers
    assert b["scored_this_run"] < a["scored_this_run"]  # the rerun only scored what was left
    keys = [(r["task"], r["lang"], r["id"]) for r in map(json.loads, (cut / "items.jsonl").read_text().splitlines())]
    assert len(keys) == len(set(keys)) == 24 * 2 + 16 + 24  # xcopa zh/it, xwinograd zh (16) and fr; none twice
    other = subprocess.run(_bench(tiny, shared_data, cut)[:-4] + ["--limit", "5", "--out", str(cut)], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    assert other.returncode == 2 and "holds a run with limit=24, not 5" in other.stderr


def test_report_table_and_plots(tiny, tmp_path, shared_data):
    from eval.bench import run_bench
    from eval.report import load_runs, plots, table

    for name, limit in (("a", 10), ("b", 12)):
        card = run_bench(f"hf:{tiny}", ["xcopa"], tmp_path / name, langs=["zh", "it"], limit=limit,
                         data_dir=shared_data, log=lambda m: None)
        assert card["results"]["xcopa"]["zh"]["n"] == limit
        lo, hi = card["results"]["xcopa"]["zh"]["ci95"]
        assert lo <= card["results"]["xcopa"]["zh"]["acc"] <= hi
    cards = load_runs([tmp_path / "a", tmp_path / "b"])
    text = table(cards)
    assert "xcopa  zh" in text and "n=10" in text and "n=12" in text and "(a)" in text and "(b)" in text
    written = plots(cards, tmp_path / "plots")
    assert [p.name for p in written] == ["xcopa_bars.png", "xcopa_heatmap.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in written)
    with pytest.raises(ConfigError, match="no finished run"):
        load_runs([tmp_path / "nothing"])


@pytest.mark.slow
def test_a_backend_that_cannot_score_is_skipped_and_said_so(tmp_path, shared_data, smollm2_server, monkeypatch):
    from eval.bench import run_bench
    from tests.servers import SECRET, RecordingProxy

    # A chat-only API (as OpenAI's chat models): /v1/completions answers 404, so no log-likelihoods.
    proxy = RecordingProxy(smollm2_server.removesuffix("/v1"), chat_only=("/v1/completions",))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    try:
        card = run_bench(f"openai:smollm2@{proxy.url}", ["xcopa", "xwinograd"], tmp_path / "run", langs=["zh"],
                         limit=2, data_dir=shared_data, log=lambda m: None)
    finally:
        proxy.close()
    assert set(card["skipped"]) == {"xcopa", "xwinograd"}
    assert all("cannot score log-likelihoods" in why and "chat model" in why for why in card["skipped"].values())
    assert card["status"] == "done" and card["results"]["xcopa"]["zh"]["n"] == 0
    assert SECRET not in (tmp_path / "run" / "card.json").read_text()

"""Translate-and-distill against a real llama_cpp.server (smollm2-135m) on 127.0.0.1, through a recording
proxy that shows exactly which requests the client made. Output quality is irrelevant here; the flow,
the cache, the cost estimate, retries and resuming after SIGKILL are what is tested."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.servers import SECRET, RecordingProxy

pytestmark = pytest.mark.slow
N_ROWS, LANGS = 10, ["de", "fr"]


def _recipe(tmp: Path, url: str, **translate) -> Path:
    recipe = {
        "name": "distill-test",
        "sources": {"alpaca": {"format": "alpaca", "path": "stanford_alpaca/alpaca_data.first200.json", "lang": "en",
                               "limit": N_ROWS}},
        "mixture": {"kind": "all"},
        "translate": {"translator": f"openai:smollm2@{url}", "languages": LANGS, "translate_max_tokens": 24,
                      "max_tokens": 24, "concurrency": 2, "cache": str(tmp / "cache.sqlite"), **translate},
        "stats": {"tokenizer": None},
    }
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _cli(recipe: Path, out: Path, data: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "trainer", "data", str(recipe), "--out", str(out), "--data-dir", str(data), *extra]


def _env() -> dict:
    return {**os.environ, "OPENAI_API_KEY": SECRET, "PYTHONPATH": str(ROOT)}


def _key(body: dict) -> str:
    from core.api_cache import call_key

    body = {k: v for k, v in body.items() if k != "_status"}
    return call_key(body.pop("model"), body.pop("messages"), **body)


def _cached_keys(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {k for (k,) in db.execute("SELECT key FROM calls")}


@pytest.fixture
def proxy(smollm2_server):
    p = RecordingProxy(smollm2_server.removesuffix("/v1"))
    yield p
    p.close()


def test_dry_run_kill_resume(tmp_path, proxy, shared_data, report):
    recipe, out = _recipe(tmp_path, proxy.url), tmp_path / "out"

    # 1. Dry run: a plan and an estimate, and not one request.
    dry = subprocess.run(_cli(recipe, out, shared_data, "--dry-run"), capture_output=True, text=True, env=_env(),
                         cwd=ROOT, timeout=300)
    assert dry.returncode == 0, dry.stderr
    assert proxy.bodies == [] and not (out / "mix.jsonl").exists()
    assert f"{N_ROWS} source rows x 2 languages" in dry.stdout
    estimated = int(dry.stdout.split("requests to make: ")[1].split()[0])

    # 2. Start the real run and SIGKILL it half-way (once some teacher answers are cached).
    run = subprocess.Popen(_cli(recipe, out, shared_data), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=_env(), cwd=ROOT)
    cache = tmp_path / "cache.sqlite"
    deadline = time.time() + 600
    while time.time() < deadline and run.poll() is None:
        if cache.exists() and len(_cached_keys(cache)) >= estimated // 2:
            break
        time.sleep(0.2)
    assert run.poll() is None, "the run finished before it could be killed; make it longer"
    run.kill()
    run.wait()
    proxy.settle()  # requests the dead client left in flight still reach the server; let them land first
    finished = _cached_keys(cache)
    first_bodies = list(proxy.bodies)
    assert 0 < len(finished) < estimated and not (out / "mix.jsonl").exists()

    # 3. Rerun: nothing finished is requested again, nothing twice, and the mix is complete.
    proxy.bodies.clear()
    done = subprocess.run(_cli(recipe, out, shared_data), capture_output=True, text=True, env=_env(), cwd=ROOT,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    second = [_key(b) for b in proxy.bodies]
    assert not set(second) & finished, "a finished call was requested again"
    assert len(second) == len(set(second)), f"a call was answered twice; upstream errors: {proxy.errors}"
    # Every planned request was made exactly once overall, except calls in flight when the process died.
    in_flight = {_key(b) for b in first_bodies} - finished
    assert len(finished) + len(second) == estimated
    assert in_flight <= set(second)

    rows = [json.loads(line) for line in (out / "mix.jsonl").read_text().splitlines()]
    translated = [(r["id"], r["lang"]) for r in rows if r["lang"] != "en"]
    assert len(translated) == len(set(translated)) == N_ROWS * len(LANGS)  # none lost, none duplicated
    assert {i for i, _ in translated} == {r["id"] for r in rows if r["lang"] == "en"}
    assert all(r["messages"][1]["content"].strip() for r in rows)
    card = json.loads((out / "card.json").read_text())
    calls = card["translate"]["usage"]["calls"]
    assert calls["made"] == len(second) and calls["cached"] + calls["shared"] >= len(finished)
    assert card["translate"]["usage"]["usd"] == 0.0  # a local server costs nothing

    # 4. A third run is free: every call comes from the cache.
    proxy.bodies.clear()
    again = subprocess.run(_cli(recipe, out, shared_data), capture_output=True, text=True, env=_env(), cwd=ROOT,
                           timeout=300)
    assert again.returncode == 0 and proxy.bodies == []
    assert (out / "mix.jsonl").read_text() == "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"

    # The key never reaches the card, the stats or the logs.
    shown = "".join(p.read_text() for p in out.iterdir()) + dry.stdout + dry.stderr + done.stdout + done.stderr
    assert SECRET not in shown
    report(f"translate-and-distill on smollm2 via llama_cpp.server: {estimated} requests estimated; killed after "
           f"{len(finished)} finished ({len(in_flight)} in flight); resume made {len(second)}, third run 0")


def test_retries_rate_limits(tmp_path, smollm2_server, shared_data, monkeypatch):
    from trainer.data.recipe import load_recipe
    from trainer.data.schema import BadRows
    from trainer.data.sources import load_sources
    from trainer.data.translate import translate_and_distill

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    flaky = RecordingProxy(smollm2_server.removesuffix("/v1"), fail_next=2)
    try:
        recipe = load_recipe(_recipe(tmp_path, flaky.url, max_retries=3, concurrency=1),
                             ["sources.alpaca.limit=1", "translate.languages=[de]"])
        rows = load_sources(recipe.sources, shared_data, BadRows()).rows
        out, rep = translate_and_distill(rows, recipe.translate)
        assert flaky.failed == 2 and len(out) == 1 and rep["failed"] == 0  # two 429s, then success

        # With no retries left, the job fails, is reported, and the run goes on; a rerun retries it.
        flaky.fail_next = 1
        recipe = load_recipe(_recipe(tmp_path, flaky.url, max_retries=0, concurrency=1,
                                     cache=str(tmp_path / "other.sqlite")),
                             ["sources.alpaca.limit=1", "translate.languages=[de]"])
        out, rep = translate_and_distill(rows, recipe.translate)
        assert out == [] and rep["failed"] == 1 and "RateLimitError" in rep["failures"][0]["error"]
        out, rep = translate_and_distill(rows, recipe.translate)
        assert len(out) == 1 and rep["failed"] == 0
    finally:
        flaky.close()

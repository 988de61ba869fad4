"""`eval generate --concurrency` against a served model: llama-server is killed mid-run (the engine restarts it
and the run finishes), and the owner is killed mid-run (a rerun resumes); no record is lost or written twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.slow

SPEC = "served:smollm2-135m+parallel=4+ctx=512"


def _command(out):
    return [sys.executable, "-m", "eval", "generate", "--model", SPEC, "--set", "examples", "--langs",
            "en,de,fr,es", "--limit", "5", "--max-tokens", "24", "--concurrency", "4", "--out", str(out)]


def _lines(out) -> list[dict]:
    path = out / "items.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _wait_for(pred, timeout=180):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def _children(pid: int, name: str) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid), "-f", name], capture_output=True, text=True).stdout.split()
    return [int(x) for x in found]


def test_a_server_killed_mid_run_is_restarted_and_the_run_completes(tmp_path):
    out = tmp_path / "run"
    log = (tmp_path / "log.txt").open("w")
    job = subprocess.Popen(_command(out), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    _wait_for(lambda: len(_lines(out)) >= 3)
    guard = _children(job.pid, "core.serve_guard")[0]
    server = _children(guard, "llama-server")[0]
    subprocess.run(["kill", "-9", str(server)], check=True)
    assert job.wait(timeout=300) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    keys = [(r["lang"], r["id"]) for r in _lines(out)]
    assert len(keys) == len(set(keys)) == 20  # none lost, none written twice
    assert all(r["answers"][0].strip() for r in _lines(out))
    assert "restarted" in (tmp_path / "log.txt").read_text()
    card = json.loads((out / "card.json").read_text())
    assert card["status"] == "done" and card["throughput"]["mode"] == "threads"
    assert card["throughput"]["concurrency"] == 4 and card["throughput"]["latency_p95"] >= \
        card["throughput"]["latency_p50"] > 0


def test_a_killed_run_resumes_without_repeating_a_record(tmp_path):
    out = tmp_path / "run"
    job = subprocess.Popen(_command(out), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: len(_lines(out)) >= 4)
    job.send_signal(signal.SIGKILL)
    job.wait()
    before = _lines(out)
    assert 4 <= len(before) < 20
    rerun = subprocess.run(_command(out), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = _lines(out)
    keys = [(r["lang"], r["id"]) for r in after]
    assert len(keys) == len(set(keys)) == 20
    by_key = {(r["lang"], r["id"]): r for r in after}
    assert all(by_key[r["lang"], r["id"]] == r for r in before)  # what was written stays as written
    # the finished run lists its records in the order asked, not the order the calls finished
    assert keys == [(lang, f"{lang}-{i}") for lang in ("en", "de", "fr", "es") for i in range(1, 6)]
    card = json.loads((out / "card.json").read_text())
    assert card["answered_this_run"] == 20 - len(before)
    assert "requests/s" in rerun.stdout and "latency p50" in rerun.stdout

"""core/run_dir.py: atomic writes leave nothing half-written, stages resume, another run's dir is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.errors import ConfigError
from core.run_dir import CARD, RunDir, atomic_dir, atomic_file, write_json


def test_card_round_trip(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.read_card() is None and run.card == {}
    run.write_card({"model": "m", "ü": [1, 2]})
    assert run.card_path == tmp_path / "run" / CARD
    assert RunDir(tmp_path / "run").read_card() == {"model": "m", "ü": [1, 2]}
    assert RunDir(tmp_path / "run").card == {"model": "m", "ü": [1, 2]}


def test_atomic_file_keeps_the_old_file_when_the_writer_raises(tmp_path):
    path = tmp_path / "data.json"
    write_json(path, {"v": 1})
    with pytest.raises(RuntimeError), atomic_file(path) as tmp:
        tmp.write_text('{"v": 2, "half')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]  # no temp file left


def test_atomic_dir_keeps_the_old_dir_when_the_writer_raises(tmp_path):
    out = tmp_path / "model"
    with atomic_dir(out) as tmp:
        (tmp / "weights").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "weights").write_text("half")
        raise RuntimeError("killed mid-write")
    assert (out / "weights").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temp dir left
    with atomic_dir(out) as tmp:
        (tmp / "weights").write_text("new")
    assert [p.name for p in out.iterdir()] == ["weights"] and (out / "weights").read_text() == "new"


def test_atomic_dir_keep_existing_yields_to_a_finished_one(tmp_path):
    out = tmp_path / "converted"
    with atomic_dir(out, keep_existing=True) as tmp:
        (tmp / "x").write_text("first")
        out.mkdir()  # another process finished first
        (out / "x").write_text("theirs")
    assert (out / "x").read_text() == "theirs" and [p.name for p in tmp_path.iterdir()] == ["converted"]


def test_a_dead_writers_temp_is_removed_and_a_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / f"out.{dead.stdout.strip()}-1.tmp"
    live = tmp_path / f"out.{os.getppid()}-1.tmp"
    stale.mkdir()
    live.mkdir()
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "f").write_text("x")
    assert not stale.exists() and live.exists()


def test_resume_skips_a_done_stage_and_reruns_one_not_marked_done(tmp_path):
    run = RunDir(tmp_path)
    run.mark_done("a", {"rows": 3})
    run.mark_running("b", key="k1")
    resumed = RunDir(tmp_path)  # a new process reads the card from disk
    assert resumed.done("a") and resumed.stages["a"] == {"rows": 3}
    assert not resumed.done("b")  # killed while running: redo it
    assert not resumed.done("c")
    resumed.mark_done("b", {"key": "k1", "status": "done"})
    assert RunDir(tmp_path).done("b", key="k1") and not RunDir(tmp_path).done("b", key="k2")  # other inputs


def test_a_run_dir_of_another_config_is_refused(tmp_path):
    RunDir(tmp_path).write_card({"model": "a", "limit": 24})
    RunDir(tmp_path).refuse_other_run({"model": "a", "limit": 24})  # the same run: resumed
    RunDir(tmp_path / "new").refuse_other_run({"model": "b"})  # no card yet: a fresh run
    with pytest.raises(ConfigError, match=r"holds a run with limit=24, not 5; resuming would mix two runs\. "
                                          r"Pass another --out \(or delete .* to start over\)"):
        RunDir(tmp_path).refuse_other_run({"model": "a", "limit": 5})


def test_the_eval_and_stage_classes_go_through_run_dir(tmp_path):
    from eval.results import check_same_run, read_card, write_card
    from experiments.stages import Run

    write_card(tmp_path / "eval", {"model": "m"})
    assert read_card(tmp_path / "eval") == RunDir(tmp_path / "eval").read_card() == {"model": "m"}
    with pytest.raises(ConfigError, match="holds a run with model='m', not 'n'"):
        check_same_run(tmp_path / "eval", {"model": "n"})
    r = Run(tmp_path / "exp", {"experiment": "t"}, log=lambda *_: None)
    r.stage("a", {"n": 1}, lambda d: {"ok": True})
    assert RunDir(tmp_path / "exp").done("a") and RunDir(tmp_path / "exp" / "a").read_card()["results"] == {"ok": True}

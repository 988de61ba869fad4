"""The public app's building blocks without a server: escaping round-trips, path redaction, caps from the
environment, the judge allow-list, and the cleanup of old visitors' runs."""

from __future__ import annotations

import os
import time

import pytest

from core.errors import ConfigError
from playground.public_quotas import check_job_quota, clean_public_runs
from playground.safe_text import from_chat, plain, to_chat
from playground.settings import PublicLimits, Settings


@pytest.mark.parametrize("text", ["<b>x</b>", "&lt;b&gt; typed literally", "a & b", "**x** ![](http://h/p)",
                                  "line\n\nafter a blank line <img src=x>", "\"'`$$x$$"])
def test_chat_escaping_is_exact_and_plain_text_cannot_leave_its_block(text):
    assert from_chat(to_chat(text)) == text  # the models get exactly what was typed or generated
    assert "<" not in to_chat(text).replace("&lt;", "")
    shown = plain(text)
    assert shown.startswith('<pre class="plain">') and shown.count("<") == 2 and "\n" not in shown


def test_redact_hides_server_paths_only_on_a_public_app(tmp_path):
    runs = tmp_path / "runs"
    public = Settings(public=True, runs_dir=runs).for_visitor("abc")
    text = f"error: {runs}/visitors/abc/uploads/x.jsonl:3: bad line"
    assert public.redact(text) == "error: runs/uploads/x.jsonl:3: bad line"
    assert Settings(runs_dir=runs).redact(text) == text


def test_caps_come_from_the_environment_and_a_bad_value_says_which(monkeypatch):
    monkeypatch.setenv("POLYGLOT_PUBLIC_MAX_TOKENS", "64")
    assert PublicLimits.from_env().max_tokens == 64
    assert Settings(public=True, limits=PublicLimits.from_env()).cap_tokens(10**9) == 64
    assert Settings(public=False).cap_tokens(10**9) == 10**9
    monkeypatch.setenv("POLYGLOT_PUBLIC_MAX_TOKENS", "lots")
    with pytest.raises(ConfigError, match="POLYGLOT_PUBLIC_MAX_TOKENS='lots' is not a number"):
        PublicLimits.from_env()


def test_the_judge_allow_list_is_the_operators(monkeypatch):
    monkeypatch.setenv("POLYGLOT_JUDGE_URLS", "https://judge.example/v1/, https://api.openai.com/v1")
    public = Settings.from_env(public=True)
    assert public.check_judge_url("https://judge.example/v1") == "https://judge.example/v1"
    with pytest.raises(ConfigError, match="not 'http://10.0.0.1/v1'"):
        public.check_judge_url("http://10.0.0.1/v1")
    assert Settings.from_env().check_judge_url("http://10.0.0.1/v1") == "http://10.0.0.1/v1"


def _visitor(root, name: str, size: int, age_days: float):
    path = root / "visitors" / name / "generate" / "x" / "items.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x" * size)
    old = time.time() - age_days * 86400
    for p in [path, *path.parents][:4]:
        os.utime(p, (old, old))
    return path


def test_old_runs_go_first_and_the_disk_quota_holds(tmp_path):
    limits = PublicLimits(disk_bytes=2500, keep_days=7)
    app = Settings(public=True, runs_dir=tmp_path, limits=limits)
    _visitor(tmp_path, "expired", 10, age_days=8)
    _visitor(tmp_path, "oldest", 1000, age_days=3)
    _visitor(tmp_path, "middle", 1000, age_days=2)
    _visitor(tmp_path, "asking", 1000, age_days=1)
    gone = clean_public_runs(app.for_visitor("asking"))
    assert gone == ["expired", "oldest"]  # over 2,500 bytes: the oldest goes; the one asking is kept
    assert sorted(p.name for p in (tmp_path / "visitors").iterdir()) == ["asking", "middle"]


def test_a_full_disk_of_busy_runs_refuses_a_new_job(tmp_path, monkeypatch):
    limits = PublicLimits(disk_bytes=500)
    app = Settings(public=True, runs_dir=tmp_path, limits=limits)
    _visitor(tmp_path, "asking", 1000, age_days=0)
    with pytest.raises(ConfigError, match="disk for runs is full"):
        check_job_quota(app.for_visitor("asking"))


def test_a_public_visitor_votes_within_the_rate_limit_only(tmp_path):
    from playground.human_eval import annotator_of, check_rate

    mine = Settings(public=True, runs_dir=tmp_path, limits=PublicLimits(votes_per_minute=3)).for_visitor("rate1")
    for _ in range(3):
        check_rate(mine)
    with pytest.raises(ConfigError, match="3 votes a minute"):
        check_rate(mine)
    check_rate(mine.for_visitor("rate2"))  # another visitor has their own budget
    assert annotator_of(mine, "someone else's name") == "visitor-rate1"  # a typed name is ignored in public
    assert annotator_of(Settings(runs_dir=tmp_path), " ana ") == "ana"

"""The public load bench's fault phase: visitors with longer checks, re-voters, a SIGKILL of the app (and of
some jobs, as a machine crash), then on the restarted app the jobs' states, their resumption and every
votes database checked for integrity and lost votes."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil

from bench.public_visitors import (
    CHECK_LANGS,
    COOKIE,
    MODELS,
    Ledger,
    Refused,
    call,
    cast,
    check_args,
    connect,
    disk_jobs,
    retry_quota,
    wait_jobs,
)


def fault_visitor(url: str, ledger: Ledger, n: int, deadline: float) -> dict:
    """A new visitor that starts a longer language check; returns its cookie, args and job id."""
    client = connect(ledger, "fault", url)
    langs = ", ".join(CHECK_LANGS[(n + k) % 8] for k in range(4))
    args = check_args(MODELS[1], langs, 4, 64)  # 16 prompts: two rounds of the job's 8 at once
    jid = retry_quota(lambda: call(ledger, "fault", client, "/language_check", *args)["value"], deadline)
    return {"cookie": client.cookies[COOKIE], "args": args, "id": jid}


def revoter(url: str, ledger: Ledger, visitor: str, cookie: str, items: list[str], stop: threading.Event) -> None:
    """A load visitor (reconnected by its cookie) re-voting its items, left and right in turn, until the app
    dies: the vote in flight at the kill is 'sent, not acknowledged'."""
    try:
        client = connect(ledger, "fault", url, cookie)
        for k in range(10_000):
            if stop.is_set():
                return
            cast(ledger, "fault", client, visitor, items[k % len(items)], ("left", "right")[k % 2], time.time() + 30)
            time.sleep(2.1)  # under 30 votes a minute
    except Refused:
        pass  # the kill: recorded by call()


def kill_app(proc) -> dict:
    """SIGKILL the app process alone (not its group: that is this bench's); which of its tree survived."""
    tree = [proc_info(p) for p in psutil.Process(proc.pid).children(recursive=True)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # let children with PR_SET_PDEATHSIG die
    return {"children_before": tree, "survivors": [t for t in tree if alive(t)]}


def proc_info(p: psutil.Process) -> dict:
    try:
        cmd = " ".join(p.cmdline())
        return {"pid": p.pid, "created": p.create_time(), "cmd": cmd[:120]}
    except psutil.Error:
        return {"pid": p.pid, "created": 0, "cmd": "?"}


def alive(info: dict) -> bool:
    """Still the same process (pid and start time) and not a zombie."""
    try:
        p = psutil.Process(info["pid"])
        return p.create_time() == info["created"] and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def resume(url: str, ledger: Ledger, fv: dict, deadline: float) -> dict:
    """After the restart: the visitor (by cookie) sees its job; if it is not running or done, Run again
    (same args, so the same job id) resumes it; then wait for the end."""
    out = {"id": fv["id"], "restarted": False}
    try:
        client = connect(ledger, "restart", url, fv["cookie"])
        runs = {r["id"]: r["status"] for r in call(ledger, "restart", client, "/runs")}
        out["seen_after_restart"] = runs.get(fv["id"], "missing")
        state = wait_jobs(ledger, "restart", client, [fv["id"]], deadline).get(fv["id"], "missing")
        if state in ("stopped", "failed"):
            jid = retry_quota(lambda: call(ledger, "restart", client, "/language_check", *fv["args"])["value"],
                              deadline)
            out |= {"restarted": True, "same_id": jid == fv["id"]}
            state = wait_jobs(ledger, "restart", client, [jid], deadline).get(jid, "missing")
        out["final"] = state
        if state == "done":
            res = call(ledger, "restart", client, "/run_results", fv["id"])
            out["rows"] = len(res.get("rows", []))
    except Refused as exc:
        out["error"] = str(exc)[:200]
    return out


def check_votes(runs: Path, ledger: Ledger) -> tuple[dict, dict]:
    """PRAGMA integrity_check of each votes database, and each acknowledged vote looked up in them: a vote
    counts as stored if its row has it, or if a later vote of the same visitor (sent after it) replaced it."""
    integrity, rows = {}, {}
    for db_path in sorted(runs.glob("visitors/*/human_votes.sqlite")):
        db = sqlite3.connect(db_path)
        try:
            integrity[db_path.parent.name] = db.execute("PRAGMA integrity_check").fetchone()[0]
            for annotator, item, vote, created in db.execute("SELECT annotator, item, vote, created FROM votes"):
                rows[(annotator.removeprefix("visitor-"), item)] = (vote, created)
        finally:
            db.close()
    last: dict = {}
    for v in ledger.votes:  # each visitor votes one at a time: the last acknowledged one per item counts
        if v["ack"] is not None:
            last[(v["visitor"], v["item"])] = v
    lost = [k for k, v in last.items() if k not in rows or (rows[k][0] != v["stored"] and rows[k][1] <= v["ack"])]
    acked = sum(v["ack"] is not None for v in ledger.votes)
    unacked = len(ledger.votes) - acked
    return integrity, {"acknowledged": acked, "sent_not_acknowledged": unacked, "items_voted": len(last),
                       "stored_rows": len(rows), "lost": [f"{a}:{i}" for a, i in lost]}


def wait_mid_job(runs: Path, ids: set[str], deadline: float) -> dict:
    """Wait until a job of `ids` has generated part of its answers (or the deadline); their states then."""
    while True:
        now = {jid: s for jid, s in disk_jobs(runs).items() if jid in ids}
        if any(0 < s["progress"] < 1 for s in now.values()) or time.time() > deadline:
            return now
        time.sleep(0.5)


def fault_phase(proc, url: str, args, ledger: Ledger, visitors: dict) -> dict:
    """Start the longer checks and the re-voters, wait until the jobs are generating, SIGKILL the app."""
    deadline = time.time() + 120
    faults = [fault_visitor(url, ledger, n, deadline) for n in range(args.fault_jobs)]
    stop = threading.Event()
    mine = defaultdict(list)
    for v in ledger.votes:
        if v["ack"] is not None:
            mine[v["visitor"]].append(v["item"])
    voters = [threading.Thread(target=revoter, args=(url, ledger, vis, visitors[vis], sorted(set(items)), stop))
              for vis, items in list(mine.items())[:args.revoters]]
    for th in voters:
        th.start()
    ids = {f["id"] for f in faults}
    at_kill = wait_mid_job(args.runs, ids, time.time() + args.kill_after)
    killed = kill_app(proc)
    # A crash of the machine (or the OOM killer) takes the jobs too: kill -9 some jobs' process groups.
    crashed = sorted(ids)[:args.crash_jobs]
    for jid in crashed:
        pid = at_kill[jid]["state"].get("pid")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    stop.set()
    for th in voters:
        th.join(timeout=60)
    return {"faults": faults, "at_kill": at_kill, "crashed": crashed, **killed}


def restart_phase(url: str, args, ledger: Ledger, fault: dict, visitors: dict) -> dict:
    """On the restarted app: job states on disk, the same visitor by cookie, each fault job resumed."""
    after = disk_jobs(args.runs)
    some = next(iter(visitors.items()), None)
    seen = {}
    if some:  # identity survives a restart with the cookie; a new client is a new visitor with no runs
        seen["old_cookie_runs"] = len(call(ledger, "restart", connect(ledger, "restart", url, some[1]), "/runs"))
        seen["new_client_runs"] = len(call(ledger, "restart", connect(ledger, "restart", url), "/runs"))
    deadline = time.time() + args.resume_timeout
    resumed = [resume(url, ledger, fv, deadline) for fv in fault["faults"]]
    return {"after_restart": after, "seen": seen, "resumed": resumed}

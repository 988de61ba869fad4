"""Load and faults on the public app (issue 21): many visitors at once through the visitor API, then a
`kill -9` of the app while language checks run, a restart on the same runs dir and port, and the checks that
nothing was lost (job states, every votes database's integrity, every acknowledged vote stored).

    python bench/public_load.py [--sessions 20] [--concurrency 16] [--fault-jobs 4] [--no-card]
    python bench/public_load.py --readme      # the README's public-load table from the card

Load phase: SESSIONS visitors (one gradio_client Client each, in its own thread, all starting together) each
send 3 short `/chat` turns (max_tokens 32, temperature 0), start two language checks on the built-in examples
(2 languages, limit 1, max_tokens 16; smollm2-135m and gemma3-270m), wait for them, `/add_pairs` of the two
answer sets and vote on every item. The app runs with its default public quotas (2 running jobs per visitor,
4 for the app, 30 votes a minute): a refusal by a quota is counted as such and retried after a pause, it is
not an error. Fault phase: FAULT_JOBS new visitors start a longer language check while some load visitors
keep re-voting; the app gets SIGKILL mid-job, is restarted, each visitor reconnects with its visitor cookie
(gradio_client keeps the app's cookie, so the cookie, not the session, is the visitor) and starts its check
again, which resumes. One load/fault run, not a median of 3 (card: bench/results/public_load.json).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import read_card, update_readme, write_card  # noqa: E402
from playground import jobs  # noqa: E402
from tests.servers import free_port, serve  # noqa: E402

COOKIE = "polyglot_visitor"  # playground.visitors.COOKIE (not imported: that would load gradio here)
MODELS = ("smollm2-135m", "gemma3-270m")
SHORT = {"de": "Wie spät ist es?", "fr": "Quel temps fait-il ?", "es": "¿Dónde está la estación?",
         "it": "Come stai oggi?", "ja": "今日は何曜日ですか？", "zh": "你喜欢喝茶吗？", "ru": "Как тебя зовут?",
         "pt": "Qual é a capital do Brasil?", "en": "What is a rainbow?"}
CHAT_LANGS = list(SHORT)
CHECK_LANGS = ["de", "fr", "es", "ja", "zh", "ru", "it", "pt"]  # languages of the built-in examples


class Ledger:
    """Every request's endpoint, latency and outcome, and every vote the app acknowledged (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, float, str, str]] = []  # (phase, endpoint, seconds, outcome, detail)
        self.votes: list[dict] = []  # sent votes; "ack" is the app's answer time (None: no answer)

    def add(self, phase: str, endpoint: str, seconds: float, outcome: str, detail: str = "") -> None:
        with self.lock:
            self.requests.append((phase, endpoint, seconds, outcome, detail[:200]))


class Refused(Exception):
    """A request the app turned down: `outcome` is "quota" (an expected refusal) or an error kind."""

    def __init__(self, outcome: str, detail: str):
        super().__init__(detail)
        self.outcome = outcome


def classify(message: str) -> str:
    """quota (a public limit said no: expected), queue-full, outage (no app to answer) or app-error."""
    low = message.lower()
    if "limit" in low:
        return "quota"
    if "queue is full" in low:
        return "queue-full"
    if any(s in low for s in ("connect", "refused", "closed", "stopped unexpectedly", "remoteprotocol")):
        return "outage"
    return "app-error"


def warnings_of(job) -> list[str]:
    """The gr.Warning texts the app sent with a finished request (how a Run button says no)."""
    queue = getattr(getattr(job, "communicator", None), "updates", None)
    found = []
    while queue is not None and not queue.empty():
        log = getattr(queue.get_nowait(), "log", None)
        found += [log[0]] if log else []
    return found


def call(ledger: Ledger, phase: str, client, endpoint: str, *args):
    """One API request, timed and recorded; returns its value or raises Refused."""
    start = time.perf_counter()
    try:
        job = client.submit(*args, api_name=endpoint)
        out = job.result()
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome to count, not a crash
        detail = f"{type(exc).__name__}: {exc}"
        outcome = classify(detail)
        ledger.add(phase, endpoint, time.perf_counter() - start, outcome, detail)
        raise Refused(outcome, detail) from exc
    # A Run button that says no answers with a warning and no new value (gr.skip), not an error.
    if endpoint == "/language_check" and not (isinstance(out, dict) and out.get("value")):
        detail = " | ".join(warnings_of(job)) or f"no job id in {out!r}"
        outcome = classify(detail)
        ledger.add(phase, endpoint, time.perf_counter() - start, outcome, detail)
        raise Refused(outcome, detail)
    ledger.add(phase, endpoint, time.perf_counter() - start, "ok")
    return out


def connect(ledger: Ledger, phase: str, url: str, cookie: str | None = None):
    """A Client: a new visitor, or (with `cookie`) the visitor that cookie names, even after a restart."""
    from gradio_client import Client

    start = time.perf_counter()
    try:
        kwargs = {"httpx_kwargs": {"cookies": {COOKIE: cookie}}} if cookie else {}
        client = Client(url, verbose=False, **kwargs)
    except Exception as exc:  # noqa: BLE001
        ledger.add(phase, "connect", time.perf_counter() - start, classify(str(exc)), f"{type(exc).__name__}: {exc}")
        raise Refused(classify(str(exc)), str(exc)) from exc
    ledger.add(phase, "connect", time.perf_counter() - start, "ok")
    return client


def visitor_of(cookie: str) -> str:
    """The visitor id the app derives from a cookie (playground.visitors.visitor_id)."""
    return hashlib.sha256(cookie.encode()).hexdigest()[:16]


def retry_quota(fn, deadline: float, pause: float = 3.0):
    """fn() until it is not refused by a quota (pausing between tries) or the deadline passes."""
    while True:
        try:
            return fn()
        except Refused as exc:
            if exc.outcome != "quota" or time.time() > deadline:
                raise
        time.sleep(pause)


def wait_jobs(ledger: Ledger, phase: str, client, ids: list[str], deadline: float, poll: float = 2.0) -> dict:
    """Poll /runs until none of `ids` is running (or the deadline); returns id -> status."""
    while True:
        states = {r["id"]: r["status"] for r in call(ledger, phase, client, "/runs") if r["id"] in ids}
        if all(s != "running" for s in states.values()) or time.time() > deadline:
            return states
        time.sleep(poll)


def vote_all(ledger: Ledger, phase: str, client, visitor: str, deadline: float) -> None:
    """/next_item + /vote until no item is left; each vote in the ledger, acknowledged or not."""
    choices = ("left", "right", "tie", "both_bad")
    while time.time() < deadline:
        item = call(ledger, phase, client, "/next_item", "")["item"]
        if not item:
            return
        cast(ledger, phase, client, visitor, item, choices[len(ledger.votes) % 4], deadline)


def cast(ledger: Ledger, phase: str, client, visitor: str, item: str, choice: str, deadline: float) -> None:
    """One vote (retried while the per-minute quota says no), in the ledger before it is sent."""
    entry = {"visitor": visitor, "item": item, "choice": choice, "sent": time.time(), "ack": None, "phase": phase}
    with ledger.lock:
        ledger.votes.append(entry)
    answer = retry_quota(lambda: call(ledger, phase, client, "/vote", item, choice), deadline, pause=5.0)
    entry |= {"ack": time.time(), "stored": answer["vote"]}


def check_args(model: str, langs: str, limit: int, max_tokens: int) -> tuple:
    return [model], "Built-in examples", "hplt", None, langs, limit, max_tokens


def load_session(i: int, url: str, ledger: Ledger, visitors: dict, barrier: threading.Barrier,
                 deadline: float) -> None:
    """One visitor of the load phase; failures end up in the ledger, never in an exception."""
    phase = "load"
    try:
        client = connect(ledger, phase, url)
    except Refused:
        client = None
    barrier.wait()  # even a visitor that could not connect, so that the others are not left waiting
    if client is None:
        return
    visitor = visitor_of(client.cookies.get(COOKIE, ""))
    visitors[visitor] = client.cookies.get(COOKIE, "")
    try:
        for t in range(3):
            lang = CHAT_LANGS[(i + t) % len(CHAT_LANGS)]
            call(ledger, phase, client, "/chat", SHORT[lang], MODELS[0], 32, 0.0)
        langs = f"{CHECK_LANGS[i % 8]}, {CHECK_LANGS[(i + 3) % 8]}"
        ids = [retry_quota(lambda m=m: call(ledger, phase, client, "/language_check",
                                            *check_args(m, langs, 1, 16))["value"], deadline) for m in MODELS]
        states = wait_jobs(ledger, phase, client, ids, deadline)
        for jid in ids:
            call(ledger, phase, client, "/run_results", jid)
        sets = [v for _, v in call(ledger, phase, client, "/answer_sets")]
        if len(sets) >= 2 and all(s == "done" for s in states.values()):
            call(ledger, phase, client, "/add_pairs", sets[0], sets[1])
            vote_all(ledger, phase, client, visitor, deadline)
    except Refused:
        pass  # recorded by call(); this visitor stops here


class RssSampler(threading.Thread):
    """The RSS of the app's process tree (the app, its llama-servers and its jobs) every `every` s."""

    def __init__(self, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every, self.stop = None, every, threading.Event()
        self.peak: dict[str, float] = defaultdict(float)  # phase -> peak MB
        self.phase, self.samples, self.procs_peak = "load", 0, 0

    def run(self) -> None:
        while not self.stop.wait(self.every):
            mb, n = tree_rss(self.pid)
            self.peak[self.phase] = max(self.peak[self.phase], mb)
            self.procs_peak, self.samples = max(self.procs_peak, n), self.samples + 1


def tree_rss(pid: int | None) -> tuple[float, int]:
    """(MB, processes) of `pid` and all its descendants; (0, 0) when it is gone."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except (psutil.Error, TypeError, ValueError):
        return 0.0, 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass  # it exited between the listing and the read
    return total / 2**20, len(procs)


def disk_jobs(runs: Path) -> dict[str, dict]:
    """Every visitor job as its files say, read by this process: id -> status, state.json, progress."""
    out = {}
    for path in sorted(runs.glob("visitors/*/jobs/*/job.json")):
        job = jobs.load(path.parent)
        state = json.loads((job.dir / "state.json").read_text()) if (job.dir / "state.json").is_file() else {}
        out[job.id] = {"visitor": path.parts[-4], "status": jobs.status(job), "state": state,
                       "progress": round(jobs.progress(job)[0], 2)}
    return out


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


def load_phase(url: str, args, ledger: Ledger) -> tuple[dict, float]:
    """All load visitors at once; returns visitor -> cookie and the phase's wall time."""
    visitors: dict[str, str] = {}
    barrier = threading.Barrier(args.sessions + 1)
    deadline = time.time() + args.session_timeout
    threads = [threading.Thread(target=load_session, args=(i, url, ledger, visitors, barrier, deadline))
               for i in range(args.sessions)]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    for th in threads:
        th.join()
    return visitors, time.perf_counter() - start


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


def latency_table(ledger: Ledger) -> dict:
    """endpoint -> n, ok, p50, p95 of the successful requests (seconds)."""
    by = defaultdict(list)
    for _, endpoint, sec, outcome, _ in ledger.requests:
        by[endpoint].append((sec, outcome))
    table = {}
    for endpoint, rows in sorted(by.items()):
        ok = np.array([s for s, o in rows if o == "ok"] or [np.nan])
        table[endpoint] = {"n": len(rows), "ok": sum(o == "ok" for _, o in rows),
                           "p50": float(np.percentile(ok, 50)), "p95": float(np.percentile(ok, 95))}
    return table


def outcomes(ledger: Ledger) -> dict:
    """(phase, outcome) counts and the distinct error details."""
    counts = Counter(f"{p}:{o}" for p, _, _, o, _ in ledger.requests)
    details = Counter(f"{p} {e} {o}: {d[:120]}" for p, e, _, o, d in ledger.requests if o not in ("ok", "quota"))
    return {"counts": dict(sorted(counts.items())), "errors": dict(details.most_common(15))}


def report(res: dict) -> None:
    """Print the figures."""
    print(f"sessions {res['sessions']}  app --concurrency {res['concurrency']}  default public quotas  "
          f"load wall {res['load_wall']:.0f} s  total {res['total_wall']:.0f} s")
    served = sum(v["ok"] for v in res["latency"].values())
    print(f"requests served {served}; outcomes {res['outcomes']['counts']}")
    print(f"{'endpoint':<16}{'n':>5}{'ok':>5}{'p50 s':>8}{'p95 s':>8}")
    for endpoint, m in res["latency"].items():
        print(f"{endpoint:<16}{m['n']:>5}{m['ok']:>5}{m['p50']:>8.2f}{m['p95']:>8.2f}")
    for detail, n in res["outcomes"]["errors"].items():
        print(f"  {n} x {detail}")
    print(f"peak RSS of the app tree (MB): {dict((k, round(v)) for k, v in res['rss'].items())}; "
          f"most processes {res['procs_peak']}")
    print(f"load visitors: {res['visitors']}  jobs done {res['load_jobs_done']}/{res['load_jobs']}")
    print(f"kill -9: fault jobs at kill {[(j, s['status'], s['progress']) for j, s in res['at_kill'].items()]}")
    print(f"  then kill -9 of the process groups of jobs {res['crashed']} (a machine crash for them)")
    print(f"  app children before kill {len(res['children_before'])}, survived the app's kill: "
          f"{[s['cmd'][:70] for s in res['survivors']]}")
    print(f"  job states on disk right after restart: {Counter(s['status'] for s in res['after_restart'].values())}"
          f"; fault jobs {[(j, s['status']) for j, s in res['after_restart'].items() if j in res['at_kill']]}")
    print(f"  same cookie after restart sees {res['seen'].get('old_cookie_runs')} runs; "
          f"a new client sees {res['seen'].get('new_client_runs')}")
    for r in res["resumed"]:
        print(f"  resume {r}")
    bad = {k: v for k, v in res["integrity"].items() if v != "ok"}
    print(f"integrity_check: {len(res['integrity'])} votes databases, "
          f"{len(res['integrity']) - len(bad)} ok{'; NOT ok: ' + str(bad) if bad else ''}")
    print(f"votes: {res['votes']}")


def readme_table(res: dict) -> str:
    """A short markdown table of the figures for the README."""
    lat, v = res["latency"], res["votes"]
    rows = ["| figure | value |", "|---|---|",
            f"| visitors / app --concurrency | {res['sessions']} / {res['concurrency']} (default public quotas) |",
            f"| requests served | {sum(m['ok'] for m in lat.values())} |",
            f"| quota refusals (expected) | {res['quota_refusals']} |",
            f"| errors under load | {res['load_errors']} |"]
    rows += [f"| `{e}` p50 / p95 | {lat[e]['p50']:.2f} / {lat[e]['p95']:.2f} s |"
             for e in ("/chat", "/language_check", "/vote") if e in lat]
    rows += [f"| peak RSS, app tree | {max(res['rss'].values()):.0f} MB |",
             f"| kill -9 mid-job: jobs done after the restart | {sum(r.get('final') == 'done' for r in res['resumed'])}"
             f"/{len(res['resumed'])} ({sum(r['restarted'] for r in res['resumed'])} crashed and resumed by their "
             f"visitor, the others outlived the app) |",
             f"| votes databases integrity ok | {sum(x == 'ok' for x in res['integrity'].values())}"
             f"/{len(res['integrity'])} |",
             f"| votes acknowledged / lost | {v['acknowledged']} / {len(v['lost'])} |"]
    return "\n".join(rows)


def run(args) -> dict:
    """The whole load and fault run against one app, killed once and restarted."""
    port, ledger, sampler = free_port(), Ledger(), RssSampler()
    url = f"http://127.0.0.1:{port}/"
    app = ["app.py", "--public", "--port", str(port), "--runs-dir", str(args.runs),
           "--concurrency", str(args.concurrency)]
    t0 = time.perf_counter()
    sampler.start()
    with serve(app, url, args.tmp / "app-1.log") as proc:
        sampler.pid = proc.pid
        visitors, load_wall = load_phase(url, args, ledger)
        load_jobs = disk_jobs(args.runs)
        sampler.phase = "fault"
        fault = fault_phase(proc, url, args, ledger, visitors)
    with serve(app, url, args.tmp / "app-2.log") as proc:
        sampler.pid, sampler.phase = proc.pid, "restart"
        restarted = restart_phase(url, args, ledger, fault, visitors)
    sampler.stop.set()
    integrity, votes = check_votes(args.runs, ledger)
    return {"sessions": args.sessions, "concurrency": args.concurrency, "load_wall": load_wall,
            "total_wall": time.perf_counter() - t0, "visitors": len(visitors),
            "load_jobs": len(load_jobs), "load_jobs_done": sum(j["status"] == "done" for j in load_jobs.values()),
            "latency": latency_table(ledger), "outcomes": outcomes(ledger),
            "quota_refusals": sum(r[3] == "quota" for r in ledger.requests),
            "load_errors": sum(r[0] == "load" and r[3] not in ("ok", "quota") for r in ledger.requests),
            "rss": dict(sampler.peak), "procs_peak": sampler.procs_peak, "rss_samples": sampler.samples,
            "at_kill": fault["at_kill"], "children_before": fault["children_before"],
            "survivors": fault["survivors"], "crashed": fault["crashed"], **restarted, "integrity": integrity,
            "votes": votes}


def cleanup(res: dict, runs: Path) -> None:
    """Stop what this run started and left behind: jobs still running, processes that survived the kill."""
    for path in runs.glob("visitors/*/jobs/*/job.json"):
        job = jobs.load(path.parent)
        if jobs.status(job) == "running":
            jobs.stop(job)
    for info in res.get("survivors", []):
        if alive(info):
            os.kill(info["pid"], signal.SIGKILL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=20, help="concurrent visitors in the load phase")
    p.add_argument("--concurrency", type=int, default=16, help="app.py --concurrency")
    p.add_argument("--fault-jobs", type=int, default=4, help="longer language checks running at the kill")
    p.add_argument("--revoters", type=int, default=6, help="load visitors re-voting while the app is killed")
    p.add_argument("--kill-after", type=float, default=90.0,
                   help="kill when a fault job is part done, or this many seconds after they start")
    p.add_argument("--crash-jobs", type=int, default=2, help="fault jobs whose process group is killed too")
    p.add_argument("--session-timeout", type=float, default=480, help="the load phase's deadline (s)")
    p.add_argument("--resume-timeout", type=float, default=240, help="the restarted jobs' deadline (s)")
    p.add_argument("--no-card", action="store_true", help="print only (a smoke run)")
    p.add_argument("--readme", action="store_true",
                   help="only rewrite the README's public-load table from the card (no run)")
    args = p.parse_args()
    if args.readme:
        card = read_card("public_load")
        ok = card is not None and update_readme("public-load", readme_table(card))
        sys.exit(print("README.md public-load table rewritten" if ok else "no card, or no <!-- public-load:begin -->"))
    with tempfile.TemporaryDirectory() as tmp:
        args.tmp, args.runs = Path(tmp), Path(tmp) / "runs"
        res = {}
        try:
            res = run(args)
        finally:
            cleanup(res, args.runs)
            for log in sorted(args.tmp.glob("app-*.log")):  # the app's side of any failure, before tmp goes
                if not res or res["load_errors"]:
                    print(f"{log.name} (last 2000 chars):\n{log.read_text()[-2000:]}")
    report(res)
    failed = res["load_errors"] or res["votes"]["lost"] or any(v != "ok" for v in res["integrity"].values()) \
        or any(r.get("final") != "done" for r in res["resumed"])
    if not args.no_card:
        print(f"card: {write_card('public_load', res | {'runs': 1, 'note': 'one load/fault run, not a median'})}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

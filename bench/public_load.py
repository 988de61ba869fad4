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
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.public_faults import alive, check_votes, fault_phase, restart_phase  # noqa: E402
from bench.public_visitors import Ledger, disk_jobs, load_phase  # noqa: E402
from bench.run_cards import read_card, update_readme, write_card  # noqa: E402
from playground import jobs  # noqa: E402
from tests.servers import free_port, serve  # noqa: E402


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

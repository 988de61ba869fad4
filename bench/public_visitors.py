"""The public load bench's visitors: a ledger of every request and vote, the API calls with their outcomes
(ok, quota, error), and one load visitor's session (chat, two language checks, pairs, votes)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

from bench.run_cards import released_together
from playground import jobs

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


def disk_jobs(runs: Path) -> dict[str, dict]:
    """Every visitor job as its files say, read by this process: id -> status, state.json, progress."""
    out = {}
    for path in sorted(runs.glob("visitors/*/jobs/*/job.json")):
        job = jobs.load(path.parent)
        state = json.loads((job.dir / "state.json").read_text()) if (job.dir / "state.json").is_file() else {}
        out[job.id] = {"visitor": path.parts[-4], "status": jobs.status(job), "state": state,
                       "progress": round(jobs.progress(job)[0], 2)}
    return out


def load_phase(url: str, args, ledger: Ledger) -> tuple[dict, float]:
    """All load visitors at once; returns visitor -> cookie and the phase's wall time."""
    visitors: dict[str, str] = {}
    barrier = threading.Barrier(args.sessions + 1)
    deadline = time.time() + args.session_timeout
    threads = [threading.Thread(target=load_session, args=(i, url, ledger, visitors, barrier, deadline))
               for i in range(args.sessions)]
    return visitors, released_together(threads, barrier)

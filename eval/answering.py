"""Answer many prompts with one engine, N at a time where the engine can take them: concurrent requests to a
server (openai, served), batched generation (hf), one by one in process (gguf). Each finished prompt is handed
to `on_done` at once, so the caller can append it and a killed run loses only what was in flight."""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from core.engines import Engine, complete

CONCURRENT_BACKENDS = ("openai", "served")  # servers that take requests in parallel


@dataclass
class Answered:
    """One prompt's answers (one per turn), each turn's seconds and completion tokens (None if uncounted)."""

    answers: list[str]
    seconds: list[float]
    tokens: list[int | None]


@dataclass
class Throughput:
    """Requests (one per turn) answered in this run, over its wall-clock seconds."""

    concurrency: int
    mode: str
    requests: int = 0
    tokens: int | None = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, done: Answered) -> None:
        self.requests += len(done.answers)
        self.latencies += done.seconds
        if self.tokens is not None and None not in done.tokens:
            self.tokens += sum(done.tokens)  # type: ignore[arg-type]
        else:
            self.tokens = None

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        q = statistics.quantiles(lat, n=20, method="inclusive") if len(lat) > 1 else lat * 19
        wall = max(self.seconds, 1e-9)
        return {"concurrency": self.concurrency, "mode": self.mode, "requests": self.requests,
                "seconds": round(self.seconds, 2), "requests_per_s": round(self.requests / wall, 3),
                "tokens_per_s": round(self.tokens / wall, 2) if self.tokens is not None else None,
                "latency_p50": round(statistics.median(lat), 3) if lat else None,
                "latency_p95": round(q[18], 3) if lat else None}


def answer_mode(engine: Engine, concurrency: int) -> str:
    """How `engine` answers N prompts at once: 'threads' (a server), 'batch' (hf) or 'sequential'."""
    if concurrency <= 1:
        return "sequential"
    if getattr(engine, "backend", "") in CONCURRENT_BACKENDS:
        return "threads"
    if hasattr(engine, "generate_batch"):
        return "batch"
    return "sequential"


def _count(engine: Engine, text: str) -> int | None:
    # The openai backend counts through a server call; not worth a request per answer.
    return None if getattr(engine, "backend", "") == "openai" else engine.count_tokens(text)


def _answer_one(engine: Engine, turns: Sequence[str], params: dict) -> Answered:
    """Every turn of one prompt, each a whole (non-streamed) request; a served engine resends a request its
    server died under after restarting it."""
    done, messages = Answered([], [], []), []
    for turn in turns:
        messages.append({"role": "user", "content": turn})
        start = time.perf_counter()
        answer = complete(engine, messages, **params)
        done.seconds.append(time.perf_counter() - start)
        done.tokens.append(_count(engine, answer))
        messages.append({"role": "assistant", "content": answer})
        done.answers.append(answer)
    return done


def _answer_batch(engine, prompts: Sequence[Sequence[str]], params: dict) -> list[Answered]:
    """hf batched generation: turn by turn, every prompt of the batch in one generate call."""
    out = [Answered([], [], []) for _ in prompts]
    conversations: list[list[dict]] = [[] for _ in prompts]
    for t in range(max(len(p) for p in prompts)):
        live = [i for i, p in enumerate(prompts) if t < len(p)]
        for i in live:
            conversations[i].append({"role": "user", "content": prompts[i][t]})
        start = time.perf_counter()
        answers = engine.generate_batch([conversations[i] for i in live], **params)
        seconds = time.perf_counter() - start  # every request of the batch waited for the whole batch
        for i, answer in zip(live, answers):
            conversations[i].append({"role": "assistant", "content": answer})
            out[i].answers.append(answer)
            out[i].seconds.append(seconds)
            out[i].tokens.append(engine.count_tokens(answer))
    return out


def answer_all(engine: Engine, prompts: Sequence[Sequence[str]], params: dict, concurrency: int,
               on_done: Callable[[int, Answered], None], progress: Callable[[], None] = lambda: None) -> Throughput:
    """Answer `prompts` (each a list of turns), calling on_done(index, answered) as each finishes."""
    mode = answer_mode(engine, concurrency)
    if concurrency > 1 and mode == "sequential":
        print(f"The {getattr(engine, 'backend', '?')} backend answers one prompt at a time in process; "
              f"--concurrency {concurrency} is not used (serve the model with served:MODEL to batch).",
              file=sys.stderr)
    stats = Throughput(concurrency if mode != "sequential" else 1, mode)
    lock = threading.Lock()

    def finish(i: int, done: Answered) -> None:
        with lock:
            on_done(i, done)
            stats.add(done)
        progress()

    start = time.perf_counter()
    try:
        if mode == "threads":
            _run_threads(engine, prompts, params, concurrency, finish)
        elif mode == "batch":
            for lo in range(0, len(prompts), concurrency):
                for j, done in enumerate(_answer_batch(engine, prompts[lo:lo + concurrency], params)):
                    finish(lo + j, done)
        else:
            for i, turns in enumerate(prompts):
                finish(i, _answer_one(engine, turns, params))
    finally:
        stats.seconds = time.perf_counter() - start
    return stats


def _run_threads(engine, prompts, params, concurrency, finish) -> None:
    """At most `concurrency` prompts in flight; the first failure stops new submissions and is raised."""
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="answer")
    pending: dict = {}
    queue = iter(range(len(prompts)))
    try:
        for i in queue:
            pending[pool.submit(_answer_one, engine, prompts[i], params)] = i
            if len(pending) >= concurrency:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                i = pending.pop(fut)
                finish(i, fut.result())  # raises the worker's error here
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(_answer_one, engine, prompts[nxt], params)] = nxt
    finally:
        # On an error or Ctrl-C: finished answers were written; queued ones are cancelled, in-flight ones abandoned.
        pool.shutdown(wait=False, cancel_futures=True)

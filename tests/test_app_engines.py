"""Engine lifetime in the app: leases keep an evicted engine open until its last user is done, a visitor who
leaves mid-answer frees the model, and the in-process gguf engine never deadlocks on its lock."""

from __future__ import annotations

import threading
import time

import pytest

import core.engines.gguf as gguf_module
from core.engines import load
from core.errors import EngineError
from playground import arena, engines
from playground.arena import Sampling, stream_answers


class FakeEngine:
    """Streams numbered words slowly and records whether it was closed and whether a stream is still open."""

    backend = "fake"
    loads: list[FakeEngine] = []

    def __init__(self, spec: str):
        self.spec, self.closed, self.streaming = spec, False, 0
        FakeEngine.loads.append(self)

    def generate(self, prompt, *, max_tokens=256, temperature=0.7, top_p=1.0, stop=None, seed=None):
        if self.closed:
            raise AssertionError(f"{self.spec} was used after close()")
        self.streaming += 1
        try:
            for k in range(max_tokens):
                time.sleep(0.05)
                yield f"w{k} "
        finally:
            self.streaming -= 1

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def table(monkeypatch):
    """An empty engine table of one slot (every new model evicts the last), loading FakeEngines in process."""
    monkeypatch.setattr(engines, "_open", type(engines._open)())
    monkeypatch.setattr(engines, "_MAX_OPEN", 1)
    monkeypatch.setitem(engines._serve, "on", False)
    FakeEngine.loads = []
    monkeypatch.setattr(engines, "load", FakeEngine)
    yield engines._open
    for entry in engines._open.values():
        entry.engine.close()


def test_an_evicted_engine_stays_open_until_its_last_lease_ends(table):
    with engines.lease("gemma3-270m") as first, engines.lease("gemma3-270m") as again:
        gemma = FakeEngine.loads[0]
        assert first.spec == again.spec == "gemma3-270m" and len(FakeEngine.loads) == 1  # one engine, two leases
        with engines.lease("smollm2-135m"):
            assert engines.open_specs() == ["smollm2-135m"]  # evicted from the table at once ...
            assert not gemma.closed  # ... but two sessions still hold it
        assert "".join(first.generate("x", max_tokens=2)) == "w0 w1 "
    assert gemma.closed  # the last lease ended
    with pytest.raises(EngineError, match="closed"):
        first.generate("x")  # a kept reference never reaches the closed engine
    with engines.lease("gemma3-270m") as fresh:
        assert fresh.spec == "gemma3-270m" and FakeEngine.loads[-1] is not gemma and not FakeEngine.loads[-1].closed
    assert len(FakeEngine.loads) == 3


def test_an_idle_evicted_engine_is_closed_at_once(table):
    with engines.lease("gemma3-270m"):
        pass
    gemma = FakeEngine.loads[0]
    assert not gemma.closed  # open but idle: kept for the next visitor
    with engines.lease("smollm2-135m"):
        assert gemma.closed and engines.open_specs() == ["smollm2-135m"]


def test_served_env_lists_open_served_engines(table, monkeypatch):
    class Served(FakeEngine):
        backend, url = "served", "http://127.0.0.1:9/v1"

    monkeypatch.setattr(engines, "load", Served)
    with engines.lease("smollm2-135m"):
        pass
    assert engines.served_env() == {engines.SHARED_ENV: '{"smollm2-135m": "http://127.0.0.1:9/v1"}'}


def test_a_visitor_leaving_mid_answer_ends_the_stream_and_frees_the_engine(table):
    answers = stream_answers("hello", [[]], ["smollm2-135m"], Sampling(max_tokens=200))
    next(answers)  # the first chunk arrived: the stream is open
    model = FakeEngine.loads[0]
    assert model.streaming == 1
    answers.close()  # what Gradio does on Stop or a closed tab
    with engines.lease("gemma3-270m"):  # evicts smollm2 from the table
        deadline = time.monotonic() + 5
        while not model.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        # The worker noticed the stop at its next chunk, closed its stream and released its lease.
        assert model.closed and model.streaming == 0


def test_the_arena_rate_is_counted_inside_the_lease(table, monkeypatch):
    # The badge's tokens/s must come from the worker; reloading the model afterwards would load it a second time.
    events = list(stream_answers("hello", [[]], ["smollm2-135m"], Sampling(max_tokens=3)))[-1][1]
    assert events[0][0] == "done" and events[0][3] == pytest.approx(3 / events[0][1])
    assert len(FakeEngine.loads) == 1


@pytest.fixture(scope="module")
def smollm2():
    engine = load("smollm2-135m")
    assert engine.backend == "gguf"
    yield engine
    engine.close()


def test_a_nested_generate_on_the_same_thread_fails_at_once(smollm2):
    outer = smollm2.generate("The capital of France is", max_tokens=16, temperature=0)
    next(outer)  # the stream holds the model
    started = time.monotonic()
    with pytest.raises(EngineError, match="stream .* open"):
        next(smollm2.generate("Hello", max_tokens=4, temperature=0))
    assert time.monotonic() - started < 5  # it refused; it did not wait for the lock
    outer.close()


def test_a_closed_generator_releases_the_model(smollm2):
    stream = smollm2.generate("One, two, three,", max_tokens=16, temperature=0)
    next(stream)
    stream.close()
    assert "".join(smollm2.generate("One, two, three,", max_tokens=4, temperature=0))  # did not hang


def test_a_busy_model_says_so_after_a_bounded_wait(smollm2, monkeypatch):
    monkeypatch.setattr(gguf_module, "LOCK_WAIT_S", 0.5)
    opened, done = threading.Event(), threading.Event()

    def hold():
        stream = smollm2.generate("One, two, three,", max_tokens=16, temperature=0)
        next(stream)
        opened.set()
        done.wait(30)
        stream.close()

    other = threading.Thread(target=hold)
    other.start()
    try:
        assert opened.wait(30)
        started = time.monotonic()
        with pytest.raises(EngineError, match="busy"):
            next(smollm2.generate("Hello", max_tokens=4, temperature=0))
        assert 0.4 < time.monotonic() - started < 5
    finally:
        done.set()
        other.join()
    assert "".join(smollm2.generate("Hello", max_tokens=2, temperature=0))  # free again once the stream closed


def test_a_closed_gguf_engine_refuses_to_generate():
    engine = load("smollm2-135m")
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        next(engine.generate("Hello", max_tokens=2))
    with pytest.raises(EngineError, match="closed"):
        engine.count_tokens("Hello")


def test_real_models_survive_eviction_while_leased(monkeypatch):
    # The packaged pair in process, one slot: gemma is evicted while leased, keeps answering, then is closed.
    monkeypatch.setattr(engines, "_open", type(engines._open)())
    monkeypatch.setattr(engines, "_MAX_OPEN", 1)
    monkeypatch.setitem(engines._serve, "on", False)
    try:
        with engines.lease("gemma3-270m") as gemma:
            engine = gemma._entry.engine
            with engines.lease("smollm2-135m"):
                assert engines.open_specs() == ["smollm2-135m"]
                assert "".join(gemma.generate("Paris is", max_tokens=4, temperature=0))
            assert not engine._closed
        assert engine._closed
        with pytest.raises(EngineError, match="closed"):
            gemma.generate("Paris is")
    finally:
        for entry in engines._open.values():
            entry.engine.close()


def test_chat_once_uses_a_lease(table, tmp_path):
    from playground.settings import Settings

    out = arena.chat_once(Settings(runs_dir=tmp_path), "hello", "smollm2-135m", max_tokens=3)
    assert out["reply"] == "w0 w1 w2 " and out["tokens_per_s"] > 0
    assert engines._open["smollm2-135m"].leases == 0

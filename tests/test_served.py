"""The served backend: a real llama-server (built from the vendored llama.cpp) serving the packaged SmolLM2 on
127.0.0.1. Chat, completion, streaming, stop strings and grammars; the same tokens and greedy text as the
in-process gguf engine; the server stops with its owner however the owner ends; a taken port, a bad GGUF."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.engines import complete, load
from core.errors import EngineError, ModelFileError, SpecError
from tests.servers import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served():
    engine = load("served:smollm2-135m+parallel=4+ctx=1024")
    yield engine
    engine.close()


def test_chat_completion_stream_stop_and_grammar(served):
    reply = complete(served, [{"role": "user", "content": "Which city is the capital of France?"}], max_tokens=24,
                     temperature=0)
    assert "Paris" in reply
    chunks = list(served.generate("The three primary colours are", max_tokens=16, temperature=0))
    assert len(chunks) > 1 and "".join(chunks).strip()  # streamed token by token, not one block
    assert "," not in complete(served, "One, two, three, four,", max_tokens=16, temperature=0, stop=[","])
    yes_no = 'root ::= ("yes" | "no")'
    constrained = complete(served, [{"role": "user", "content": "Is the sky green? Answer yes or no."}],
                           max_tokens=8, temperature=0, grammar=yes_no)
    assert constrained in ("yes", "no")
    info = served.info()
    assert info["backend"] == "served" and info["parallel"] == 4 and info["chat_format"] == "model"


def test_same_tokens_and_greedy_text_as_in_process(served, engine):
    local = engine("smollm2-135m")
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Nenne drei Farben."}]
    assert served.prompt_tokens(messages) == local._prompt_tokens(messages)
    assert served.count_tokens("Der Hund läuft schnell.") == local.count_tokens("Der Hund läuft schnell.")
    for prompt in (messages, "The capital of Italy is"):
        here = complete(local, prompt, max_tokens=24, temperature=0)
        assert complete(served, prompt, max_tokens=24, temperature=0) == here != ""


def test_bad_specs_and_options():
    with pytest.raises(SpecError, match="bad option 'parallel=0'"):
        load("served:smollm2-135m+parallel=0")
    with pytest.raises(SpecError, match="LoRA files"):
        load("served:smollm2-135m+adapter=zh:runs/adapter-dir")
    with pytest.raises(SpecError, match="option 'slots=2'"):
        load("served:smollm2-135m+slots=2")


def test_a_bad_gguf_gets_one_clear_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + os.urandom(4096))
    with pytest.raises(ModelFileError) as err:
        load(f"served:{bad}")
    text = str(err.value)
    assert str(bad) in text and "llama-server said" in text and ("truncated" in text or "corrupt" in text)


def test_a_taken_port_is_replaced():
    from core.llama_server import LlamaServer, ServerOptions
    from core.models import packaged_gguf

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        with LlamaServer(packaged_gguf("smollm2-135m"), "smollm2", ServerOptions(parallel=1, ctx=256),
                         port=taken) as server:
            assert server.port != taken and server.alive()
            assert "couldn't bind" in server.log.read_text()


OWNER = textwrap.dedent("""
    import sys, time
    from core.engines import load
    engine = load("served:smollm2-135m+parallel=1+ctx=256")
    print(engine.server._proc.pid, flush=True)   # the guard; its session holds llama-server too
    if sys.argv[1] == "exit":
        sys.stdin.readline()  # exit only once the test has seen the server running (else the two race)
        sys.exit(0)          # normal exit without close(): atexit stops it
    time.sleep(600)
""")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.parametrize("how", ["exit", "ctrl-c", "kill -9"])
def test_the_server_stops_with_its_owner(how, tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", OWNER, how], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    guard = int(owner.stdout.readline())
    group_has_server = subprocess.run(["pgrep", "-g", str(guard), "llama-server"], capture_output=True)
    assert group_has_server.returncode == 0  # llama-server is running in the guard's process group
    if how == "exit":
        owner.stdin.write("exit now\n")
        owner.stdin.flush()
    elif how == "ctrl-c":
        owner.send_signal(signal.SIGINT)
    elif how == "kill -9":
        owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=60)
    deadline = time.time() + 30
    while _group_alive(guard) and time.time() < deadline:
        time.sleep(0.2)
    assert not _group_alive(guard), f"llama-server outlived its owner ({how})"


def test_a_timeout_is_retried_then_reported(monkeypatch):
    """A server that never answers: the client retries with backoff, then one message says what happened."""
    import http.server
    import threading

    class Slow(http.server.BaseHTTPRequestHandler):
        calls = 0

        def do_POST(self):
            Slow.calls += 1
            time.sleep(3)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        from core.engines.openai_api import OpenAIEngine
        from core.engines.spec import parse_spec

        slow = OpenAIEngine(parse_spec(f"openai:m@http://127.0.0.1:{srv.server_address[1]}/v1"), timeout=0.5,
                            max_retries=2)
        with pytest.raises(EngineError, match=r"did not answer within 0.5 s, 3 times"):
            complete(slow, "Hello", max_tokens=2)
        assert Slow.calls == 3
    finally:
        srv.shutdown()


def test_another_process_shares_the_running_server(served):
    """$POLYGLOT_SERVED hands a running server to another process (the app's jobs): no second server starts."""
    import json

    env = {**os.environ, "POLYGLOT_SERVED": json.dumps({"served:smollm2-135m+parallel=4+ctx=1024": served.url})}
    code = ("from core.engines import load, complete; e = load('served:smollm2-135m+parallel=4+ctx=1024'); "
            "print(e.info()['shared'], e.url); print(repr(complete(e, 'The capital of Italy is', max_tokens=8, "
            "temperature=0)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    first, text = done.stdout.splitlines()[:2]
    assert first == f"True {served.url}"
    assert text == repr(complete(served, "The capital of Italy is", max_tokens=8, temperature=0))


def test_served_scoring_says_to_use_gguf(served):
    from core.errors import ScoringUnsupported

    with pytest.raises(ScoringUnsupported, match="in-process gguf"):
        served.loglikelihood([("The capital of France is", " Paris")])


def test_the_build_is_cached_and_described():
    from core.llama_tools import build_card, tools_dir

    card = build_card()
    assert card["sdist"].startswith("llama_cpp_python-") and len(card["sdist_sha256"]) == 64
    assert "-DGGML_NATIVE=OFF" in card["cmake"] and card["seconds"] > 0
    assert all((tools_dir() / t).is_file() for t in card["tools"])
    assert Path(tools_dir()).parent.name.startswith(card["sdist"].removesuffix(".tar.gz"))

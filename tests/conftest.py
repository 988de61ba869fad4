"""Shared fixtures: the shared data directory, the packaged engines (loaded once) and a report section."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The language table is the union of what the imported packages register; import both floors that register
# datasets before any test module is collected, so the table is the same whatever order tests run in.
import eval  # noqa: E402,F401
import trainer  # noqa: E402,F401

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POLYGLOT_SHARED_DATA", ROOT.parent / "shared" / "data"))

_reports: list[str] = []


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (read in place, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"Shared data not found at {SHARED_DATA}; put shared/ beside the checkout "
                    f"or set POLYGLOT_SHARED_DATA.")
    return SHARED_DATA


@pytest.fixture(scope="session")
def report():
    """Call report(text) to print a block in the terminal summary (per-language tables, agreements)."""
    return _reports.append


def pytest_terminal_summary(terminalreporter):
    if _reports:
        terminalreporter.section("Polyglot Lab measurements")
        for block in _reports:
            terminalreporter.write_line(block)


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory):
    """A real llama-server (llama.cpp) serving smollm2-135m on 127.0.0.1 with API key SECRET: its /v1 URL.

    No prompt cache: a request then gets the same bytes back in a rerun (a reused prefix re-evaluates its last
    token alone, which rounds differently), which the resume tests compare. Batching 4 requests does not change
    this Q4_1 SmolLM2's greedy answers (measured 16 of 16 identical alone and batched; 10 of 16 for the Q4_K_M
    Gemma, which would need one slot)."""
    from core.llama_server import LlamaServer, ServerOptions
    from core.models import packaged_gguf
    from tests.servers import SECRET

    log = tmp_path_factory.mktemp("server") / "llama_server.log"
    options = ServerOptions(parallel=4, ctx=2048, cache_prompt=False)
    with LlamaServer(packaged_gguf("smollm2-135m"), "smollm2", options, log=log, api_key=SECRET) as server:
        yield server.url


@pytest.fixture(scope="session")
def logprob_server(tmp_path_factory):
    """llama_cpp.server with --logits_all, for the one thing llama-server refuses: echoed prompt log-probabilities
    (vLLM returns them too), which the openai backend's scoring reads. Its /v1 URL; key SECRET."""
    from core.models import packaged_gguf
    from tests.servers import SECRET, free_port, serve

    port = free_port()
    log = tmp_path_factory.mktemp("server") / "llama_cpp_server.log"
    args = ["-m", "llama_cpp.server", "--model", str(packaged_gguf("smollm2-135m")), "--model_alias", "smollm2",
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--logits_all", "true",
            "--api_key", SECRET, "--verbose", "false"]
    with serve(args, f"http://127.0.0.1:{port}/docs", log):
        yield f"http://127.0.0.1:{port}/v1"


_engines: dict[str, object] = {}


@pytest.fixture(scope="session")
def engine():
    """engine(spec) -> a loaded engine, shared by every test of the session."""
    from core.engines import load

    def get(spec: str):
        if spec not in _engines:
            _engines[spec] = load(spec)
        return _engines[spec]

    yield get
    for e in _engines.values():
        e.close()


@pytest.fixture()
def offline_hub(monkeypatch):
    """No Hugging Face hub, as in this workplace, but failing at once instead of waiting on the network."""
    import datasets
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # Both libraries read the variable at import, which may have happened in an earlier test.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)

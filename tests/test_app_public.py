"""`python app.py --public` (what a Hugging Face Space runs), driven through its API and HTTP routes as
visitors would: listed models answer with capped sizes, nothing is fetchable by path or URL, a judge URL off
the operator's list is refused before any request, visitors see only their own work, the queue is bounded,
and bad uploads each get one message."""

from __future__ import annotations

import socket
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from core.errors import ConfigError
from core.models import packaged_gguf
from tests.echo_server import PixelServer
from tests.servers import ROOT, SECRET, free_port, serve

pytestmark = pytest.mark.slow
MARK = "polyglot-private-content-7f3a"  # in every seeded file: a response containing it leaked the file


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A runs dir as a busy public app leaves it: an upload, a job log and votes, at the top and a visitor's."""
    runs = tmp_path_factory.mktemp("public_runs")
    files = []
    for base in (runs, runs / "visitors" / "0123456789abcdef"):
        for rel in ("uploads/holdout-1234.jsonl", "jobs/generate-0123456789/log.txt"):
            path = base / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f'{{"lang": "de", "prompt": "{MARK}"}}\n')
            files.append(path)
        votes = base / "human_votes.sqlite"
        db = sqlite3.connect(votes)
        db.execute("CREATE TABLE secret (x TEXT)")
        db.execute("INSERT INTO secret VALUES (?)", (MARK,))
        db.commit()
        db.close()
        files.append(votes)
    return runs, files


@pytest.fixture(scope="module")
def public_url(tmp_path_factory, seeded):
    port = free_port()
    log = tmp_path_factory.mktemp("public") / "app.log"
    runs, _ = seeded
    with serve(["app.py", "--public", "--port", str(port), "--runs-dir", str(runs), "--concurrency", "2"],
               f"http://127.0.0.1:{port}/", log, env={"OPENAI_API_KEY": SECRET}):
        yield f"http://127.0.0.1:{port}/"
    assert SECRET not in log.read_text()


def _client(url):
    from gradio_client import Client

    return Client(url, verbose=False)


@pytest.fixture(scope="module")
def client(public_url):
    return _client(public_url)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_a_listed_model_answers_and_a_huge_max_tokens_is_capped(client):
    out = client.predict("Bonjour ! Comment vas-tu aujourd'hui ?", "smollm2-135m", 10**9, 0.0, api_name="/chat")
    assert out["reply"].strip() and out["language"] and out["tokens_per_s"] > 0
    assert out["max_tokens"] == 512  # PublicLimits.max_tokens, not the billion asked for


@pytest.mark.parametrize("spec", [f"gguf:{packaged_gguf('smollm2-135m')}", "hf:/etc", "openai:gpt-4o"])
def test_a_path_or_unlisted_spec_is_refused(client, spec):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict("Hallo", spec, 8, 0.0, api_name="/chat")
    assert "loads only its listed models" in str(err.value) and "smollm2-135m" in str(err.value)


def test_no_file_under_the_runs_dir_is_served_by_path(public_url, seeded):
    _, files = seeded
    routes = ["gradio_api/file={}", "file={}", "gradio_api/file/{}", "file/{}"]
    tried = 0
    for path in files:
        for form in (str(path), urllib.parse.quote(str(path)), str(path.relative_to(path.anchor)),
                     "../" * 12 + str(path.relative_to(path.anchor))):
            for route in routes:
                status, body = _get(public_url + route.format(form))
                tried += 1
                assert MARK.encode() not in body, f"{route.format(form)} served {path}"
                assert status != 200 or not body.startswith(b"SQLite")
    assert tried == len(files) * 16


def test_no_url_a_visitor_names_is_fetched(public_url):
    pixel = PixelServer()
    try:
        for route in ("gradio_api/file=http://127.0.0.1:{}/pixel", "gradio_api/proxy=http://127.0.0.1:{}/pixel",
                      "file=http://127.0.0.1:{}/pixel", "gradio_api/file/http://127.0.0.1:{}/pixel",
                      "gradio_api/file=HTTP://127.0.0.1:{}/pixel", "gradio_api/file=%68ttp://127.0.0.1:{}/pixel"):
            status, _ = _get(public_url + route.format(pixel.port))
            assert status in (403, 404)
        time.sleep(0.5)
        assert pixel.hits == []
    finally:
        pixel.close()


def test_a_judge_url_off_the_operators_list_is_refused_before_any_request():
    from playground.judge import judge_job
    from playground.settings import Settings

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(1.0)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    public = Settings(public=True, runs_dir=ROOT / "runs-never-written", visitor="v1")
    try:
        with pytest.raises(ConfigError, match="judge endpoints its operator listed.*Nothing was sent"):
            judge_job(public, "smollm2-135m", "gemma3-270m", "examples", "de", 1, "pairwise", "judge", url,
                      "sk-visitor", dry_run=False)
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing connected: the refusal came before any request
    finally:
        listener.close()
    local = Settings(runs_dir=ROOT / "runs-never-written")
    assert judge_job(local, "smollm2-135m", "gemma3-270m", "examples", "de", 1, "pairwise", "judge", url, "",
                     dry_run=True)[1][0][-1] == "--dry-run"  # a local app takes any URL


def _wait_done(c, job_id, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        res = c.predict(job_id, api_name="/run_results")
        if res["status"] != "running":
            return res
        time.sleep(2)
    raise AssertionError(f"{job_id} still running after {timeout} s")


def _check(c, model, upload=None, langs="de, fr", limit=1, max_tokens=8):
    from gradio_client import handle_file

    source = "Uploaded JSONL" if upload else "Built-in examples"
    out = c.predict([model], source, "hplt", handle_file(str(upload)) if upload else None, langs, limit, max_tokens,
                    api_name="/language_check")
    return out["value"]


def test_a_second_visitor_cannot_see_the_first_ones_uploads_jobs_or_votes(public_url, tmp_path):
    from gradio_client.exceptions import AppError

    first, second = _client(public_url), _client(public_url)
    upload = tmp_path / "holdout.jsonl"
    upload.write_text('{"lang": "de", "prompt": "Wie heißt die Hauptstadt von Frankreich?"}\n'
                      '{"lang": "fr", "prompt": "Quelle est la capitale de l\'Allemagne ?"}\n')
    # two answer sets of the same (fast) model: 8 and 12 tokens are two runs
    jobs = [_check(first, "smollm2-135m", upload), _check(first, "smollm2-135m", upload, max_tokens=12)]
    results = [_wait_done(first, j) for j in jobs]
    assert all(r["status"] == "done" for r in results)
    label = results[0]["rows"][0][0]  # the staged file's name (holdout-<digest>.jsonl), not its server path
    assert label.startswith("holdout-") and label.endswith(".jsonl") and "/" not in label
    assert results[0]["headers"][6] == "LPR" and results[0]["rows"][0][1] == "de"
    assert results[0]["plots"] == 3  # an uploaded set's agreement, confusion (LPR) and health plots
    sets = first.predict(api_name="/answer_sets")
    assert len(sets) == 2 and all(value.startswith("answers:") and "/" not in value for _, value in sets)
    assert "new items" in first.predict(sets[0][1], sets[1][1], api_name="/add_pairs")
    item = first.predict("", api_name="/next_item")
    assert item["item"] and "Hauptstadt" in item["question"] + first.predict("de", api_name="/next_item")["question"]
    assert first.predict(item["item"], "tie", api_name="/vote")["vote"] == "tie"

    assert second.predict(api_name="/runs") == [] and second.predict(api_name="/answer_sets") == []
    for job in jobs:
        with pytest.raises(AppError, match="You have no run"):
            second.predict(job, api_name="/run_results")
    with pytest.raises(AppError, match="Choose two different finished answer sets"):
        second.predict(sets[0][1], sets[1][1], api_name="/add_pairs")
    assert second.predict("", api_name="/next_item")["item"] is None
    with pytest.raises(AppError, match="No item"):
        second.predict(item["item"], "left", api_name="/vote")
    assert {r["id"] for r in first.predict(api_name="/runs")} == set(jobs)


def test_a_visitor_runs_at_most_two_jobs_at_once(public_url):
    from gradio_client.exceptions import AppError

    c = _client(public_url)
    started = [_check(c, "smollm2-135m", langs=lang, limit=2) for lang in ("de", "fr")]
    with pytest.raises(AppError, match="You have 2 runs going"):
        _check(c, "smollm2-135m", langs="it", limit=2)
    for job in started:
        _wait_done(c, job)


BAD_UPLOADS = {
    "binary.jsonl": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "is not a text file"),
    "latin1.jsonl": ('{"lang": "fr", "prompt": "café"}\n'.encode("latin-1"), "save it as UTF-8"),
    "long-line.jsonl": (('{"lang": "de", "prompt": "' + "x" * 900_000 + '"}\n').encode(), "at most 20,000"),
    "nested.jsonl": (('{"lang": "de", "prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n").encode(),
                     "nests lists or objects too deeply"),
    "unknown-lang.jsonl": (b'{"lang": "xx", "prompt": "Hallo"}\n', "Unknown language 'xx'"),
}


@pytest.mark.parametrize("name", list(BAD_UPLOADS))
def test_a_bad_upload_gets_one_clear_message(client, tmp_path, name):
    from gradio_client.exceptions import AppError

    data, expected = BAD_UPLOADS[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(AppError) as err:
        _check(client, "smollm2-135m", path, langs="")
    message = str(err.value)
    assert expected in message and name in message and len(message) < 1500
    assert "/tmp/" not in message and str(ROOT) not in message  # no server path in what a visitor reads


def test_an_upload_over_the_public_limit_is_refused(public_url):
    boundary = "polyglotboundary"
    lines = b'{"lang": "de", "prompt": "x"}\n' * 100_000  # 100k lines: 3 MB
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.jsonl\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + lines + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(public_url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=60)
    assert err.value.code == 413


def test_the_queue_holds_at_most_64_waiting_requests(public_url):
    from concurrent.futures import wait

    # A gradio_client runs a few requests at a time (its thread pool), so 24 clients send 5 each: ~120 at once.
    clients = [_client(public_url) for _ in range(24)]
    futures = [c.submit(f"Say {i}.", "smollm2-135m", 2, 0.0, api_name="/chat") for i in range(5) for c in clients]
    wait(futures, timeout=600)
    outcomes = []
    for f in futures:
        try:
            outcomes.append("ok" if f.result()["reply"] is not None else "empty")
        except Exception as exc:  # the refused ones: gradio_client raises the queue's message
            outcomes.append(str(exc))
    refused = [o for o in outcomes if o != "ok"]
    assert refused and all("queue is full" in o.lower() or "queue_full" in o.lower() for o in refused), refused[:3]
    assert outcomes.count("ok") >= 64  # 2 running + 64 waiting, at least, were served

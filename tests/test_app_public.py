"""`python app.py --public` (what a Hugging Face Space runs), driven through its API as a visitor would:
listed models answer, file paths and unlisted specs are refused, big uploads are refused."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from core.models import packaged_gguf
from tests.servers import SECRET, free_port, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def public_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("public") / "app.log"
    runs = tmp_path_factory.mktemp("public_runs")
    with serve(["app.py", "--public", "--port", str(port), "--runs-dir", str(runs)], f"http://127.0.0.1:{port}/",
               log, env={"OPENAI_API_KEY": SECRET}):
        yield f"http://127.0.0.1:{port}/"
    assert SECRET not in log.read_text()


@pytest.fixture(scope="module")
def client(public_url):
    from gradio_client import Client

    return Client(public_url, verbose=False)


def test_a_listed_model_answers(client):
    out = client.predict("Bonjour ! Comment vas-tu aujourd'hui ?", "smollm2-135m", 24, 0.0, api_name="/chat")
    assert out["reply"].strip() and out["language"] and out["tokens_per_s"] > 0


@pytest.mark.parametrize("spec", [f"gguf:{packaged_gguf('smollm2-135m')}", "hf:/etc", "openai:gpt-4o"])
def test_a_path_or_unlisted_spec_is_refused(client, spec):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict("Hallo", spec, 8, 0.0, api_name="/chat")
    assert "loads only its listed models" in str(err.value) and "smollm2-135m" in str(err.value)


def test_an_upload_over_the_public_limit_is_refused(public_url):
    boundary = "polyglotboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.jsonl\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + b"x" * 2_000_000 + \
        f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(public_url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=60)
    assert err.value.code == 413

"""Start real local servers (llama_cpp.server, the Gradio app) on free 127.0.0.1 ports for tests."""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request
from pathlib import Path

from core import local_server
from core.local_server import free_port  # noqa: F401  (the tests' import place)

ROOT = Path(__file__).resolve().parents[1]


def serve(args: list[str], ready_url: str, log: Path, timeout: float = 240, env: dict | None = None):
    """Run `python ARGS` from the repository root until the block ends; wait until ready_url answers 200."""
    return local_server.serve(args, ready_url, log, timeout=timeout, env=env, cwd=ROOT)

SECRET = "sk-polyglot-test-secret-0123456789"  # the API key of the test llama_cpp.server; must never be shown


class RecordingProxy:
    """A reverse proxy on 127.0.0.1 that forwards to `upstream` and records every POST body it forwarded.

    Tests use it to see exactly which requests a client made (and which it did not repeat after a resume).
    While `fail_next` > 0, a request is answered with HTTP 429 instead of being forwarded (and counted down).
    Paths in `chat_only` answer 404 as OpenAI does for a chat model on /v1/completions.
    """

    def __init__(self, upstream: str, fail_next: int = 0, chat_only: tuple[str, ...] = ()):
        import http.server
        import json
        import threading

        self.upstream, self.fail_next, self.failed, self.active = upstream.rstrip("/"), fail_next, 0, 0
        self._lock = threading.Lock()
        self.bodies: list[dict] = []  # requests answered with 2xx (body + "_status")
        self.errors: list[dict] = []  # requests the upstream answered with an error
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                with proxy._lock:
                    proxy.active += 1
                try:
                    self._forward()
                except BrokenPipeError:
                    pass  # the client died (the tests SIGKILL it): the request was still forwarded and recorded
                finally:
                    with proxy._lock:
                        proxy.active -= 1

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path in chat_only:
                    message = ("This is a chat model and not supported in the v1/completions endpoint. "
                               "Did you mean to use v1/chat/completions?")
                    self._reply(404, json.dumps({"error": {"message": message,
                                                           "type": "invalid_request_error"}}).encode())
                    return
                if proxy.fail_next > 0:
                    proxy.fail_next -= 1
                    proxy.failed += 1
                    self._reply(429, json.dumps({"error": {"message": "rate limited", "type": "rate_limit"}}).encode(),
                                {"Retry-After": "0"})
                    return
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST",
                                             headers={k: v for k, v in self.headers.items()
                                                      if k.lower() in ("content-type", "authorization")})
                try:
                    with urllib.request.urlopen(req, timeout=300) as resp:
                        payload, status = resp.read(), resp.status
                except urllib.error.HTTPError as exc:
                    payload, status = exc.read(), exc.code
                (proxy.bodies if status < 300 else proxy.errors).append(json.loads(body) | {"_status": status})
                self._reply(status, payload)

            def _reply(self, status, payload, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def settle(self, timeout: float = 120) -> None:
        """Wait until no forwarded request is still waiting for the upstream (e.g. after a client was killed)."""
        deadline = time.time() + timeout
        while self.active and time.time() < deadline:
            time.sleep(0.1)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


CHROMIUM = "/usr/bin/chromium"


@contextlib.contextmanager
def chromium_page(url: str):
    """Debian's headless Chromium on `url` (1400x1100), as every browser test opens the app."""
    import shutil

    import pytest
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test does this).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            yield page
        finally:
            browser.close()


def run_uploaded_language_check(page, upload: Path, limit: int, max_tokens: int, timeout: float) -> None:
    """In the Language check tab (models already chosen): run `upload` and wait for the finished table."""
    page.locator("#lc-source").get_by_text("Uploaded JSONL").click()
    page.locator("#lc-upload input[type=file]").set_input_files(str(upload))
    page.wait_for_timeout(1500)
    page.locator("#lc-limit input").fill(str(limit))
    page.locator("#lc-max-tokens input").fill(str(max_tokens))
    page.locator("#lc-run").click()
    page.wait_for_function("document.querySelector('#lc-status').innerText.includes(': done')", timeout=timeout)
    page.wait_for_function("document.querySelector('#lc-table') &&"
                           " document.querySelector('#lc-table').innerText.includes('answered in')", timeout=60_000)

"""A tiny OpenAI-compatible server that answers every chat with the user's last message, verbatim: a model
whose output a test controls (e.g. markup that must be shown escaped)."""

from __future__ import annotations

import http.server
import json
import threading


class EchoServer:
    """`/v1/chat/completions` (streamed or not) echoes the last user message; `/v1/completions` echoes the
    prompt's last line and counts one token per word (what `count_tokens` asks)."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.endswith("/chat/completions"):
                    text = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
                else:
                    text = str(body.get("prompt", "")).splitlines()[-1:] or [""]
                    text = text[0]
                usage = {"prompt_tokens": len(text.split()), "completion_tokens": len(text.split())}
                if not body.get("stream"):
                    choice = ({"message": {"role": "assistant", "content": text}} if "messages" in body
                              else {"text": text})
                    self._send("application/json", json.dumps({"choices": [{"index": 0, **choice,
                                                                           "finish_reason": "stop"}],
                                                               "usage": usage}).encode())
                    return
                chunks = [text[i:i + 16] for i in range(0, len(text), 16)]
                lines = []
                for piece in chunks:
                    delta = {"delta": {"content": piece}} if "messages" in body else {"text": piece}
                    lines.append(f"data: {json.dumps({'choices': [{'index': 0, **delta}]})}\n\n")
                lines.append("data: [DONE]\n\n")
                self._send("text/event-stream", "".join(lines).encode())

            def _send(self, kind: str, data: bytes):
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class PixelServer:
    """Records every request: a page that fetched an outside image or URL shows up in `hits`."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()

            do_POST = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()

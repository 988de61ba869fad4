"""Polyglot Lab: `python app.py` serves the Gradio app on 127.0.0.1 (also the Hugging Face Space entry point).

On a Space (SPACE_ID is set) or with --public, only allow-listed models and judge endpoints are used, each
visitor sees only their own runs, sizes are capped, uploads are size-limited and the queue is bounded."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no phoning home

from playground.app import serve_app  # noqa: E402
from playground.settings import Settings  # noqa: E402


def main() -> None:
    """Parse arguments and serve the app."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--public", action="store_true",
                        help="allow-listed models and judges, per-visitor runs, caps (automatic on a Space)")
    parser.add_argument("--runs-dir", default=None, help="where runs, jobs and votes are kept (default: runs)")
    parser.add_argument("--data-dir", default=None, help="local copies of the datasets (default: the hub)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="requests each event runs at once (a served model decodes up to 16 together)")
    parser.add_argument("--in-process", action="store_true",
                        help="run GGUF models in this process (one answer at a time) instead of llama-server")
    args = parser.parse_args()
    settings = Settings.from_env(public=args.public, runs_dir=args.runs_dir, data_dir=args.data_dir,
                                 serve=False if args.in_process else None)
    serve_app(settings, args.host, args.port, args.concurrency)


if __name__ == "__main__":
    main()

"""Polyglot Lab: `python app.py` serves the Gradio app on 127.0.0.1 (also the Hugging Face Space entry point).

On a Space (SPACE_ID is set) or with --public, only allow-listed models load, uploads are size-limited and
the queue bounds how many requests run at once."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no phoning home

from playground.app import build_app  # noqa: E402
from playground.settings import Settings  # noqa: E402


def main() -> None:
    """Parse arguments and launch the app."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--public", action="store_true", help="allow-listed models only (automatic on a Space)")
    parser.add_argument("--runs-dir", default=None, help="where runs, jobs and votes are kept (default: runs)")
    parser.add_argument("--data-dir", default=None, help="local copies of the datasets (default: the hub)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="requests each event runs at once (a served model decodes up to 16 together)")
    parser.add_argument("--in-process", action="store_true",
                        help="run GGUF models in this process (one answer at a time) instead of llama-server")
    args = parser.parse_args()
    settings = Settings.from_env(public=args.public, runs_dir=args.runs_dir, data_dir=args.data_dir,
                                 serve=False if args.in_process else None)
    app = build_app(settings).queue(default_concurrency_limit=args.concurrency,
                                    max_size=64 if settings.public else None)
    app.launch(server_name=args.host, server_port=args.port, show_error=True,
               max_file_size=settings.upload_bytes, allowed_paths=[str(settings.runs_dir)])


if __name__ == "__main__":
    main()

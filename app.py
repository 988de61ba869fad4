"""Polyglot Lab: `python app.py` serves the Gradio app on 127.0.0.1 (also the Hugging Face Space entry point)."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no phoning home

from core.models import DEFAULT_MODEL  # noqa: E402
from playground import build_app  # noqa: E402


def main() -> None:
    """Parse arguments and launch the app."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--model", default=os.environ.get("POLYGLOT_MODEL", DEFAULT_MODEL),
                        help="model spec the chat starts with")
    args = parser.parse_args()
    build_app(args.model).queue().launch(server_name=args.host, server_port=args.port, show_error=True)


if __name__ == "__main__":
    main()

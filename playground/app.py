"""The Gradio Blocks that `app.py` serves."""

from __future__ import annotations

import gradio as gr

from core.models import DEFAULT_MODEL
from playground.chat import chat_tab


def build_app(default_model: str = DEFAULT_MODEL) -> gr.Blocks:
    """The whole Polyglot Lab UI (tabs for benchmarks and the judge join as their issues land)."""
    with gr.Blocks(title="Polyglot Lab") as app:
        gr.Markdown("# Polyglot Lab\nMultilingual chat with language checks. Runs offline on the packaged models.")
        with gr.Tab("Chat"):
            chat_tab(default_model)
    return app

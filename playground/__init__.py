"""Floor 3: the Gradio app, one module per tab; no model logic of its own."""

from playground.app import build_app

__all__ = ["build_app"]

"""Floor 3: the Gradio app, one module per tab; no model logic of its own (`playground.app.build_app`)."""

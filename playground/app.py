"""The Gradio Blocks that `app.py` serves: one tab per module, each a thin layer over core/ and eval/."""

from __future__ import annotations

import gradio as gr

from playground import engines, visitor_api
from playground.arena import arena_tab
from playground.benchmarks import benchmarks_tab
from playground.human_eval import human_eval_tab
from playground.judge import judge_tab
from playground.language_check import language_check_tab
from playground.models_runs import models_runs_tab
from playground.settings import Settings

INTRO = ("# Polyglot Lab\nMultilingual models side by side, with language checks, benchmarks, an LLM judge and "
         "blind human votes. Runs offline on the packaged models.")
PUBLIC_NOTE = ("\n\n*Public mode: only the listed models load, answers are capped at {tokens} tokens, and your "
               "runs, uploads and votes are yours alone (kept {days:g} days).*")
QUEUE_SIZE = 64  # requests a public app holds waiting; the next gets "queue is full" instead of a long wait
# Untrusted text (answers, prompts, logs) is shown in <pre class="plain">: escaped, wrapped, in the page's font.
CSS = ".plain { white-space: pre-wrap; word-break: break-word; font-family: inherit; margin: 0; }"


def build_app(settings: Settings | None = None) -> gr.Blocks:
    """The whole Polyglot Lab UI."""
    settings = settings or Settings.from_env()
    engines.configure(settings.serve)
    # A public app's uploads and cached plots in Gradio's cache are deleted after a day (checked hourly).
    with gr.Blocks(title="Polyglot Lab", delete_cache=(3600, 86400) if settings.public else None) as app:
        note = PUBLIC_NOTE.format(tokens=settings.limits.max_tokens, days=settings.limits.keep_days)
        gr.Markdown(INTRO + (note if settings.public else ""))
        with gr.Tabs() as tabs:
            with gr.Tab("Arena", id="arena"):
                arena = arena_tab(settings)
            with gr.Tab("Language check", id="language-check"):
                language_check_tab(settings)
            with gr.Tab("Benchmarks", id="benchmarks"):
                benchmarks_tab(settings)
            with gr.Tab("Judge", id="judge"):
                judge_lists = judge_tab(settings)
            with gr.Tab("Human eval", id="human-eval"):
                human_lists = human_eval_tab(settings)
            with gr.Tab("Models and runs", id="models-runs"):
                models = models_runs_tab(settings, arena, tabs)
        # lists of runs go stale as runs finish: refresh them when a tab is opened
        for fn, outputs in (judge_lists["refresh"], human_lists["refresh"], models["refresh"]):
            tabs.select(fn, None, outputs, api_visibility="private", show_progress="hidden")
        app.load(models["refresh"][0], None, models["refresh"][1], api_visibility="private")
        visitor_api.register(settings)
    return app


def serve_app(settings: Settings, host: str, port: int, concurrency: int) -> None:
    """Serve the app with uvicorn, behind the visitor middleware. No directory is served by path: results
    reach the page as data (tables, images), and Gradio serves only its own upload cache."""
    import fastapi
    import uvicorn

    from playground.visitors import add_middleware

    blocks = build_app(settings).queue(default_concurrency_limit=concurrency,
                                       max_size=QUEUE_SIZE if settings.public else None)
    api = fastapi.FastAPI()
    add_middleware(api, settings.public)
    api = gr.mount_gradio_app(api, blocks, path="/", max_file_size=settings.upload_bytes, show_error=True,
                              css=CSS)
    print(f"* Running on local URL:  http://{host}:{port}", flush=True)
    uvicorn.run(api, host=host, port=port, log_level="warning")

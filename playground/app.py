"""The Gradio Blocks that `app.py` serves: one tab per module, each a thin layer over core/ and eval/."""

from __future__ import annotations

import gradio as gr

from playground import engines
from playground.arena import arena_tab
from playground.benchmarks import benchmarks_tab
from playground.human_eval import human_eval_tab
from playground.judge import judge_tab
from playground.language_check import language_check_tab
from playground.models_runs import models_runs_tab
from playground.settings import Settings

INTRO = ("# Polyglot Lab\nMultilingual models side by side, with language checks, benchmarks, an LLM judge and "
         "blind human votes. Runs offline on the packaged models.")


def build_app(settings: Settings | None = None) -> gr.Blocks:
    """The whole Polyglot Lab UI."""
    settings = settings or Settings.from_env()
    engines.configure(settings.serve)
    with gr.Blocks(title="Polyglot Lab") as app:
        gr.Markdown(INTRO + ("\n\n*Public mode: only the listed models can be loaded.*" if settings.public else ""))
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
    return app

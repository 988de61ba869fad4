"""The Benchmarks tab: models x tasks x languages, run in the background by `python -m eval bench` (one run per
model), then the model x language table and plots."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from core.errors import ConfigError, PolyglotError
from core.models import DEFAULT_MODEL
from playground import jobs
from playground.job_panel import Results, job_panel, select, start_job
from playground.jobs import run_dir, split_list
from playground.safe_text import plain
from playground.settings import Settings
from playground.visitors import view

KINDS = ("bench",)


def bench_job(settings: Settings, models: list[str], tasks: list[str], langs: str, limit) -> tuple:
    """(title, commands, outs) for the request; bad input raises before anything starts."""
    from core.job_config import build_job, to_argv
    from eval.bench import plan
    from eval.jobs import BenchJob

    models, tasks, lang_list = split_list(models), split_list(tasks), split_list(langs) or None
    if not models:
        raise ConfigError("Choose at least one model.")
    if not tasks:
        raise ConfigError("Choose at least one task.")
    specs = settings.check_models(models)
    plan(tasks, lang_list)  # unknown tasks or languages fail here, with the valid ones named
    limit = settings.check_limit(int(limit) if limit else None)
    commands, outs = [], []
    for spec in specs:
        out = run_dir(settings.runs_dir, "bench", spec, ",".join(tasks), ",".join(lang_list or []), str(limit))
        job = build_job(BenchJob, {"model": spec, "tasks": tasks, "out": out, "langs": lang_list, "limit": limit,
                                   "data_dir": settings.data_dir})
        commands.append(["-m", "eval", "bench", *to_argv(job)])
        outs.append(str(out))
    where = ", ".join(lang_list) if lang_list else "all languages"
    return f"{' + '.join(tasks)} ({where}, limit {limit or 'none'}): {' vs '.join(specs)}", commands, outs


def render_bench(job: jobs.Job) -> Results:
    """The finished runs' table (task/language x model) and plots."""
    from eval.report import load_runs, plots, table_rows

    cards = load_runs([Path(o) for o in job.outs])
    head, rows = table_rows(cards)
    images = [str(p) for p in plots(cards, job.dir / "plots")]
    speed = "; ".join(f"{c['model']}: {c['items_per_s']} items/s" for c in cards if c.get("items_per_s"))
    return Results(head, rows, images, plain(f"Accuracy [95% interval] per language. {speed}"))


def benchmarks_tab(settings: Settings) -> None:
    """Lay out the Benchmarks tab inside the current Blocks."""
    from eval.tasks import TASKS

    with gr.Row():
        # Benchmarks score log-likelihoods, where the multilingual base model is the natural first choice.
        first = DEFAULT_MODEL if DEFAULT_MODEL in settings.model_choices else settings.default_models[0]
        models = gr.Dropdown(settings.model_choices, value=[first], multiselect=True,
                             allow_custom_value=not settings.public, label="Models", elem_id="bench-models")
        tasks = gr.Dropdown(list(TASKS), value=["xcopa"], multiselect=True, label="Tasks", elem_id="bench-tasks")
    with gr.Row():
        langs = gr.Textbox(label="Languages", placeholder="e.g. de, it, zh (empty: each task's own)",
                           elem_id="bench-langs")
        limit = gr.Number(50, precision=0, minimum=1, label="Items per task and language", elem_id="bench-limit")
        run = gr.Button("Run benchmark", variant="primary", elem_id="bench-run")
    if settings.data_dir is None:
        gr.Markdown("Datasets load from the Hugging Face hub; start the app with `--data-dir` to use local copies.")
    panel = job_panel(settings, KINDS, render_bench, name="bench")

    def start(models_v, tasks_v, langs_v, limit_v, request: gr.Request):
        mine = view(settings, request)
        try:
            title, commands, outs = bench_job(mine, models_v, tasks_v, langs_v, limit_v)
            job = start_job(mine, "bench", title, commands, outs)
        except PolyglotError as exc:
            gr.Warning(mine.redact(str(exc).splitlines()[0]))
            return gr.skip()
        return select(mine, KINDS, job)

    run.click(start, [models, tasks, langs, limit], panel["runs"], api_visibility="private")

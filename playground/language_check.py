"""The Language check tab: models answer a prompt set (the built-in examples, an uploaded JSONL file or a
dataset) in the background through `python -m eval generate`; then the input/output language agreement per
language with 95% intervals (plot and table) and the answers in another language, to read."""

from __future__ import annotations

import hashlib
import html
import shutil
from pathlib import Path

import gradio as gr

from core.engines.spec import display_name
from core.errors import ConfigError, DataError, PolyglotError
from playground import jobs
from playground.arena import language_name
from playground.engines import served_env, shared_spec
from playground.job_panel import Results, job_panel, select, start_job
from playground.jobs import run_dir, split_list
from playground.safe_text import plain
from playground.settings import Settings
from playground.visitors import view

KINDS = ("generate",)
SOURCES = ("Built-in examples", "Uploaded JSONL", "Dataset")


def stage_upload(settings: Settings, upload: str | None) -> str:
    """Check an uploaded prompt file and keep a copy under the runs dir (the job reads it, a resume too)."""
    from eval.prompt_sets import get_set

    if not upload:
        raise ConfigError("Upload a .jsonl prompt file first (one {\"lang\": ..., \"prompt\": ...} per line).")
    path = Path(upload)
    if settings.upload_bytes and path.stat().st_size > settings.upload_bytes:
        raise DataError(f"{path.name} is {path.stat().st_size:,} bytes; this app takes prompt files up to "
                        f"{settings.upload_bytes:,} bytes. Split it, or run Polyglot Lab yourself.")
    get_set(str(path))  # not JSONL, no lang, no prompt: refused here, naming the line
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    kept = settings.runs_dir / "uploads" / f"{path.stem[:40]}-{digest}.jsonl"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, kept)
    return str(kept)


def generate_job(settings: Settings, models, source: str, dataset: str, upload: str | None, langs: str, limit,
                 max_tokens) -> tuple:
    """(title, commands, outs): one `eval generate` per model; bad input raises before anything starts."""
    from core.job_config import build_job, to_argv
    from eval.jobs import GenerateJob
    from eval.prompt_sets import get_set

    models, lang_list = split_list(models), split_list(langs)
    if not models:
        raise ConfigError("Choose at least one model.")
    specs = settings.check_models(models)
    max_tokens = settings.cap_tokens(int(max_tokens or 96))
    prompt_set = {"Built-in examples": "examples", "Dataset": dataset}.get(source) or stage_upload(settings, upload)
    ps = get_set(prompt_set)
    missing = [x for x in lang_list if x not in ps.langs]
    if missing:
        raise ConfigError(f"{Path(ps.name).name} has no prompts in {', '.join(missing)}; "
                          f"it has: {', '.join(ps.langs)}.")
    if source == "Dataset" and not ps.lang_rows and settings.data_dir is None:
        raise ConfigError(f"{dataset} is read from a local copy: start the app with --data-dir.")
    limit = settings.check_limit(int(limit) if limit else None)
    commands, outs = [], []
    for spec in specs:
        out = run_dir(settings.runs_dir, "generate", spec, prompt_set, ",".join(lang_list), str(limit), str(max_tokens))
        # A served model answers 8 prompts at once, on the app's own server when it runs one (served_env).
        served = shared_spec(spec)
        job = build_job(GenerateJob, {"model": served, "set": prompt_set, "out": out, "max_tokens": int(max_tokens),
                                      "concurrency": 8 if served != spec else 1, "langs": lang_list or None,
                                      "limit": limit, "data_dir": settings.data_dir})
        commands.append(["-m", "eval", "generate", *to_argv(job)])
        outs.append(str(out))
    title = f"language check, {Path(prompt_set).name} ({limit or 'all'} per language): {' vs '.join(specs)}"
    return title, commands, outs


def mismatches(cards: list[dict], per_run: int = 20) -> str:
    """The answers not in the prompt's language, as HTML: model, language expected and found, then the prompt
    and the answer escaped (they are untrusted text)."""
    from eval.results import read_items

    items = []
    for card in cards:
        model = html.escape(display_name(card["model"]))
        wrong = [r for r in read_items(Path(card["_dir"])) if r["detected"][0][0] != r["lang"]]
        for r in wrong[:per_run]:
            found, conf = r["detected"][0]
            head = (f"<b>{model}</b>, {html.escape(language_name(r['lang']))} prompt → "
                    f"{html.escape(language_name(found))} ({conf:.2f})")
            items.append(f"<li>{head}{plain(r['turns'][0][:120])}{plain('→ ' + (r['answers'][0][:300] or '(empty)'))}"
                         "</li>")
        if len(wrong) > per_run:
            items.append(f"<li>... and {len(wrong) - per_run} more from {model}</li>")
    body = f"<ul>{''.join(items)}</ul>" if items else "<p>None: every answer matched.</p>"
    return f"<h3>Answers in another language</h3>{body}"


def render_generate(job: jobs.Job) -> Results:
    from eval.report import load_runs, plots, table_rows

    cards = load_runs([Path(o) for o in job.outs])
    head, rows = table_rows(cards)
    return Results(head, rows, [str(p) for p in plots(cards, job.dir / "plots")], mismatches(cards))


def language_check_tab(settings: Settings) -> None:
    """Lay out the Language check tab inside the current Blocks."""
    from eval.prompt_sets import SETS

    with gr.Row():
        models = gr.Dropdown(settings.model_choices, value=list(settings.default_models), multiselect=True,
                             allow_custom_value=not settings.public, label="Models", elem_id="lc-models")
        source = gr.Radio(list(SOURCES), value=SOURCES[0], label="Prompts", elem_id="lc-source")
    with gr.Row():
        dataset = gr.Dropdown([s for s in SETS if s != "examples"], value="hplt", label="Dataset (with --data-dir)")
        upload = gr.File(label="Prompt file (.jsonl: one {\"lang\": \"de\", \"prompt\": \"...\"} per line)",
                         file_types=[".jsonl"], type="filepath", elem_id="lc-upload")
    with gr.Row():
        langs = gr.Textbox(label="Languages", placeholder="e.g. de, ja, sw (empty: all of the set's)",
                           elem_id="lc-langs")
        limit = gr.Number(5, precision=0, minimum=1, label="Prompts per language", elem_id="lc-limit")
        max_tokens = gr.Number(96, precision=0, minimum=1, maximum=2048, label="max_tokens", elem_id="lc-max-tokens")
        run = gr.Button("Run language check", variant="primary", elem_id="lc-run")
    panel = job_panel(settings, KINDS, render_generate, name="lc")

    def start(models_v, source_v, dataset_v, upload_v, langs_v, limit_v, max_tokens_v, request: gr.Request):
        mine = view(settings, request)  # (gradio passes the request only to a named, positional parameter)
        try:
            title, commands, outs = generate_job(mine, models_v, source_v, dataset_v, upload_v, langs_v, limit_v,
                                                 max_tokens_v)
            job = start_job(mine, "generate", title, commands, outs, env=served_env())
        except PolyglotError as exc:  # an error (not a warning) so that an API client hears it too
            raise gr.Error(mine.redact(str(exc))) from exc
        return select(mine, KINDS, job)

    run.click(start, [models, source, dataset, upload, langs, limit, max_tokens], panel["runs"],
              api_name="language_check")

"""The panel each long-work tab shares: its runs (background jobs), the chosen run's progress bar and log,
Stop and Resume, and its results (a table, plots, text) when it is done. It polls, so a reloaded page shows
the same runs."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from core.errors import PolyglotError
from playground import jobs
from playground.public_quotas import check_job_quota
from playground.safe_text import plain
from playground.settings import Settings
from playground.visitors import view


@dataclass
class Results:
    """What a finished run shows: a table, plot images and HTML (untrusted parts escaped by `plain`)."""

    headers: list[str]
    rows: list[list]
    images: list[str]
    text: str = ""


def progress_html(fraction: float, label: str) -> str:
    pct = round(100 * max(0.0, min(1.0, fraction)))
    return (f'<div class="job-progress"><progress max="100" value="{pct}" style="width:100%"></progress>'
            f'<div><b>{pct}%</b> {html.escape(label)}</div></div>')


def choices(settings: Settings, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """The runs a tab lists: on a public app only the visitor's own (none before a visitor is known)."""
    if settings.public and not settings.visitor:
        return []
    return [(settings.redact(f"{j.title} [{jobs.status(j)}]"), j.id) for j in jobs.list_jobs(settings.runs_dir, kinds)]


def start_job(settings: Settings, kind: str, title: str, commands: list[list[str]], outs: list[str],
              env: dict | None = None) -> jobs.Job:
    """Start (or resume) a job, within a public app's quotas."""
    check_job_quota(settings)
    return jobs.start(settings.runs_dir, kind, title, commands, outs, env=env)


def images(paths: list[str]) -> list:
    """Plot files as image data: the page gets pixels, never a path it could fetch again."""
    from PIL import Image

    out = []
    for path in paths:
        with Image.open(path) as im:
            out.append(im.convert("RGB"))
    return out


def find_job(settings: Settings, job_id: str | None) -> jobs.Job | None:
    """The job `job_id` names in this view's own jobs dir, or None (an unknown, malformed or other's id)."""
    if not job_id or not jobs.JOB_ID.match(str(job_id)) or (settings.public and not settings.visitor):
        return None  # an id is a name in the visitor's own jobs dir, never a path
    path = jobs.jobs_dir(settings.runs_dir) / job_id
    return jobs.load(path) if (path / "job.json").is_file() else None


def job_panel(settings: Settings, kinds: tuple[str, ...], render: Callable[[jobs.Job], Results],
              name: str, resume_env: Callable[..., dict] | None = None, env_input: gr.Component | None = None) -> dict:
    """Lay out the panel; `render(job)` gives a done job's results. Returns the runs dropdown (a tab's Run
    button selects its new job there) and the refresh function."""
    with gr.Row():
        runs = gr.Dropdown(choices(settings, kinds), value=None, label="Runs (they continue when the page is closed)",
                           elem_id=f"{name}-runs", scale=4)
        refresh = gr.Button("Refresh", scale=1)
    state = gr.HTML(elem_id=f"{name}-status")
    bar = gr.HTML(elem_id=f"{name}-progress")
    with gr.Row():
        stop = gr.Button("Stop", elem_id=f"{name}-stop")
        resume = gr.Button("Resume", elem_id=f"{name}-resume")
    with gr.Accordion("Log", open=False):
        log = gr.Textbox(lines=10, max_lines=10, show_label=False, interactive=False, elem_id=f"{name}-log")
    table = gr.Dataframe(interactive=False, wrap=True, elem_id=f"{name}-table", visible=False)
    text = gr.HTML(elem_id=f"{name}-results")  # HTML the render function escaped: no Markdown to misread
    plots = gr.Gallery(columns=2, height=440, object_fit="contain", visible=False, label="Plots",
                       elem_id=f"{name}-plots")
    shown = gr.State(None)  # (job id, status) whose results are on screen: skip redrawing them
    timer = gr.Timer(2.0)

    def show(job_id, last, request: gr.Request):
        mine = view(settings, request)
        job = find_job(mine, job_id)
        menu = gr.Dropdown(choices=choices(mine, kinds))
        if job is None:
            return menu, "", "", "", gr.Dataframe(visible=False), "", gr.Gallery(visible=False), None
        now = jobs.status(job)
        fraction, label = jobs.progress(job)
        head = plain(f"{mine.redact(job.title)}: {now}")
        if now == "failed":
            errors = [line for line in jobs.log_tail(job, 40).splitlines() if line.startswith("error:")]
            head += plain(mine.redact(errors[-1])) if errors else "see the log below"
        elif now == "stopped":
            head += plain("Resume continues where it stopped.")
        if (job.id, now) == (last or (None, None)) or now != "done":
            skip = gr.skip()
            return (menu, head, progress_html(fraction, mine.redact(label)), mine.redact(jobs.log_tail(job)),
                    skip, skip, skip, (job.id, now))
        try:
            res = render(job)
        except PolyglotError as exc:
            res = Results([], [], [], plain(mine.redact(f"Cannot show the results: {exc}")))
        return (menu, head, progress_html(fraction, mine.redact(label)), mine.redact(jobs.log_tail(job)),
                # no rows (a cost estimate): hide the table; an empty value with no headers is refused
                gr.Dataframe(value=res.rows, headers=res.headers, visible=True) if res.rows
                else gr.Dataframe(visible=False), res.text,
                gr.Gallery(value=images(res.images), visible=bool(res.images)), (job.id, now))

    outputs = [runs, state, bar, log, table, text, plots, shown]
    runs.change(show, [runs, gr.State(None)], outputs, api_visibility="private")
    refresh.click(show, [runs, gr.State(None)], outputs, api_visibility="private")
    timer.tick(show, [runs, shown], outputs, api_visibility="private", show_progress="hidden")

    def do_stop(job_id, request: gr.Request):
        job = find_job(view(settings, request), job_id)
        if job is not None:
            jobs.stop(job)

    def do_resume(job_id, env_value, request: gr.Request):
        mine = view(settings, request)  # (gradio passes the request only to a named, positional parameter)
        job = find_job(mine, job_id)
        if job is None:
            gr.Warning("Choose a run first.")
            return
        try:
            start_job(mine, job.kind, job.title, job.commands, job.outs,
                      env=resume_env(env_value) if resume_env else None)
        except PolyglotError as exc:
            gr.Warning(mine.redact(str(exc)))

    stop.click(do_stop, runs, None, api_visibility="private")
    resume.click(do_resume, [runs, env_input or gr.State(None)], None, api_visibility="private")
    return {"runs": runs}


def select(settings: Settings, kinds: tuple[str, ...], job: jobs.Job) -> gr.Dropdown:
    """The runs dropdown with `job` chosen (what a tab's Run button returns)."""
    return gr.Dropdown(choices=choices(settings, kinds), value=job.id)

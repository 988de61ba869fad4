"""The app's API for a visitor's own work (what gradio_client scripts and the load bench call): their runs
and a run's results, and blind votes. Each answers only for the visitor making the request."""

from __future__ import annotations

import gradio as gr

from core.errors import PolyglotError
from playground import human_eval, jobs
from playground.job_panel import find_job
from playground.settings import Settings
from playground.visitors import view


def register(settings: Settings) -> None:
    """Add the endpoints to the Blocks being built (`/runs`, `/run_results`, `/answer_sets`,
    `/add_pairs`, `/next_item`, `/vote`)."""

    def runs(request: gr.Request) -> list[dict]:
        """Your runs, newest first: id, kind, title, status and progress."""
        mine = view(settings, request)
        if mine.public and not mine.visitor:
            return []
        return [{"id": j.id, "kind": j.kind, "title": mine.redact(j.title), "status": jobs.status(j),
                 "progress": round(jobs.progress(j)[0], 3)} for j in jobs.list_jobs(mine.runs_dir)]

    def run_results(job_id: str, request: gr.Request) -> dict:
        """One of your runs: its status and, when done, its result table."""
        from playground.benchmarks import render_bench
        from playground.judge import render_judge
        from playground.language_check import render_generate

        mine = view(settings, request)
        job = find_job(mine, job_id)
        if job is None:
            raise gr.Error(f"You have no run {job_id!r}: /runs lists yours.")
        state = jobs.status(job)
        if state != "done":
            return {"status": state, "headers": [], "rows": []}
        render = {"generate": render_generate, "bench": render_bench}.get(job.kind, render_judge)
        res = render(job)
        return {"status": state, "headers": res.headers, "rows": [[mine.redact(str(c)) for c in r] for r in res.rows],
                "plots": len(res.images)}

    def answer_sets(request: gr.Request) -> list[list[str]]:
        """Your finished answer sets, as [label, value] pairs (a value is what /add_pairs takes)."""
        from playground.judge import answer_sets as sets

        return [list(pair) for pair in sets(view(settings, request))]

    def add_pairs(a: str, b: str, request: gr.Request) -> str:
        """Make blind pairs to vote on from two of your answer sets."""
        mine = view(settings, request)
        try:
            return human_eval.add_pairs(mine, a, b)
        except PolyglotError as exc:
            raise gr.Error(mine.redact(str(exc))) from exc

    def next_item(lang: str, request: gr.Request) -> dict:
        """The next blind pair for you to vote on (empty when none is left)."""
        mine = view(settings, request)
        question, left, right, item = human_eval.next_item(mine, "api", lang)
        return {"item": item, "question": question, "left": left, "right": right}

    def vote(item: str, choice: str, request: gr.Request) -> dict:
        """Vote on `item`: left, right, tie or both_bad."""
        mine = view(settings, request)
        store = human_eval.VoteStore(human_eval.votes_path(mine))
        try:
            human_eval.check_rate(mine)
            side = store.vote(human_eval.annotator_of(mine, "api"), item, choice)
        except PolyglotError as exc:
            raise gr.Error(mine.redact(str(exc))) from exc
        finally:
            store.close()
        return {"item": item, "vote": side}

    for fn in (runs, run_results, answer_sets, add_pairs, next_item, vote):
        gr.api(fn, api_name=fn.__name__)

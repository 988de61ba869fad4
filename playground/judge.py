"""The Judge tab: two models (or two finished answer sets) answer a question set and an OpenAI-compatible judge
rates them, through `python -m eval judge` in the background. The dry-run cost shows before the paid run;
results are win/tie/loss bars per language and category with the position-bias (flip) rate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gradio as gr

from core.engines.spec import DEFAULT_OPENAI_URL, display_name, parse_spec
from core.errors import ConfigError, PolyglotError
from core.run_dir import CARD
from eval.judge_protocols import get_protocol, protocol_names
from eval.results import read_card
from playground import jobs
from playground.job_panel import Results, job_panel, select, start_job
from playground.jobs import run_dir, split_list
from playground.safe_text import plain
from playground.settings import Settings
from playground.visitors import view

KINDS = ("judge-estimate", "judge")


ANSWERS = "answers:"  # a choice's value that names an answer set: "answers:<run name>", never a path


def answer_sets(settings: Settings) -> list[tuple[str, str]]:
    """Finished `generate` runs under the (visitor's) runs dir, as (label, "answers:<run name>") choices."""
    if settings.public and not settings.visitor:
        return []
    found = []
    for card_path in sorted((settings.runs_dir / "generate").glob(f"*/{CARD}")):
        card = json.loads(card_path.read_text())
        if card.get("status") == "done":
            name = display_name(card["model"])
            found.append((settings.redact(f"answers: {name} on {Path(card['set']).name} ({card_path.parent.name})"),
                          f"{ANSWERS}{card_path.parent.name}"))
    return found


def answers_dir(settings: Settings, value: str | None) -> Path | None:
    """The directory an "answers:<run name>" choice names, if it is one of this view's answer sets."""
    value = (value or "").strip()
    if value in {v for _, v in answer_sets(settings)}:
        return settings.runs_dir / "generate" / value[len(ANSWERS):]
    return None


def _side(settings: Settings, value: str | None, what: str) -> str:
    """An answers directory of this app's runs, or a model spec."""
    value = (value or "").strip()
    if not value:
        raise ConfigError(f"Choose {what}: a model, or a finished answer set.")
    found = answers_dir(settings, value)
    if found is not None:
        return str(found)
    if not settings.public and Path(value).is_dir() and (Path(value) / CARD).is_file():
        return value  # a local app also takes an answers directory by path
    return settings.check_model(value)


def judge_key(settings: Settings, typed: str | None) -> dict:
    """The environment the judge job gets: the typed key, or (not in public mode) the app's own
    OPENAI_API_KEY. A public app never lends its key to a visitor's run."""
    if typed and typed.strip():
        return {"OPENAI_API_KEY": typed.strip()}
    return {"OPENAI_API_KEY": ""} if settings.public else {}


def judge_job(settings: Settings, a, b, questions, langs, limit, mode, judge_model, base_url, key,
              dry_run: bool) -> tuple:
    """(title, commands, outs, env); bad input (and a missing key) raises before any call."""
    if mode not in protocol_names():
        raise ConfigError(f"Choose a protocol: {', '.join(protocol_names())}.")
    side_a = _side(settings, a, "model A")
    side_b = _side(settings, b, "model B") if get_protocol(mode).pairwise else None
    specs = [s for s in (side_a, side_b) if s and not Path(s).is_dir()]
    if specs and not questions:
        raise ConfigError("Choose the question set the models answer.")
    url = (base_url or "").strip()
    if not (judge_model or "").strip():
        raise ConfigError("Name the judge model, e.g. gpt-4o-mini (or the model a local server serves).")
    settings.check_judge_url(url)  # a public app calls only its operator's endpoints: refused before any call
    judge = parse_spec(f"openai:{judge_model.strip()}" + (f"@{url}" if url else ""))
    env = judge_key(settings, key)
    if (judge.base_url or DEFAULT_OPENAI_URL) == DEFAULT_OPENAI_URL and not env.get(
            "OPENAI_API_KEY", os.environ.get("OPENAI_API_KEY")):
        raise ConfigError("The judge at api.openai.com needs an API key: type it in the API key box"
                          + ("" if settings.public else " or set OPENAI_API_KEY before starting the app")
                          + ". Nothing was sent.")
    lang_list = split_list(langs)
    limit = settings.check_limit(int(limit) if limit else None)
    judge_spec = f"openai:{judge.model}" + (f"@{judge.base_url}" if url else "")
    out = run_dir(settings.runs_dir, "judge", f"{mode}-{Path(side_a).name}", side_b or "", questions or "",
                  ",".join(lang_list), str(limit), judge_spec)
    cmd = ["-m", "eval", "judge", "--mode", mode, "--a", side_a, "--judge", judge_spec, "--out", str(out)]
    cmd += ["--b", side_b] if side_b else []
    cmd += ["--questions", questions] if specs else []
    cmd += ["--langs", ",".join(lang_list)] if lang_list else []
    cmd += ["--limit", str(limit)] if limit else []
    cmd += ["--data-dir", str(settings.data_dir)] if settings.data_dir else []
    cmd += ["--dry-run"] if dry_run else []
    names = " vs ".join(Path(s).name for s in (side_a, side_b) if s)
    title = f"{'cost estimate' if dry_run else 'judge'} {mode}: {names} by {judge.model}"
    return title, [cmd], [str(out)], env


def _win_rate(counts: dict) -> str:
    if not counts["n"]:  # e.g. a small judge that never wrote a verdict: say so instead of "nan"
        return "no verdicts"
    low, high = counts["ci95"]
    return f"{counts['win_rate']:.3f} [{low:.3f}, {high:.3f}]"


def judge_rows(card: dict) -> tuple[list[str], list[list]]:
    """Per language and category: FastChat win/tie/loss with the flip rate, or each side's mean rating."""
    res = card["results"]
    groups = [("all", "all", res["overall"]), *(("language", k, v) for k, v in res["by_lang"].items()),
              *(("category", k, v) for k, v in res["by_category"].items())]
    if get_protocol(card["mode"]).pairwise:
        head = ["by", "group", "n", "A wins", "ties", "B wins", "both bad", "A win rate [95%]", "flip rate"]
        rows = [[by, k, t["fastchat"]["n"], t["fastchat"]["win"], t["fastchat"]["tie"], t["fastchat"]["loss"],
                 t["fastchat"]["both_bad"], _win_rate(t["fastchat"]),
                 t["position_bias"]["flip_rate"] if t["position_bias"]["n"] else "no pairs"]
                for by, k, t in groups]
        return head, rows
    sides = sorted({s for _, _, means in groups for s in means})
    return ["by", "group", *(f"{card.get(s) or s} mean" for s in sides)], \
        [[by, k, *(means.get(s) for s in sides)] for by, k, means in groups]


def render_judge(job: jobs.Job) -> Results:
    from eval.judge_plots import judge_plots
    from eval.judge_summary import format_judge

    out = Path(job.outs[0]) / "judgments"
    if job.kind == "judge-estimate":
        plan = json.loads((out / "estimate.json").read_text())["dry_run"]
        usd = "unknown price (not in the price table)" if plan["usd"] is None else f"<b>${plan['usd']}</b>"
        text = (f"<h3>Cost estimate</h3><p>{plan['calls']} judge calls to make ({plan['already_judged']} already "
                f"judged): ~{plan['prompt_tokens']:,} prompt + ~{plan['completion_tokens']:,} completion tokens, "
                f"{usd}. Click <b>Run judge</b> to make them.</p>")
        return Results([], [], [], text)
    card = read_card(out)
    if card is None or "results" not in card:
        raise ConfigError(f"{out} holds no finished judge run.")
    head, rows = judge_rows(card)
    return Results(head, rows, [str(p) for p in judge_plots(card, job.dir / "plots")],
                   plain(format_judge(card)))


def judge_tab(settings: Settings) -> dict:
    """Lay out the Judge tab inside the current Blocks."""
    from eval.prompt_sets import SETS

    sides = settings.model_choices + answer_sets(settings)
    with gr.Row():
        a = gr.Dropdown(sides, value=settings.default_models[0], allow_custom_value=not settings.public,
                        label="Model A (or answer set)", elem_id="judge-a")
        b = gr.Dropdown(sides, value=settings.default_models[1], allow_custom_value=not settings.public,
                        label="Model B (or answer set)", elem_id="judge-b")
        mode = gr.Radio(list(protocol_names()), value="pairwise", label="Protocol", elem_id="judge-mode")
    with gr.Row():
        questions = gr.Dropdown(list(SETS), value="examples", label="Questions", elem_id="judge-questions")
        langs = gr.Textbox(label="Languages", placeholder="e.g. de, fr (empty: all of the set's)",
                           elem_id="judge-langs")
        limit = gr.Number(5, precision=0, minimum=1, label="Questions per language", elem_id="judge-limit")
    with gr.Row():
        judge_model = gr.Textbox("gpt-4o-mini", label="Judge model", elem_id="judge-model")
        if settings.public:  # only the operator's endpoints (POLYGLOT_JUDGE_URLS)
            base_url = gr.Dropdown(list(settings.judge_urls), value=next(iter(settings.judge_urls), None),
                                   label="Judge base URL",
                                   allow_custom_value=False, elem_id="judge-url")
        else:
            base_url = gr.Textbox(label="Judge base URL", placeholder="empty: OpenAI; or http://127.0.0.1:8000/v1",
                                  elem_id="judge-url")
        key = gr.Textbox(label="API key", type="password", elem_id="judge-key",
                         placeholder="empty: $OPENAI_API_KEY of the app" if not settings.public else "your key")
    with gr.Row():
        estimate = gr.Button("1. Answer and estimate the cost", elem_id="judge-estimate")
        run = gr.Button("2. Run judge (makes the paid calls)", variant="primary", elem_id="judge-run")
    panel = job_panel(settings, KINDS, render_judge, name="judge", resume_env=lambda k: judge_key(settings, k),
                      env_input=key)
    inputs = [a, b, questions, langs, limit, mode, judge_model, base_url, key]

    def start(dry_run: bool, values: tuple, request: gr.Request | None):
        mine = view(settings, request)
        try:
            title, commands, outs, env = judge_job(mine, *values, dry_run=dry_run)
            if not dry_run and not (Path(outs[0]) / "judgments" / "estimate.json").is_file():
                raise ConfigError("Estimate the cost first (button 1); then run the judge.")
            job = start_job(mine, "judge-estimate" if dry_run else "judge", title, commands, outs, env)
        except PolyglotError as exc:
            gr.Warning(mine.redact(str(exc).splitlines()[0]))
            return gr.skip()
        return select(mine, KINDS, job)

    def refresh(request: gr.Request):
        choices = settings.model_choices + answer_sets(view(settings, request))
        return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices)

    # gradio passes the request only to a named, positional parameter, hence the spelled-out inputs
    def estimate_fn(a_v, b_v, questions_v, langs_v, limit_v, mode_v, judge_v, url_v, key_v, request: gr.Request):
        return start(True, (a_v, b_v, questions_v, langs_v, limit_v, mode_v, judge_v, url_v, key_v), request)

    def run_fn(a_v, b_v, questions_v, langs_v, limit_v, mode_v, judge_v, url_v, key_v, request: gr.Request):
        return start(False, (a_v, b_v, questions_v, langs_v, limit_v, mode_v, judge_v, url_v, key_v), request)

    estimate.click(estimate_fn, inputs, panel["runs"], api_visibility="private")
    run.click(run_fn, inputs, panel["runs"], api_visibility="private")
    return {"refresh": (refresh, [a, b])}

"""The Language check tab: models answer a prompt set (the built-in examples, an uploaded JSONL file or a
dataset) in the background through `python -m eval generate`; then the input/output language agreement per
language with 95% intervals, LCB line/word pass rates and health flags (plot and table), and the answers in another
language or unhealthy, with their wrong-language lines marked, to read."""

from __future__ import annotations

import hashlib
import html
import shutil
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from core.confusion import NOT_IDENTIFIABLE, UNKNOWN
from core.engines.spec import display_name
from core.errors import ConfigError, DataError, PolyglotError, UnknownLanguageError
from core.languages import get_language
from playground import jobs
from playground.arena import language_name
from playground.engines import served_env, shared_spec
from playground.job_panel import Results, job_panel, select, start_job
from playground.jobs import run_dir, split_list
from playground.safe_text import plain, plain_marked
from playground.settings import Settings
from playground.visitors import view

if TYPE_CHECKING:
    from eval.answer_checks import CheckedAnswer

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


def _code(lang: str) -> str:
    """The table code of a language typed as a code, tag or name ("Icelandic", "isl", "is-IS" -> "is"); an unknown
    one as typed (the prompt set's check names it)."""
    try:
        return get_language(lang).code
    except UnknownLanguageError:
        return lang


def generate_job(settings: Settings, models, source: str, dataset: str, upload: str | None, langs: str, limit,
                 max_tokens) -> tuple:
    """(title, commands, outs): one `eval generate` per model; bad input raises before anything starts."""
    from core.job_config import build_job, to_argv
    from eval.jobs import GenerateJob
    from eval.prompt_sets import get_set

    models, lang_list = split_list(models), [_code(x) for x in split_list(langs)]
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


SHOWN_CHARS = 600  # of each listed answer


def _span(own: str, line: str) -> tuple[int, int] | None:
    """The shortest span of `line` that holds the non-space characters of `own` in order and ends first; None if
    `line` does not hold them."""
    want = "".join(own.split())
    if not want:
        return None
    k, end = 0, None
    for i, ch in enumerate(line):
        if ch == want[k]:
            k += 1
            if k == len(want):
                end = i
                break
    if end is None:
        return None
    for i in range(end, -1, -1):
        if line[i] == want[k - 1]:
            k -= 1
            if k == 0:
                return i, end + 1
    return None


def wrong_lines(answer: str, checked: CheckedAnswer) -> dict[int, tuple[int, int, str]]:
    """{index of a line of `answer`: (start, end, language)} for the lines the LCB scoring found in another
    language than the prompt's: the span of the answer's line that the scored text came from. The scoring reads
    the answer's own text (the copied prompt removed, blank lines dropped), line for line, so each of its lines is
    found again, in order, in the answer line it was cut from; a prompt echoed at the start of that line stays
    outside the span."""
    conf = checked.confusion
    if not conf.identifiable or not conf.wrong_lines:
        return {}
    wrong = {line.index: line.language for line in conf.wrong_lines}
    raw, marks, j = answer.split("\n"), {}, 0
    for k, text in enumerate(checked.health.own_text.split("\n")):
        while j < len(raw) and (span := _span(text, raw[j])) is None:
            j += 1
        if j == len(raw):
            break
        if k in wrong:
            marks[j] = (*span, wrong[k])
        j += 1
    return marks


def _answer_pieces(answer: str, marks: dict[int, tuple[int, int, str]]) -> list[tuple[str, str]]:
    """The answer up to SHOWN_CHARS as (text, note) pieces for `plain_marked`: each span in another language
    noted with that language's name."""
    if not answer.strip():
        return [("(empty)", "")]
    pieces, left = [], SHOWN_CHARS
    for i, line in enumerate(answer.split("\n")):
        pieces.append(("\n" if i else "", ""))
        cut = line[:left]
        start, end, lang = marks.get(i, (len(cut), len(cut), None))
        name = "" if lang is None else ("unidentified" if lang == UNKNOWN else language_name(lang))
        pieces += [(cut[:start], ""), (cut[start:end], name), (cut[end:], "")]
        if len(line) >= left:
            pieces.append((" …", ""))
            break
        left -= len(line) + 1
    return [(text, note) for text, note in pieces if text]


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"


def _listed(c: CheckedAnswer) -> bool:
    """An unhealthy answer, or one in another language than its prompt (in all or some of its lines); a language
    lid.176 cannot identify is neither in nor out of language."""
    if not c.health.healthy:
        return True
    return c.confusion.identifiable and (not c.agrees or c.confusion.line_pass is False)


def _head(model: str, c: CheckedAnswer) -> str:
    head = f"<b>{model}</b>, {html.escape(language_name(c.lang))} prompt"
    if not c.confusion.identifiable:
        head += f" ({NOT_IDENTIFIABLE})"
    elif not c.health.own_text and c.answer.strip():
        head += " → no text of its own (only what it copied from the prompt)"
    elif c.detected[0] == "und":
        head += " → no language detected"
    else:
        head += f" → {html.escape(language_name(c.detected[0]))} ({c.detected[1]:.2f})"
    conf = c.confusion
    if conf.identifiable and conf.wrong_lines:
        head += f" · {len(conf.wrong_lines)} of {_lines(len(conf.lines))} in another language"
    if conf.english:
        head += f" · English words: {html.escape(', '.join(conf.english[:8]))}"
    if c.health.flags:
        head += f" · <b>{', '.join(c.health.flags)}</b>"
    return head


def mismatches(cards: list[dict], per_run: int = 20, words: frozenset[str] | None = None) -> str:
    """The answers not in the prompt's language (wholly or in some lines) and the unhealthy ones (echo, loop,
    empty), as HTML: model, language expected and found (of the answer's own text, without what it copied from the
    prompt), its health flags, then the prompt and the answer with each line in another language marked. Prompts
    and answers are untrusted text: escaped."""
    from eval.answer_checks import check_records
    from eval.results import read_items

    items, unidentifiable = [], {}
    for card in cards:
        model = html.escape(display_name(card["model"]))
        checked = check_records(read_items(Path(card["_dir"])), card.get("max_tokens"), words)
        unidentifiable |= {c.lang: None for c in checked if not c.confusion.identifiable}
        listed = [c for c in checked if _listed(c)]
        for c in listed[:per_run]:
            answer = plain_marked(_answer_pieces(c.answer, wrong_lines(c.answer, c)))
            items.append(f"<li>{_head(model, c)}{plain(c.prompt[:120])}→{answer}</li>")
        if len(listed) > per_run:
            items.append(f"<li>... and {len(listed) - per_run} more from {model}</li>")
    notes = "".join(f"<p>{html.escape(language_name(lang))} (<code>{html.escape(lang)}</code>): {NOT_IDENTIFIABLE}, "
                    "so its answers count neither as in nor as out of its language; only unhealthy ones are listed.</p>"
                    for lang in unidentifiable)
    body = (f"<ul>{''.join(items)}</ul>" if items
            else "<p>None: every answer was in its prompt's language and healthy.</p>")
    return f"<h3>Answers in another language, or unhealthy (echo, loop, empty)</h3>{notes}{body}"


def render_generate(job: jobs.Job, data_dir: Path | None = None) -> Results:
    """The generation table (agreement, LCB line/word pass rates, health flags), its plots and the
    listed answers; `data_dir` holding the LCB English word list adds the word-level check to the latter."""
    from core.confusion import words_or_none
    from eval.report import generation_rows, load_runs, plots

    cards = load_runs([Path(o) for o in job.outs])
    head, rows = generation_rows(cards)
    images = plots(cards, job.dir / "plots")
    return Results(head, rows, [str(p) for p in images], mismatches(cards, words=words_or_none(data_dir)))


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
    panel = job_panel(settings, KINDS, partial(render_generate, data_dir=settings.data_dir), name="lc")

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

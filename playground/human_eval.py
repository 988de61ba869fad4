"""The Human eval tab: blind pairwise votes on two answer sets (sides randomized per annotator, no model
names shown), kept in the judge's SQLite vote store, with the agreement statistics and the per-language
leaderboard (`playground.leaderboard_view`) on the same page."""

from __future__ import annotations

import html
import json
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

import gradio as gr

from core.errors import ConfigError, PolyglotError
from core.run_dir import CARD
from eval.human_votes import VoteStore, agreement_report
from eval.judge_protocols import is_pairwise
from playground.judge import answer_sets, answers_dir
from playground.leaderboard_view import leaderboard_section, show
from playground.safe_text import plain
from playground.settings import Settings
from playground.visitors import view

VOTES = ("left", "right", "tie", "both_bad")
LABELS = {"left": "Left is better", "right": "Right is better", "tie": "Tie", "both_bad": "Both are bad"}
_recent: dict[str, deque] = defaultdict(deque)  # visitor -> times of their votes in the last minute
_recent_lock = threading.Lock()


def annotator_of(settings: Settings, typed: str) -> str:
    """Who votes: on a public app the visitor's session (a typed name could be anyone's), else the name typed."""
    return f"visitor-{settings.visitor}" if settings.public else (typed or "").strip()


def check_rate(settings: Settings) -> None:
    """A public visitor casts at most `votes_per_minute` votes a minute."""
    if not settings.public:
        return
    now, cap = time.monotonic(), settings.limits.votes_per_minute
    with _recent_lock:
        times = _recent[settings.visitor]
        while times and now - times[0] > 60:
            times.popleft()
        if len(times) >= cap:
            raise ConfigError(f"{cap} votes a minute is this public app's limit: take a breath, then go on.")
        times.append(now)


def votes_path(settings: Settings) -> Path:
    return settings.runs_dir / "human_votes.sqlite"


def judge_runs(settings: Settings) -> list[tuple[str, str]]:
    """Finished pairwise judge runs, to compare the humans with, as (label, run name) choices."""
    if settings.public and not settings.visitor:
        return []
    found = []
    for card_path in sorted((settings.runs_dir / "judge").glob(f"*/judgments/{CARD}")):
        card = json.loads(card_path.read_text())
        if is_pairwise(card.get("mode")) and card.get("status") == "done":
            name = card_path.parent.parent.name
            found.append((f"{card['mode']} by {card['judge'].split('@')[0]} ({name})", name))
    return found


def show_item(item: dict | None) -> tuple[str, str, str, str | None]:
    """(question, left answer, right answer, item key) as escaped HTML; the last turn is the one voted on."""
    if item is None:
        return "<p><b>No items left to vote on</b> (for this language). Add pairs above.</p>", "", "", None
    turns = item["questions"]
    head = (f"<p><b>{html.escape(str(item['lang']))}</b>, {html.escape(str(item['category'] or 'no category'))}, "
            f"turn {int(item['turn'])}</p>" + "".join(plain(t) for t in turns))
    return head, plain(item["left"]), plain(item["right"]), item["item"]


def next_item(settings: Settings, annotator: str, lang: str):
    annotator = annotator_of(settings, annotator)
    if not annotator:
        gr.Warning("Type your name first: votes are counted per annotator.")
        return "", "", "", None
    store = VoteStore(votes_path(settings))
    try:
        return show_item(store.next_item(annotator, (lang or "").strip() or None))
    finally:
        store.close()


def cast(settings: Settings, choice: str, annotator: str, lang: str, item: str | None):
    """Store the vote (one per item and annotator: a second replaces the first), then show the next item."""
    if not item:
        gr.Warning("No item on screen: click Next item.")
        return gr.skip(), gr.skip(), gr.skip(), item
    store = VoteStore(votes_path(settings))
    try:
        check_rate(settings)
        store.vote(annotator_of(settings, annotator), item, choice)
    except PolyglotError as exc:
        gr.Warning(settings.redact(str(exc)))
        return gr.skip(), gr.skip(), gr.skip(), item
    finally:
        store.close()
    return next_item(settings, annotator, lang)


def add_pairs(settings: Settings, a: str | None, b: str | None) -> str:
    dir_a, dir_b = answers_dir(settings, a), answers_dir(settings, b)
    if dir_a is None or dir_b is None or dir_a == dir_b:
        raise ConfigError("Choose two different finished answer sets (the Language check tab makes them).")
    store = VoteStore(votes_path(settings))
    try:
        new = store.add_pairs(dir_a, dir_b)
        return f"{new} new items; {store.count()} in the store."
    finally:
        store.close()


def human_eval_tab(settings: Settings) -> dict:
    """Lay out the Human eval tab inside the current Blocks."""
    sets = answer_sets(settings)
    with gr.Accordion("Answer pairs to vote on", open=not votes_path(settings).is_file()):
        with gr.Row():
            a = gr.Dropdown(sets, label="Answer set A", elem_id="he-a")
            b = gr.Dropdown(sets, label="Answer set B", elem_id="he-b")
            add = gr.Button("Add pairs", elem_id="he-add")
        added = gr.Markdown()
    with gr.Row():
        annotator = gr.Textbox(label="Your name", elem_id="he-annotator", visible=not settings.public,
                               info=None if settings.public else "votes are counted per name")
        lang = gr.Textbox(label="Only this language (optional)", placeholder="e.g. de", elem_id="he-lang")
        nxt = gr.Button("Next item", elem_id="he-next")
    if settings.public:
        gr.Markdown("You vote as this browser session: one vote per item (a second replaces the first).")
    question = gr.HTML(elem_id="he-question")
    with gr.Row():
        left = gr.HTML(label="Left", elem_id="he-left-answer", container=True)
        right = gr.HTML(label="Right", elem_id="he-right-answer", container=True)
    item = gr.State(None)
    with gr.Row():
        buttons = {v: gr.Button(LABELS[v], elem_id=f"he-{v}") for v in VOTES}
    with gr.Accordion("Agreement", open=True):
        with gr.Row():
            judge_run = gr.Dropdown(judge_runs(settings), label="Compare with a pairwise judge run (optional)")
            stats_btn = gr.Button("Show agreement", elem_id="he-stats")
        stats = gr.HTML(elem_id="he-stats-text")
    with gr.Accordion("Leaderboard", open=False, elem_id="he-leaderboard"):
        board_btn, board = leaderboard_section()

    def do_add(x, y, request: gr.Request):
        mine = view(settings, request)
        try:
            return add_pairs(mine, x, y)
        except PolyglotError as exc:
            gr.Warning(mine.redact(str(exc)))
            return gr.skip()

    def do_stats(run, request: gr.Request):
        mine = view(settings, request)
        judged = mine.runs_dir / "judge" / run / "judgments" if run in {v for _, v in judge_runs(mine)} else None
        try:
            return plain(mine.redact(agreement_report(votes_path(mine), judged)))
        except PolyglotError as exc:
            return plain(mine.redact(str(exc)))

    def do_board(request: gr.Request):
        mine = view(settings, request)
        judged = [mine.runs_dir / "judge" / name / "judgments" for _, name in judge_runs(mine)]
        return show(votes_path(mine), judged, mine.redact)

    def do_next(n, lg, request: gr.Request):
        return next_item(view(settings, request), n, lg)

    def voter(choice: str):
        def do_vote(n, lg, it, request: gr.Request):
            return cast(view(settings, request), choice, n, lg, it)
        return do_vote

    shown = [question, left, right, item]
    add.click(do_add, [a, b], added, api_visibility="private")
    nxt.click(do_next, [annotator, lang], shown, api_visibility="private")
    for choice, button in buttons.items():
        button.click(voter(choice), [annotator, lang, item], shown, api_visibility="private")
    stats_btn.click(do_stats, judge_run, stats, api_visibility="private")
    board_btn.click(do_board, None, board, api_visibility="private")

    def refresh(request: gr.Request):
        mine = view(settings, request)
        sets = answer_sets(mine)
        return gr.Dropdown(choices=sets), gr.Dropdown(choices=sets), gr.Dropdown(choices=judge_runs(mine))

    return {"refresh": (refresh, [a, b, judge_run])}

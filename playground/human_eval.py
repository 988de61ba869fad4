"""The Human eval tab: blind pairwise votes on two answer sets (sides randomized per annotator, no model
names shown), kept in the judge's SQLite vote store, with the agreement statistics on the same page."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from core.errors import ConfigError, PolyglotError
from eval.human_votes import VoteStore, agreement_report
from playground.judge import answer_sets
from playground.settings import Settings

VOTES = ("left", "right", "tie", "both_bad")
LABELS = {"left": "Left is better", "right": "Right is better", "tie": "Tie", "both_bad": "Both are bad"}


def votes_path(settings: Settings) -> Path:
    return settings.runs_dir / "human_votes.sqlite"


def judge_runs(settings: Settings) -> list[tuple[str, str]]:
    """Finished pairwise judge runs, to compare the humans with."""
    found = []
    for card_path in sorted((settings.runs_dir / "judge").glob("*/judgments/card.json")):
        card = json.loads(card_path.read_text())
        if card.get("mode") in ("pairwise", "scores") and card.get("status") == "done":
            found.append((f"{card['mode']} by {card['judge'].split('@')[0]} ({card_path.parent.parent.name})",
                          str(card_path.parent)))
    return found


def show_item(item: dict | None) -> tuple[str, str, str, str | None]:
    """(question, left answer, right answer, item key) as markdown; the last turn is the one voted on."""
    if item is None:
        return "**No items left to vote on** (for this language). Add pairs above.", "", "", None
    turns = item["questions"]
    context = "".join(f"> {t}\n\n" for t in turns[:-1])
    head = f"**{item['lang']}**, {item['category'] or 'no category'}, turn {item['turn']}\n\n{context}**{turns[-1]}**"
    return head, item["left"], item["right"], item["item"]


def next_item(settings: Settings, annotator: str, lang: str):
    if not (annotator or "").strip():
        gr.Warning("Type your name first: votes are counted per annotator.")
        return "", "", "", None
    store = VoteStore(votes_path(settings))
    try:
        return show_item(store.next_item(annotator.strip(), (lang or "").strip() or None))
    finally:
        store.close()


def cast(settings: Settings, choice: str, annotator: str, lang: str, item: str | None):
    """Store the vote, then show the next item."""
    if not item:
        gr.Warning("No item on screen: click Next item.")
        return gr.skip(), gr.skip(), gr.skip(), item
    store = VoteStore(votes_path(settings))
    try:
        store.vote(annotator.strip(), item, choice)
    except PolyglotError as exc:
        gr.Warning(str(exc))
        return gr.skip(), gr.skip(), gr.skip(), item
    finally:
        store.close()
    return next_item(settings, annotator, lang)


def add_pairs(settings: Settings, a: str | None, b: str | None) -> str:
    if not a or not b or a == b:
        raise ConfigError("Choose two different finished answer sets (the Language check tab makes them).")
    store = VoteStore(votes_path(settings))
    try:
        new = store.add_pairs(Path(a), Path(b))
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
        annotator = gr.Textbox(label="Your name", elem_id="he-annotator")
        lang = gr.Textbox(label="Only this language (optional)", placeholder="e.g. de", elem_id="he-lang")
        nxt = gr.Button("Next item", elem_id="he-next")
    question = gr.Markdown(elem_id="he-question")
    with gr.Row():
        left = gr.Markdown(label="Left", elem_id="he-left-answer", container=True)
        right = gr.Markdown(label="Right", elem_id="he-right-answer", container=True)
    item = gr.State(None)
    with gr.Row():
        buttons = {v: gr.Button(LABELS[v], elem_id=f"he-{v}") for v in VOTES}
    with gr.Accordion("Agreement", open=True):
        with gr.Row():
            judge_run = gr.Dropdown(judge_runs(settings), label="Compare with a pairwise judge run (optional)")
            stats_btn = gr.Button("Show agreement", elem_id="he-stats")
        stats = gr.Markdown(elem_id="he-stats-text")

    def do_add(x, y):
        try:
            return add_pairs(settings, x, y)
        except PolyglotError as exc:
            gr.Warning(str(exc))
            return gr.skip()

    def do_stats(run):
        try:
            return f"```text\n{agreement_report(votes_path(settings), Path(run) if run else None)}\n```"
        except PolyglotError as exc:
            return f"{exc}"

    shown = [question, left, right, item]
    add.click(do_add, [a, b], added, api_visibility="private")
    nxt.click(lambda n, lg: next_item(settings, n, lg), [annotator, lang], shown, api_visibility="private")
    for choice, button in buttons.items():
        button.click(lambda n, lg, it, c=choice: cast(settings, c, n, lg, it), [annotator, lang, item], shown,
                     api_visibility="private")
    stats_btn.click(do_stats, judge_run, stats, api_visibility="private")

    def refresh():
        sets = answer_sets(settings)
        return gr.Dropdown(choices=sets), gr.Dropdown(choices=sets), gr.Dropdown(choices=judge_runs(settings))

    return {"refresh": (refresh, [a, b, judge_run])}

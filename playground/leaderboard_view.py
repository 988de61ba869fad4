"""The Leaderboard view of the Human eval tab: per-language Bradley–Terry ratings with bootstrap 95% intervals
from the app's vote store and the finished pairwise judge runs it knows (`eval.leaderboard`), as tables and a plot.

Model names come from run cards anyone may write: every one is HTML-escaped here, and redacted on a public app."""

from __future__ import annotations

import html
import io
from pathlib import Path

import gradio as gr

from core.errors import PolyglotError
from eval.battles import read_input
from eval.leaderboard import ALL, SOURCES, UNCONNECTED, card_from_battles, lang_name
from playground.safe_text import plain

N_BOOTSTRAP = 200  # the page's intervals: enough for 2.5/97.5 percentiles, quick on a shared server
SEED = 0
HEAD = ("rank", "model", "rating", "95% CI", "battles")


def leaderboard_card(votes: Path, judge_dirs: list[Path]) -> tuple[dict | None, list[str]]:
    """The leaderboard card of the vote store and judge runs that hold battles (None if none does), and why
    each other input was left out."""
    battles: dict = {}
    inputs, skipped = [], []
    for path in ([votes] if Path(votes).is_file() else []) + list(judge_dirs):
        try:
            source, items, info = read_input(path)
        except PolyglotError as exc:  # e.g. a store without votes yet: the rest still makes a board
            skipped.append(str(exc))
            continue
        battles.setdefault(source, []).extend(items)
        inputs.append(info | {"source": source})
    if not battles:
        return None, skipped
    return card_from_battles(battles, inputs, N_BOOTSTRAP, SEED), skipped


def _ci(m: dict) -> str:
    low, high = m["ci95"]
    return "-" if low is None else f"[{low:.1f}, {high:.1f}]"


def _cell_html(source: str, lang: str, cell: dict, red) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{k}</td><td>{e(red(m['model']))}</td><td>{m['rating']:.1f}</td><td>{_ci(m)}</td>"
                   f"<td>{m['battles']}</td></tr>" for k, m in enumerate(cell["models"], 1))
    head = "".join(f"<th>{h}</th>" for h in HEAD)
    apart = "; ".join(f"{e(red(u['model']))} (battles: {u['battles']}, vs {', '.join(e(red(p)) for p in u['played'])})"
                      for u in cell.get("unconnected", []))
    return (f"<h4>{e(SOURCES.get(source, source))}: {e(lang_name(lang))}, {cell['battles']} battles</h4>"
            f'<table class="leaderboard" data-source="{e(source)}" data-lang="{e(lang)}"><thead><tr>{head}</tr>'
            f"</thead><tbody>{rows}</tbody></table>"
            + (f'<p class="unconnected">{e(UNCONNECTED)}: {apart}</p>' if apart else ""))


def tables_html(card: dict, red=str) -> str:
    """A table per source and language (all languages last) and the human-judge rank correlations, escaped."""
    parts = [f"<p>Ties: {html.escape(card['tie_rule'])}. Scale: {html.escape(card['scale'])}. Intervals: "
             f"{card['n_bootstrap']} bootstrap samples.</p>"]
    for source, cells in card["sources"].items():
        for lang in [x for x in cells if x != ALL] + [ALL]:
            parts.append(_cell_html(source, lang, cells[lang], red))
    for lang, r in card["correlation"].items():
        rho = "-" if r["spearman"] is None else f"{r['spearman']:.3f}"
        tau = "-" if r["kendall"] is None else f"{r['kendall']:.3f}"
        parts.append(f"<p>Humans vs judge, {html.escape(lang_name(lang))}: Spearman {rho}, Kendall {tau} "
                     f"({r['n_models']} models rated by both)</p>")
    return "".join(parts)


def _redacted(card: dict, red) -> dict:
    """The card with every model name passed through `red` (for the plot)."""
    sources = {s: {lang: {**cell, "models": [{**m, "model": red(m["model"])} for m in cell["models"]]}
                   for lang, cell in cells.items()} for s, cells in card["sources"].items()}
    return {**card, "sources": sources}


def show(votes: Path, judge_dirs: list[Path], red=str) -> tuple[str, object]:
    """(HTML tables, plot as a PIL image or None) of the leaderboard of `votes` and `judge_dirs`."""
    from PIL import Image

    from eval.leaderboard_plot import plot_png

    card, skipped = leaderboard_card(votes, judge_dirs)
    notes = plain(red("\n".join(skipped))) if skipped else ""
    if card is None:
        return plain("No votes or pairwise judge verdicts yet: vote above, then show the leaderboard.") + notes, None
    with Image.open(io.BytesIO(plot_png(_redacted(card, red)))) as im:
        image = im.convert("RGB")
    return tables_html(card, red) + notes, image


def leaderboard_section() -> tuple[gr.Button, list]:
    """Lay out the view inside the current Blocks; returns its button and the components `show` fills."""
    button = gr.Button("Show leaderboard", elem_id="he-lb-show")
    tables = gr.HTML(elem_id="he-lb-tables")
    plot = gr.Image(label="Ratings per language", type="pil", interactive=False, elem_id="he-lb-plot",
                    buttons=["download", "fullscreen"])
    return button, [tables, plot]

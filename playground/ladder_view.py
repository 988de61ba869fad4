"""The "Quantization ladders" section of the Models and runs tab: for one ladder run (`python -m quantize ladder`),
its heatmap, its files largest first, the language x type KL table, the English vs multilingual calibration rows
and the recommendation (the card's own, or one at the default floors). A running ladder shows what it has measured.

A run is chosen by its folder relative to the runs dir and found among the tab's scanned entries: no file is
opened by a path the page names."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from core.errors import UnknownLanguageError
from core.languages import get_language
from playground.safe_text import plain
from playground.settings import Settings

KIND = "quant ladder"  # the inventory's kind for a card with "kind": "quant_ladder"
FILE_HEAD = ["type", "MB", "tok/s", "mean KL", "worst language (KL)", "min top-1", "fallback"]
CALIB_HEAD = ["type", "language", "KL @en", "KL @langs", "langs - en [95% CI]", "change"]


def is_ladder(card: dict) -> bool:
    return card.get("kind") == "quant_ladder"


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _largest_first(card: dict, names) -> list[str]:
    files = card.get("files", {})
    return list(reversed(sorted(names, key=lambda n: files[n].get("bytes", 0))))  # as ladder_report's tables


def _lang(code: str) -> str:
    try:
        return f"{code} ({get_language(code).name})"
    except UnknownLanguageError:  # a code this checkout does not know: shown as written
        return str(code)


def measured(card: dict) -> dict:
    """The card with only the types measured in every language (a running ladder fills its cells one by one)."""
    langs, files = card.get("langs", []), card.get("files", {})
    cells = {name: row for name, row in card.get("cells", {}).items()
             if "bytes" in files.get(name, {}) and all(lang in row for lang in langs)}
    return {**card, "cells": cells}


def file_rows(card: dict) -> list[list[str]]:
    """One row per file, largest first: type, MB, tok/s, mean KL, worst language (KL), min top-1, fallback
    ("-" where a running ladder has not measured it yet)."""
    rows = []
    files = card.get("files", {})
    for name in _largest_first(card, [n for n in files if "bytes" in files[n]]):
        f = files[name]
        worst = f.get("worst_language") or {}
        fb = f.get("fallback")
        fell = f"{fb['tensors']}/{fb['of']} tensors -> {', '.join(fb['types'])}" if fb and fb.get("tensors") else ""
        rows.append([name, f"{f['bytes'] / 1e6:.1f}", _num(f.get("tokens_per_s"), ".1f"), _num(f.get("mean_kl"), ".4f"),
                     f"{worst['lang']} ({worst['kl']:.4f})" if worst else "-", _num(f.get("min_top1"), ".3f"), fell])
    return rows


def kl_rows(card: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the language x type KL table (from the reference, which is left out; largest first)."""
    files, cells = card.get("files", {}), card.get("cells", {})
    names = _largest_first(card, [n for n in files if "bytes" in files[n] and n != card.get("reference")])
    rows = [[_lang(lang)] + [_num(cells.get(n, {}).get(lang, {}).get("kl"), ".4f") for n in names]
            for lang in card.get("langs", [])]
    return ["language", *names], rows


def calibration_rows(card: dict) -> list[list[str]]:
    """The card's English vs multilingual importance-matrix comparison (ladder_report.calibration_comparison)."""
    return [[r["type"], r["lang"], f"{r['kl_en']:.4f}", f"{r['kl_langs']:.4f}",
             f"{r['diff']:+.4f} [{r['diff_ci95'][0]:+.4f}, {r['diff_ci95'][1]:+.4f}]",
             "-" if r.get("change_pct") is None else f"{r['change_pct']:+.1f}%"] for r in card.get("calibration") or []]


def recommendation(card: dict) -> str:
    """The card's recommendation as a paragraph; without one, the recommendation at the default floors over the
    types measured in every language (said so, and said to be provisional while the ladder runs)."""
    from quantize.ladder_report import Floors, recommend, recommendation_text

    if card.get("recommendation"):
        return recommendation_text(card["recommendation"])
    done = measured(card)
    if card.get("reference") not in done["cells"]:
        return f"No recommendation yet: the reference ({card.get('reference')}) is not measured in every language."
    text = f"At the default floors: {recommendation_text(recommend(done, Floors()))}"
    listed = list(card.get("variants") or card.get("files", {}))
    if len(done["cells"]) < len(listed) or card.get("status") != "done":
        text += (f" (Among the {len(done['cells'])} of {len(listed)} types measured in every language so far; the "
                 f"ladder's status is {card.get('status', 'unknown')}.)")
    return text


def summary(card: dict) -> str:
    """One line on the run: model, languages, sentences, files, status."""
    langs = card.get("langs", [])
    secs = f", {card['seconds']:.0f} s" if isinstance(card.get("seconds"), (int, float)) else ""
    return (f"{card.get('model', '?')}: {len(langs)} languages ({', '.join(map(str, langs))}), "
            f"{card.get('sentences', '?')} FLORES-200 devtest sentences each, {len(card.get('files', {}))} files, "
            f"reference {card.get('reference', '?')}; status {card.get('status', 'unknown')}{secs}.")


def heatmap_image(card: dict, run_dir: Path, settings: Settings):
    """The run's heatmap.png as an image; drawn (into a temp file) when it is missing or the ladder is still
    running, from the types measured so far; None when nothing besides the reference is measured yet."""
    from PIL import Image

    saved = Path(run_dir) / "heatmap.png"
    if saved.is_file() and card.get("status", "done") == "done":
        with Image.open(saved) as im:
            return im.convert("RGB")
    done = measured(card)
    if not [n for n in done["cells"] if n != card.get("reference")]:
        return None
    from quantize.ladder_report import heatmap

    with tempfile.TemporaryDirectory() as tmp:
        path = heatmap({**done, "model": settings.redact(str(card.get("model", "")))}, Path(tmp) / "heatmap.png")
        with Image.open(path) as im:
            return im.convert("RGB")


def _key(settings: Settings, entry) -> str:
    path = Path(entry.path)
    return str(path.relative_to(settings.runs_dir)) if path.is_relative_to(settings.runs_dir) else path.name


def choices(settings: Settings, entries: list) -> list[tuple[str, str]]:
    """(label, key) per ladder run in the scanned entries; the key is the run's folder under the runs dir."""
    return [(settings.redact(e.name), _key(settings, e)) for e in entries if e.kind == KIND]


def show(settings: Settings, key: str | None, entries: list) -> list:
    """The section's outputs for the ladder `key` names among `entries`: text, image, files, KL table, calibration."""
    entry = next((e for e in entries if e.kind == KIND and _key(settings, e) == key), None)
    if entry is None:
        return ["", None, gr.Dataframe(value=[], headers=FILE_HEAD), gr.Dataframe(value=[], headers=["language"]),
                gr.Dataframe(visible=False)]
    card, red = entry.card, settings.redact
    head, rows = kl_rows(card)
    calib = calibration_rows(card)
    text = plain(red(f"{summary(card)}\n\n{recommendation(card)}"))
    return [text, heatmap_image(card, Path(entry.path), settings),
            gr.Dataframe(value=[[red(c) for c in r] for r in file_rows(card)], headers=FILE_HEAD),
            gr.Dataframe(value=[[red(c) for c in r] for r in rows], headers=[red(h) for h in head]),
            gr.Dataframe(value=[[red(c) for c in r] for r in calib], headers=CALIB_HEAD, visible=bool(calib))]


def ladder_section(settings: Settings) -> tuple[gr.Dropdown, list]:
    """Lay out the section; returns its dropdown and the components `show` fills."""
    gr.Markdown("### Quantization ladders")
    pick = gr.Dropdown([], label="Ladder run", elem_id="mr-ladder", allow_custom_value=False)
    text = gr.Markdown(elem_id="mr-ladder-text")
    image = gr.Image(label="KL and top-1 agreement by language and type", show_label=False, type="pil",
                     interactive=False, buttons=["download", "fullscreen"], elem_id="mr-ladder-heatmap")
    files = gr.Dataframe(headers=FILE_HEAD, interactive=False, wrap=True, label="Files, largest first",
                         elem_id="mr-ladder-files")
    kl = gr.Dataframe(headers=["language"], interactive=False, wrap=True, elem_id="mr-ladder-kl",
                      label="KL from the reference, language x type")
    calib = gr.Dataframe(headers=CALIB_HEAD, interactive=False, wrap=True, visible=False, elem_id="mr-ladder-calib",
                         label="Importance matrix: English (@en) vs the ladder's languages (@langs), KL from f16")
    return pick, [text, image, files, kl, calib]

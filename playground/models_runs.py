"""The Models and runs tab: what is installed, cached, trained, exported and evaluated, with each card, and a
button that loads a model into the Arena."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.models import PACKAGED, polyglot_home
from core.run_dir import CARD
from playground import ladder_view
from playground.engines import open_specs
from playground.settings import Settings
from playground.visitors import view

_DEPTH = 5  # how deep under the runs dir to look for outputs


@dataclass(frozen=True)
class Entry:
    """One thing on disk: its kind, a name, the spec that loads it ("" if none), where it is, its card."""

    kind: str
    name: str
    spec: str
    path: str
    card: dict


def _size(path: Path) -> str:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return f"{sum(p.stat().st_size for p in files) / 1e6:,.0f} MB"


def _walk(root: Path, name: str) -> list[Path]:
    return sorted(p for depth in range(1, _DEPTH + 1) for p in root.glob("/".join(["*"] * depth) + f"/{name}"))


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def inventory(settings: Settings) -> list[Entry]:
    """Every model and run the app can see: packaged models, the conversion cache, and under the runs dir the
    trained adapters, merged models, GGUF exports and evaluation runs."""
    out = [Entry("packaged", name, name, m.package, {"description": m.description, "pip": m.package})
           for name, m in PACKAGED.items()]
    for cached in sorted((polyglot_home() / "hf-from-gguf").glob("*/polyglot.json")):
        card = _read(cached)
        name = next((n for n in PACKAGED if Path(card.get("source", "")).name.lower().startswith(n[:5])), "")
        spec = f"hf:{name}" if name else f"hf:{cached.parent}"
        out.append(Entry("converted (cache)", cached.parent.name, spec, str(cached.parent), card))
    runs = settings.runs_dir
    if not runs.is_dir():
        return out
    for card_path in _walk(runs, "polyglot_card.json"):  # an adapter from `python -m trainer train`
        card = _read(card_path)
        base = str(card.get("base", ""))
        spec = f"{base if base.startswith('hf:') else 'hf:' + base}+adapter={card_path.parent}" if base else ""
        out.append(Entry("adapter", card_path.parent.parent.name, spec, str(card_path.parent), card))
    for card_path in _walk(runs, "merge_card.json"):
        out.append(Entry("merged", card_path.parent.name, f"hf:{card_path.parent}", str(card_path.parent),
                         _read(card_path)))
    for gguf in _walk(runs, "*.gguf"):
        card = _read(gguf.parent / CARD)
        out.append(Entry("gguf", gguf.name, f"gguf:{gguf}", str(gguf), card.get("files", {}).get(gguf.stem, card)))
    for card_path in _walk(runs, CARD):
        card = _read(card_path)
        kind = (ladder_view.KIND if ladder_view.is_ladder(card) else "judge run" if "mode" in card else
                "answers" if "set" in card else "benchmark run" if "tasks" in card else "")
        if kind:
            out.append(Entry(kind, f"{card.get('model') or card.get('a')} ({card_path.parent.name})", "",
                             str(card_path.parent), card))
    return out


def inventory_rows(settings: Settings, entries: list[Entry]) -> list[list[str]]:
    loaded = set(open_specs())
    return [[e.kind, settings.redact(e.name), settings.redact(e.spec), "loaded" if e.spec in loaded else "",
             settings.redact(e.path), _size(Path(e.path)) if Path(e.path).exists() and e.kind != "packaged" else ""]
            for e in entries]


def models_runs_tab(settings: Settings, arena: dict, tabs: gr.Tabs) -> dict:
    """Lay out the tab; `arena` holds the Arena's model pickers and model count, `tabs` the app's tabs."""
    pickers = arena["pickers"]
    head = ["kind", "name", "spec", "open", "path", "size"]
    table = gr.Dataframe(headers=head, interactive=False, wrap=True, elem_id="mr-table")
    with gr.Row():
        chosen = gr.Dropdown([], label="Model", elem_id="mr-model", allow_custom_value=False)
        slot = gr.Radio([1, 2, 3, 4], value=1, label="Arena slot")
        load = gr.Button("Load into the Arena", variant="primary", elem_id="mr-load")
        refresh = gr.Button("Refresh", elem_id="mr-refresh")
    card = gr.JSON(label="Card", elem_id="mr-card")
    ladder, ladder_outputs = ladder_view.ladder_section(settings)
    entries = gr.State([])

    def scan(request: gr.Request):
        mine = view(settings, request)
        found = [e for e in inventory(mine) if not mine.public or e.spec in mine.model_choices or not e.spec]
        specs = [(f"{e.kind}: {e.name}", e.spec) for e in found if e.spec]
        ladders = ladder_view.choices(mine, found)
        return (found, inventory_rows(mine, found), gr.Dropdown(choices=specs, value=specs[0][1] if specs else None),
                gr.Dropdown(choices=ladders, value=ladders[0][1] if ladders else None))

    def show_ladder(key, found, request: gr.Request):
        return ladder_view.show(view(settings, request), key, found)

    def show_card(spec, found, request: gr.Request):
        card = next((e.card for e in found if e.spec == spec), {})
        return json.loads(view(settings, request).redact(json.dumps(card)))  # no server path in a public page

    def to_arena(spec, n, shown):
        if not spec:
            gr.Warning("Choose a model first.")
            return [gr.skip()] * (len(pickers) + 2)
        return [gr.Dropdown(value=spec) if i == int(n) - 1 else gr.skip() for i in range(len(pickers))] + \
            [max(int(n), int(shown), 2), gr.Tabs(selected="arena")]

    refresh.click(scan, None, [entries, table, chosen, ladder], api_visibility="private").then(
        show_ladder, [ladder, entries], ladder_outputs, api_visibility="private")  # a running ladder's news
    ladder.change(show_ladder, [ladder, entries], ladder_outputs, api_visibility="private")
    chosen.change(show_card, [chosen, entries], card, api_visibility="private")
    load.click(to_arena, [chosen, slot, arena["n_models"]], [*pickers, arena["n_models"], tabs],
               api_visibility="private")
    return {"refresh": (scan, [entries, table, chosen, ladder])}

"""SIB-200 (30 languages, test split, 204 items each) for the packaged models: accuracy and macro F1 per
language, written as a run card (`bench/results/sib200.json`) and as the README's table (regenerated from it).

    python bench/sib200.py --models hf:smollm2-135m,hf:gemma3-270m --runs-dir runs/sib200
    python bench/sib200.py --readme        # only regenerate the README table from the card

Runs resume (each model's run dir keeps its scored items). The hf backend is used because it scores the seven
label words of an item on one copy of the shared prompt; the GGUF backend recomputes Gemma's sliding-window
context per label (see docs/architecture.md)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_cards import card_bench_args, measure_and_publish  # noqa: E402


def majority_share(data_dir: Path, lang: str, limit: int | None) -> float:
    """Accuracy of always answering the most frequent topic of the items scored (the same in every language)."""
    from eval.data import load_items
    from eval.tasks import get_task

    items, _ = load_items(get_task("sib200"), lang, data_dir, limit)
    return Counter(item.gold for item in items).most_common(1)[0][1] / len(items)


def _seed(out: Path) -> None:
    """Start a new run dir with the items its model already scored in runs with another --limit (the same
    rows: the first N of the same files), so raising --limit only scores the new items."""
    if out.exists():
        return
    out.mkdir(parents=True)
    from eval.results import append_items, read_items

    seen: set = set()
    for other in sorted(out.parent.glob("limit-*")):
        records = [r for r in read_items(other) if (r["lang"], r["id"]) not in seen]
        seen |= {(r["lang"], r["id"]) for r in records}
        append_items(out, records)


def run(models: list[str], runs_dir: Path, data_dir: Path, limit: int | None) -> dict:
    from eval.bench import run_bench

    results = {}
    for model in models:
        out = runs_dir / model.replace(":", "-").replace("/", "_") / f"limit-{limit or 'all'}"
        _seed(out)
        card = run_bench(model, ["sib200"], out, limit=limit, data_dir=data_dir, batch_items=32)
        results[model] = {"results": card["results"]["sib200"], "engine": card["engine"],
                          "sources": card["sources"], "versions": card["versions"]}
    langs = [k for k in next(iter(results.values()))["results"] if not k.startswith("_")]
    return {"task": "sib200", "split": "test", "limit": limit, "prompt": _prompt(),
            "majority_baseline": round(majority_share(data_dir, "en", limit), 4), "langs": langs, "models": results}


def _prompt() -> str:
    from eval.tasks.sib200 import QUESTION

    return f"{QUESTION} <text>\\nAnswer: <label>"


def table(card: dict) -> str:
    """Markdown: one row per language, accuracy and macro F1 per model, then the means."""
    models = list(card["models"])
    head = "| language | " + " | ".join(f"{m} acc | {m} macro F1" for m in models) + " |"
    lines = [head, "|---" * (1 + 2 * len(models)) + "|"]
    for lang in [*card["langs"], "_mean"]:
        cells = []
        for m in models:
            row = card["models"][m]["results"][lang]
            cells += [f"{row['acc']:.3f}", f"{row['f1_macro']:.3f}"]
        lines.append(f"| {'**mean**' if lang == '_mean' else lang} | " + " | ".join(cells) + " |")
    n = card["models"][models[0]]["results"][card["langs"][0]]["n"]
    scope = f"the first {n} of the {card['split']} split's 204 items per language in FLORES order" \
        if card.get("limit") else f"all {n} {card['split']} items per language"
    lines.append(f"\n{scope}; 7 topics, chance 0.143, always answering the "
                 f"most frequent of these topics {card['majority_baseline']:.3f}. Prompt: `{card['prompt']}`.")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = card_bench_args(__doc__, "runs/sib200")
    ap.add_argument("--limit", type=int, default=None, help="the first N items per language (default: all 204)")
    args = ap.parse_args()
    measure_and_publish(args, "sib200", "sib200",
                        lambda: run(args.models.split(","), args.runs_dir, args.data_dir, args.limit), table)


if __name__ == "__main__":
    main()

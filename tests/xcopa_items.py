"""XCOPA items as log-likelihood requests (lm-eval's prompt: premise, connective, lower-cased choice)."""

from __future__ import annotations

import json
from pathlib import Path

# lm-evaluation-harness's per-language connectives for "cause" and "effect".
CONNECTIVES = {"et": ("sest", "seetõttu"), "ht": ("poukisa", "donk sa"), "id": ("karena", "maka"),
               "it": ("perché", "quindi"), "sw": ("kwa sababu", "kwa hiyo"), "ta": ("காரணமாக", "எனவே"),
               "th": ("เพราะ", "ดังนั้น"), "tr": ("çünkü", "bu yüzden"), "vi": ("bởi vì", "vì vậy"),
               "zh": ("因为", "所以")}


def xcopa_items(data: Path, per_language: int = 10) -> list[tuple[str, str, list[str], int]]:
    """(lang, context, [choice1, choice2], label) for the first test items of 10 XCOPA languages."""
    items = []
    for lang, (cause, effect) in CONNECTIVES.items():
        lines = (data / "xcopa" / "data" / lang / f"test.{lang}.jsonl").read_text(encoding="utf-8").splitlines()
        for line in lines[:per_language]:
            row = json.loads(line)
            ctx = row["premise"].rstrip(".。") + " " + (cause if row["question"] == "cause" else effect)
            choices = [" " + c[0].lower() + c[1:] for c in (row["choice1"], row["choice2"])]
            items.append((lang, ctx, choices, row["label"]))
    return items


def rank(engine, items) -> list[int]:
    """The index of the choice the engine scores higher, per item."""
    scores = engine.loglikelihood([(ctx, c) for _, ctx, choices, _ in items for c in choices])
    return [int(scores[2 * i + 1].logprob > scores[2 * i].logprob) for i in range(len(items))]

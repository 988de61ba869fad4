"""A simulated human study for the leaderboard tests: four models' answers in three languages, and annotators
who vote through the real `VoteStore` (blind, left/right) by known Bradley–Terry strengths, ties included."""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import numpy as np

from eval.human_votes import VoteStore, item_key
from eval.results import append_items, read_items, write_card

# log-strengths, a different order in each language
TRUTH = {"de": {"aya-8b": 0.9, "bloomz-7b": 0.3, "gemma-2b": -0.3, "qwen-7b": -0.9},
         "sw": {"aya-8b": -0.3, "bloomz-7b": -0.9, "gemma-2b": 0.3, "qwen-7b": 0.9},
         "ja": {"aya-8b": 0.3, "bloomz-7b": -0.9, "gemma-2b": -0.3, "qwen-7b": 0.9}}
MODELS = tuple(TRUTH["de"])
LANGS = tuple(TRUTH)


def true_order(lang: str) -> list[str]:
    return sorted(MODELS, key=lambda m: -TRUTH[lang][m])


def true_ratings(lang: str) -> dict[str, float]:
    """The truth on the leaderboard's scale: 1000 + 400*log10(e)*(theta - mean theta)."""
    mean = np.mean(list(TRUTH[lang].values()))
    return {m: 1000 + 400 / math.log(10) * (t - mean) for m, t in TRUTH[lang].items()}


def answer_runs(root: Path, questions: int, models=MODELS, langs=LANGS) -> dict[str, Path]:
    """A `python -m eval generate` run per model (card + items), each answer naming its model (for the test only:
    the annotator sees the text, the store never names the model)."""
    runs = {}
    for m in models:
        run = runs[m] = root / m
        run.mkdir(parents=True)
        write_card(run, {"model": m, "set": "sim", "langs": list(langs)})
        append_items(run, [{"lang": lang, "id": str(q), "category": "writing", "turns": [f"Q{q}?"],
                            "answers": [f"{m} answers {lang}/{q}"]} for lang in langs for q in range(questions)])
    return runs


def choose(rng: np.random.Generator, diff: float) -> str:
    """An annotator's vote on (left, right) with theta_left - theta_right = diff: P(left wins) = p by
    Bradley-Terry; ties (and "both bad") are likelier between close models, drawn so that a tie counted as half a
    win keeps left's expected score at exactly p (the leaderboard's tie rule is then the right model)."""
    p = 1 / (1 + math.exp(-diff))
    q = 0.6 * min(p, 1 - p)
    if rng.random() < q:
        return "tie" if rng.random() < 0.7 else "both_bad"
    return "left" if rng.random() < (p - q / 2) / (1 - q) else "right"


def fill_store(path: Path, runs: dict[str, Path], seed: int, annotators: int) -> list[tuple]:
    """Every pair of models' items in a vote store at `path`, each voted on by every annotator; returns the
    votes cast as (lang, left model, right model, choice)."""
    rng = np.random.default_rng(seed)
    store = VoteStore(path)
    cast = []
    try:
        mine = []
        for a, b in combinations(sorted(runs), 2):
            store.add_pairs(runs[a], runs[b], turns=1)
            mine += [item_key(a, b, "sim", r["lang"], r["id"], 1) for r in read_items(runs[a])]
        # the store may be shared (the app's, after other tests): these annotators vote on this study's items only
        for k in range(annotators):
            for key in sorted(mine):
                item = store.blind_item(f"annotator-{k}", key)
                left, right = (item[s].split(" answers ")[0] for s in ("left", "right"))
                truth = TRUTH[item["lang"]]
                choice = choose(rng, truth[left] - truth[right])
                store.vote(f"annotator-{k}", key, choice)
                cast.append((item["lang"], left, right, choice))
    finally:
        store.close()
    return cast


def canonical(lang: str, x: str, y: str, outcome: str) -> tuple:
    """A battle with its models in name order, the outcome from the first one's side."""
    if x < y:
        return lang, x, y, outcome
    return lang, y, x, {"a": "b", "b": "a"}.get(outcome, outcome)

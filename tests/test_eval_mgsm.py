"""MGSM as lm-eval's mgsm_direct: the prompt words per language, the last number in the output, and exact
match that ignores punctuation."""

from __future__ import annotations

import pytest

from eval.data import load_items
from eval.tasks import get_task
from eval.tasks.base import Item
from eval.tasks.mgsm import last_number, score


@pytest.mark.parametrize("output, number", [
    (" 16 - 3 - 4 = 9 eggs, 9 * $2 = $18", "$18"),  # the last match, with its $ (dropped when compared)
    ("The answer is 1,000.", "1,000."),
    ("-5 degrees", "-5"),
    ("no number here", ""),
    ("3", "3"),
])
def test_last_number(output, number):
    assert last_number(output) == number


def test_score_ignores_punctuation():
    item = Item("1", golds=("1000",))
    assert score("so it costs $1,000.", item, "en") == {"answer": "$1,000.", "em": 1.0}
    assert score("so it costs 100", item, "en")["em"] == 0.0


def test_prompts_as_lm_eval_builds_them(shared_data):
    items, _ = load_items(get_task("mgsm"), "de", shared_data)
    assert len(items) == 250 and items[0].golds == ("18",)
    assert items[0].prompt["raw"].startswith("Frage: Janets Enten legen 16 Eier pro Tag.")
    assert items[0].prompt["raw"].endswith("\nAntwort:")
    assert get_task("mgsm").stop("de")[0] == "Frage:"  # lm-eval's `until`: the question word with its colon
    assert get_task("mgsm").stop("ja")[0] == "問題："
    fr, _ = load_items(get_task("mgsm"), "fr", shared_data, limit=1)
    assert fr[0].prompt["raw"].startswith("Question : ") and fr[0].prompt["raw"].endswith("\nRéponse :")

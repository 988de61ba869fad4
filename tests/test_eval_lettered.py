"""Letter-answered multiple choice (X-CSQA, CrossAlpaca MMLU) and CrossAlpaca BBH: prompts, reading the chosen
letter out of free text, exact-match scoring, the local readers, and the message for data the hub lacks."""

from __future__ import annotations

import json

import pytest

from core.errors import DataError
from eval.data import load_items
from eval.tasks import get_task
from eval.tasks.crossalpaca import bbh_score
from eval.tasks.lettered import extract_letter, letter_scorer


@pytest.mark.parametrize("output, letter", [
    ("B", "B"), (" (C) a river", "C"), ("D. Paris", "D"), ("A", "A"),
    ("A good choice is B.", "B"),  # "A" the article loses to a marked letter
    ("The answer is E", "E"), ("answer: (b)", ""),  # lower case is not an option letter
    ("I think it is the bank", ""), ("F. none", ""),  # F is not one of five options
    ("A good choice is C", "C"), ("E poi la risposta giusta è B", "B"),  # article / conjunction, then the letter
    ("C is right", "C"), ("E", "E")
])
def test_extract_letter(output, letter):
    assert extract_letter(output, 5) == letter


def test_letter_scorer_compares_with_gold():
    from eval.tasks.base import Item

    item = Item("1", golds=("C",))
    assert letter_scorer(4)("C. 42", item, "de") == {"answer": "C", "em": 1.0}
    assert letter_scorer(4)("E", item, "de") == {"answer": "", "em": 0.0}  # four options: E is no answer


def _xcsqa_row(choices):
    return {"id": "q1", "question": {"stem": "Wo liegt Paris?", "choices": choices}, "answerKey": "B"}


def test_xcsqa_reads_release_and_hub_forms(tmp_path):
    listed = [{"label": L, "text": t} for L, t in zip("ABCDE", ["Berlin", "Frankreich", "Rom", "Wien", "Bern"])]
    hub = {"label": list("ABCDE"), "text": ["Berlin", "Frankreich", "Rom", "Wien", "Bern"]}
    (tmp_path / "xcsqa" / "de").mkdir(parents=True)
    (tmp_path / "xcsqa" / "de" / "dev.jsonl").write_text(json.dumps(_xcsqa_row(listed)) + "\n")
    [item], source = load_items(get_task("xcsqa"), "de", tmp_path)
    task = get_task("xcsqa")
    assert item == task.to_item(_xcsqa_row(hub), "de", "q1")
    assert item.golds == ("B",) and item.prompt["raw"] == (
        "Question: Wo liegt Paris?\nA. Berlin\nB. Frankreich\nC. Rom\nD. Wien\nE. Bern\nAnswer:")
    assert item.prompt["chat"][0]["content"].startswith("Answer the multiple-choice question with the letter")
    assert task.hub_of("de") == ("INK-USC/xcsr", "X-CSQA-de", "validation")
    bad = {"label": list("ABCDF"), "text": ["1"] * 5}
    (tmp_path / "xcsqa" / "de" / "dev.jsonl").write_text(json.dumps(_xcsqa_row(bad)) + "\n")
    with pytest.raises(DataError, match=r"dev.jsonl:1: .*labelled \['A', 'B', 'C', 'D', 'F'\]"):
        load_items(task, "de", tmp_path)


def test_crossalpaca_mmlu_samples_every_subject(shared_data):
    items, source = load_items(get_task("crossalpaca_mmlu"), "de", shared_data, limit=114)
    subjects = [i.id.split("/")[0] for i in items]
    assert len(set(subjects)) == 57 and subjects[:2] == ["abstract_algebra", "anatomy"]  # round robin
    assert items[0].golds == ("B",) and items[0].prompt["raw"].endswith("\nC. 2\nD. 6\nAnswer:")
    assert source["path"].endswith("German/MMLU") and len(source["sha256"]) == 64
    assert len(load_items(get_task("crossalpaca_mmlu"), "en", shared_data)[0]) == 9693  # as SOURCE.md counts


def test_crossalpaca_bbh_and_its_exact_match(shared_data):
    items, _ = load_items(get_task("crossalpaca_bbh"), "de", shared_data, limit=27)
    assert len({i.id.split("/")[0] for i in items}) == 27  # one of each task; the header row is not an item
    first = items[0]
    assert first.prompt["raw"] == "Q: nicht (True) und (True) ist\nA:" and first.golds == ("FALSCH",)
    assert bbh_score(" falsch.\nQ: next", first, "de") == {"answer": "falsch.", "em": 1.0}
    assert bbh_score("FALSCH ist es", first, "de")["em"] == 0.0
    assert len(load_items(get_task("crossalpaca_bbh"), "zh", shared_data)[0]) == 6511


def test_a_language_without_a_local_file_falls_back_to_the_hub(tmp_path, shared_data, offline_hub):
    # ../shared/data has MLQA only in Italian: the other languages come from the hub (unreachable here)
    items, source = load_items(get_task("mlqa"), "it", shared_data, limit=2)
    assert len(items) == 2 and source["path"].endswith("mlqa_IT.csv")
    with pytest.raises(DataError, match=r"(?s)facebook/mlqa.*put it at .*test-context-de-question-de.json \(not found"):
        load_items(get_task("mlqa"), "de", shared_data)


def test_tasks_without_a_hub_copy_ask_for_data_dir(tmp_path):
    with pytest.raises(DataError, match="crossalpaca_mmlu is not on the Hugging Face hub: pass --data-dir"):
        load_items(get_task("crossalpaca_mmlu"), "de", None)
    with pytest.raises(DataError, match=r"MMLU/\*.csv.gz not found"):
        load_items(get_task("crossalpaca_mmlu"), "de", tmp_path)

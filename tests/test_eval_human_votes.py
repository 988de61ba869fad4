"""The blind human-vote store: items from two answer runs, sides that are random per annotator but stable
across reloads, votes stored from model A's side, and agreement statistics on hand-made votes."""

from __future__ import annotations

import sqlite3

import pytest

from core.errors import ConfigError
from eval.human_votes import VoteStore, human_agreement, human_judge_agreement, item_key
from eval.results import append_items, write_card

ITEM1, ITEM2 = (item_key("model-a", "model-b", "mt_bench_x", "de", "1", turn) for turn in (1, 2))


def _run(path, model, answers):
    path.mkdir()
    write_card(path, {"model": model, "set": "mt_bench_x", "langs": ["de"]})
    append_items(path, [{"lang": "de", "id": qid, "category": cat, "turns": ["F1?", "F2?"], "answers": ans}
                        for qid, cat, ans in answers])


@pytest.fixture()
def store(tmp_path):
    _run(tmp_path / "a", "model-a", [("1", "writing", ["A1", "A2"]), ("2", "math", ["A1b", "A2b"])])
    _run(tmp_path / "b", "model-b", [("1", "writing", ["B1", "B2"]), ("2", "math", ["B1b", "B2b"]),
                                     ("3", "math", ["only b", "x"])])
    s = VoteStore(tmp_path / "votes.sqlite")
    assert s.add_pairs(tmp_path / "a", tmp_path / "b") == 4  # 2 shared questions x 2 turns
    assert s.add_pairs(tmp_path / "a", tmp_path / "b") == 0  # importing again adds nothing
    yield s
    s.close()


def test_blind_items_and_votes_from_a_side(store, tmp_path):
    first = store.next_item("ana")
    assert first["item"] == ITEM1 and set(first) >= {"questions", "left", "right"}
    assert "model" not in str(first)  # blind: no model names
    assert {first["left"], first["right"]} == {"A1", "B1"}
    left_is = "a" if first["left"] == "A1" else "b"
    assert store.vote("ana", first["item"], "left") == left_is  # stored as the model that was on the left
    assert store.next_item("ana")["item"] == ITEM2  # voted items are not offered again
    sides = {store.next_item(name)["left"] for name in ("ben", "cleo", "dan", "eva", "fritz", "gus")}
    assert sides == {"A1", "B1"}  # the side is random across annotators...
    reopened = VoteStore(tmp_path / "votes.sqlite")
    assert reopened.next_item("ben") == store.next_item("ben")  # ...and the same after a reload
    assert reopened.votes() == {ITEM1: {"ana": left_is}}  # committed at once
    assert sqlite3.connect(tmp_path / "votes.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ConfigError, match="one of left, right, tie, both_bad"):
        store.vote("ana", first["item"], "A")
    with pytest.raises(ConfigError, match="No item"):
        store.vote("ana", "nope", "tie")


def test_agreement_statistics_by_hand():
    votes = {"i1": {"x": "a", "y": "a", "z": "a"}, "i2": {"x": "b", "y": "b", "z": "tie"},
             "i3": {"x": "tie", "y": "a", "z": "b"}, "i4": {"x": "a"}}
    h = human_agreement(votes)
    assert h["pairs"] == 9 and h["agreement"] == round(4 / 9, 4) and h["fleiss_items"] == 3
    assert -1 <= h["fleiss_kappa"] < 1
    judge = {"i1": "a", "i2": "tie", "i3": "a", "i4": "b"}
    cats = {"i1": "writing", "i2": "writing", "i3": "math", "i4": "math"}
    out = human_judge_agreement(votes, judge, cats)
    # i1: majority a = judge a; i2: majority b, judge tie; i3: no strict majority (left out); i4: a vs b
    assert out["all"]["n"] == 3 and out["all"]["agreement"] == round(1 / 3, 4)
    assert out["writing"] == {"n": 2, "agreement": 0.5, "n_without_ties": 1, "agreement_without_ties": 1.0}
    assert out["math"]["agreement"] == 0.0


def test_cli_prints_the_agreement(store, capsys):
    from eval.__main__ import main

    for name, choice in (("ana", "tie"), ("ben", "tie"), ("cleo", "both_bad")):
        store.vote(name, ITEM1, choice)
    assert main(["human-agreement", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 votes on 1 items; annotator pairs 3, agreement 0.3333")
    assert main(["human-agreement", str(store.path.with_name("missing.sqlite"))]) == 2


def test_judge_outcomes_match_either_order_of_the_pair(tmp_path):
    from eval.human_votes import judge_outcomes

    run = tmp_path / "judge"
    run.mkdir()
    write_card(run, {"mode": "pairwise", "set": "mt_bench_x", "a": "model-a", "b": "model-b"})
    append_items(run, [{"lang": "de", "id": "1", "turn": 1, "side": "ab", "value": "A"},
                       {"lang": "de", "id": "1", "turn": 1, "side": "ba", "value": "B"}])  # model-a wins both
    out = judge_outcomes(run)
    assert out[item_key("model-a", "model-b", "mt_bench_x", "de", "1", 1)] == "a"
    assert out[item_key("model-b", "model-a", "mt_bench_x", "de", "1", 1)] == "b"  # a store that has B as "a"

"""Per-language leaderboards (`python -m eval leaderboard`): simulated annotators vote through the real VoteStore by
known Bradley–Terry strengths (ties included), and the fit recovers their order with bootstrap intervals that cover
the truth; judge runs in their on-disk format, combined by FastChat's rule, and the human-judge rank correlation;
bad input; the Human eval tab's Leaderboard view."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from core.errors import ConfigError
from eval.battles import read_votes
from eval.human_votes import VoteStore
from eval.leaderboard import build_card
from eval.results import append_items, write_card
from tests.leaderboard_votes import (
    LANGS,
    MODELS,
    answer_runs,
    canonical,
    fill_store,
    true_order,
    true_ratings,
)

QUESTIONS, ANNOTATORS = 10, 5  # 6 pairs x 10 questions x 5 annotators = 300 battles per language
SEEDS = 30


@pytest.fixture()
def ram_dir(tmp_path):
    """A temp dir in RAM where there is one: the store commits (and syncs) each vote, which on this disk makes
    thirty simulated studies take a minute instead of seconds."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm) as d:
        yield Path(d)


@pytest.fixture()
def study(ram_dir):
    """Seed 0's vote store and the votes cast into it."""
    runs = answer_runs(ram_dir / "answers", QUESTIONS)
    path = ram_dir / "votes.sqlite"
    return path, fill_store(path, runs, 0, ANNOTATORS), runs


def test_the_store_read_back_is_the_votes_cast(study):
    path, cast, _ = study
    assert Counter(canonical(*b) for b in read_votes(path)) == Counter(
        canonical(lang, left, right, {"left": "a", "right": "b"}.get(c, c)) for lang, left, right, c in cast)
    assert {c for *_, c in cast} == {"left", "right", "tie", "both_bad"}


def test_votes_recover_the_true_order_with_intervals_that_cover_the_truth(study, ram_dir):
    path, _, runs = study
    card = build_card([path], n_bootstrap=500, seed=0)
    human = card["sources"]["human"]
    assert set(human) == {*LANGS, "all"} and human["all"]["battles"] == 3 * 300
    for lang in LANGS:
        cell = human[lang]
        assert [m["model"] for m in cell["models"]] == true_order(lang), (lang, cell["models"])
        assert cell["battles"] == 300 and all(m["battles"] == 150 for m in cell["models"])
        assert len(cell["pairs"]) == 6 and all(p["battles"] == 50 for p in cell["pairs"])
        assert sum(p["tie"] + p["both_bad"] for p in cell["pairs"]) > 0
        assert abs(sum(m["rating"] for m in cell["models"]) / 4 - 1000) < 0.1  # anchored: mean 1000
    # over many simulated studies, each 95% interval covers the (anchored) true rating about 95% of the time
    covered = total = ordered = 0
    for seed in range(SEEDS):
        store = path if seed == 0 else ram_dir / f"votes-{seed}.sqlite"
        if seed:
            fill_store(store, runs, seed, ANNOTATORS)
        board = build_card([store], n_bootstrap=500, seed=seed)["sources"]["human"]
        for lang in LANGS:
            truth = true_ratings(lang)
            ordered += [m["model"] for m in board[lang]["models"]] == true_order(lang)
            for m in board[lang]["models"]:
                total += 1
                covered += m["ci95"][0] <= truth[m["model"]] <= m["ci95"][1]
    print(f"coverage {covered}/{total} = {covered / total:.3f}; order recovered in {ordered}/{SEEDS * len(LANGS)}")
    assert covered / total >= 0.90, (covered, total)
    assert ordered / (SEEDS * len(LANGS)) >= 0.95, ordered


def test_cli_writes_the_same_bytes_for_the_same_seed(study, tmp_path, capsys):
    from eval.__main__ import main

    path = study[0]
    for out in ("one", "two"):
        assert main(["leaderboard", str(path), "--out", str(tmp_path / out), "--bootstrap", "200"]) == 0
    printed = capsys.readouterr().out
    assert "| rank | model | rating | 95% CI | battles |" in printed and "de (German), 300 battles" in printed
    for name in ("card.json", "leaderboard.md", "leaderboard.png"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert (tmp_path / "one" / "leaderboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "one").glob("*.tmp"))
    assert main(["leaderboard", str(path), "--out", str(tmp_path / "three"), "--bootstrap", "200",
                 "--seed", "1"]) == 0
    assert (tmp_path / "three" / "card.json").read_bytes() != (tmp_path / "one" / "card.json").read_bytes()
    assert build_card([path, path.parent / "." / path.name], n_bootstrap=0)["sources"]["human"]["all"]["battles"] \
        == 900  # one store named twice is read once


def _judge_run(root: Path, a: str, b: str, favourite: dict[str, str]) -> Path:
    """A pairwise judge run as `python -m eval judge --out DIR` leaves it (DIR/judgments/card.json + items.jsonl):
    per language, of 7 questions the favourite wins 4 in both orders, 1 flips with the order (a tie by FastChat's
    rule) and 2 are [[D]] in both; one more question has an unparseable reply and one was judged in one order."""
    run = root / f"{a}-vs-{b}" / "judgments"
    write_card(run, {"mode": "pairwise", "judge": "gpt-4o@https://api.openai.com/v1", "a": a, "b": b, "set": "sim",
                     "turns": 1, "status": "done", "langs": list(LANGS)})
    records = []

    def judged(lang, qid, ab, ba):
        for side, value in (("ab", ab), ("ba", ba)):
            if value != "-":
                records.append({"mode": "pairwise", "lang": lang, "id": str(qid), "category": "writing", "turn": 1,
                                "side": side, "value": value, "problem": "" if value else "no verdict",
                                "lengths": [10, 12], "forced": False})

    for lang in LANGS:
        a_wins = favourite[lang] == a
        for qid in range(4):  # "A" means the answer shown first won: model a in "ab", model b in "ba"
            judged(lang, qid, "A" if a_wins else "B", "B" if a_wins else "A")
        judged(lang, 4, "A", "A")  # the first shown wins in both orders: position bias, a tie
        judged(lang, 5, "D", "D")
        judged(lang, 6, "D", "D")
        judged(lang, 7, None, "A")  # unparseable in one order: no battle
        judged(lang, 8, "A", "-")  # judged in one order only: no battle
    append_items(run, records)
    return run.parent


def test_judge_runs_and_the_human_judge_rank_correlation(study, tmp_path):
    # the judge agrees with the humans' order in de and sw, and swaps the middle two models in ja
    judge_order = {lang: true_order(lang) for lang in LANGS}
    ja = judge_order["ja"]
    ja[1], ja[2] = ja[2], ja[1]
    # every other run has the pair the other way round (B judged as "a"): the tallies must not care
    pairs = [(a, b) if k % 2 else (b, a) for k, (a, b) in enumerate(combinations(MODELS, 2))]
    runs = [_judge_run(tmp_path / "judge", a, b, {lang: min(a, b, key=judge_order[lang].index) for lang in LANGS})
            for a, b in pairs]
    card = build_card([study[0], *runs], n_bootstrap=200, seed=0)
    judge = card["sources"]["judge"]
    for lang in LANGS:
        assert [m["model"] for m in judge[lang]["models"]] == judge_order[lang]
        for pair in judge[lang]["pairs"]:  # 4 wins, a flip counted as a tie, [[D]] as both bad; 2 left out
            fav_wins = max(pair["a_wins"], pair["b_wins"])
            assert (pair["battles"], fav_wins, pair["tie"], pair["both_bad"]) == (7, 4, 1, 2), pair
    assert [i["source"] for i in card["inputs"]] == ["human"] + ["judge"] * 6
    corr = card["correlation"]
    assert set(corr) == {*LANGS, "all"}
    assert corr["de"]["spearman"] == corr["sw"]["spearman"] == 1.0 and corr["de"]["kendall"] == 1.0
    assert corr["ja"]["spearman"] == 0.8 and corr["ja"]["kendall"] == pytest.approx(4 / 6, abs=1e-4)
    assert corr["ja"]["n_models"] == 4


def test_bad_input_is_a_clear_error(tmp_path):
    from eval.__main__ import main

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    fake = tmp_path / "fake.sqlite"
    fake.write_text("not a database")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    VoteStore(tmp_path / "empty.sqlite").close()
    single = tmp_path / "single"
    write_card(single, {"mode": "single", "a": "aya-8b", "b": None, "set": "sim"})
    cases = [(tmp_path / "missing.sqlite", "not found; pass a vote store"),
             (text, "is a file but not a vote store"),
             (fake, "is not a vote store of the Human eval tab"),
             (other, "is not a vote store of the Human eval tab"),
             (tmp_path / "empty.sqlite", "holds no votes yet"),
             (tmp_path, "is not a judge run"),
             (single, "rates each answer alone")]
    before = other.read_bytes()
    for path, message in cases:
        with pytest.raises(ConfigError, match=message):
            build_card([path], n_bootstrap=10)
    assert other.read_bytes() == before  # read only: no store tables written into someone else's database
    assert main(["leaderboard", str(fake), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out" / "card.json").exists()


def test_the_app_view_shows_the_table_and_the_plot(study, ram_dir):
    from playground.leaderboard_view import show

    html, image = show(study[0], [])
    for lang in LANGS:
        table = html.split(f'data-lang="{lang}"')[1].split("</table>")[0]
        assert [table.index(m) for m in true_order(lang)] == sorted(table.index(m) for m in MODELS), (lang, table)
    assert 'data-lang="all"' in html and "half a win" in html
    assert image is not None and image.size[0] > 400 and image.size[1] > 200
    # model names come from run cards anyone may write: escaped in the table, plain text in the plot
    runs = answer_runs(ram_dir / "odd", 1, models=("<img src=x onerror=alert(1)>", "$\\frac{a}{b", "plain"),
                       langs=("de",))
    odd = ram_dir / "odd.sqlite"
    fill_store_any(odd, runs)
    html, image = show(odd, [])
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html and image is not None
    # no votes yet: said so, no plot
    VoteStore(ram_dir / "none.sqlite").close()
    html, image = show(ram_dir / "none.sqlite", [])
    assert "No votes or pairwise judge verdicts yet" in html and "holds no votes yet" in html and image is None


def fill_store_any(path: Path, runs: dict[str, Path]) -> None:
    """One "left" vote on every item of every pair (models outside the simulated study's truth)."""
    store = VoteStore(path)
    try:
        for a, b in combinations(sorted(runs), 2):
            store.add_pairs(runs[a], runs[b], turns=1)
        while (item := store.next_item("ana")) is not None:
            store.vote("ana", item["item"], "left")
    finally:
        store.close()



def test_models_with_no_chain_of_battles_to_the_others_are_listed_apart_not_ranked():
    """Seen in the app: two served models that had met only each other (1 battle) were ranked 2nd and 6th among
    four models they never played, their ratings resting on the prior alone."""
    import numpy as np

    from eval.battles import Battle
    from eval.bradley_terry import rate
    from eval.leaderboard import card_from_battles, markdown
    from playground.leaderboard_view import tables_html

    main = [Battle("de", a, b, outcome) for a, b in combinations("ABCD", 2)
            for outcome in ["a"] * (3 + "ABCD".index(b)) + ["b", "tie"]]
    apart = [Battle("de", "X", "Y", "a"), Battle("de", "Y", "<b>Z</b>", "tie")]
    cell = rate(main + apart, 200, np.random.default_rng(0))
    alone = rate(main, 200, np.random.default_rng(0))
    assert cell["models"] == alone["models"] and cell["battles"] == len(main) + 2  # the same fit, same draws
    assert [m["model"] for m in cell["models"]] == ["A", "B", "C", "D"]
    assert cell["unconnected"] == [{"model": "<b>Z</b>", "battles": 1, "played": ["Y"]},
                                   {"model": "X", "battles": 1, "played": ["Y"]},
                                   {"model": "Y", "battles": 2, "played": ["<b>Z</b>", "X"]}]
    card = card_from_battles({"human": main + apart}, [], 50)
    assert "Not ranked (no chain of battles to the ranked models, so no common scale): <b>Z</b> (battles: 1, vs Y); " \
        "X (battles: 1, vs Y); Y (battles: 2, vs <b>Z</b>, X)" in markdown(card)
    html = tables_html(card)
    assert 'class="unconnected"' in html and "&lt;b&gt;Z&lt;/b&gt; (battles: 1, vs Y)" in html and "<b>Z" not in html
    assert rate(main, 0, np.random.default_rng(0))["unconnected"] == []

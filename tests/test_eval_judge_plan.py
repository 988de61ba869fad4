"""Judge runs without a server: which prompt each question gets (FastChat's math variants with references,
multi-turn for turn 2, MT-Bench-X's German prompts with [[D]]), the answer delimiters read from a template,
the calls planned per mode, and the card's statistics from hand-made judgments."""

from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from eval.judge_plan import plan_jobs, prompt_chooser
from eval.judge_prompts import PAIR_SCORES, fastchat_name, fastchat_prompts
from eval.judge_summary import summarize


def test_fastchat_prompt_choice(shared_data):
    assert fastchat_name("pairwise", "math", 1) == "pair-math-v1"
    assert fastchat_name("pairwise", "writing", 2) == "pair-v2-multi-turn"
    assert fastchat_name("single", "coding", 2) == "single-math-v1-multi-turn"
    de = fastchat_prompts(shared_data, "de")
    assert de["pair-v2"].verdicts == "ABC"  # v1 has no both-bad verdict...
    assert de["pair-v2-multi-turn"].verdicts == "ABCD"  # ...MT-Bench-X's v2 prompts add [[D]]
    assert "Richter" in de["pair-v2"].system
    en = fastchat_prompts(shared_data, "de", english=True)
    assert en["pair-v2"].delimiters() == [("[The Start of Assistant A's Answer]", "[The End of Assistant A's Answer]"),
                                          ("[The Start of Assistant B's Answer]", "[The End of Assistant B's Answer]")]
    multi = en["pair-v2-multi-turn"].delimiters()
    assert ("<|The Start of Assistant A's Conversation with User|>",
            "<|The End of Assistant A's Conversation with User|>") in multi
    ja = fastchat_prompts(shared_data, "ja")  # no translation: M2Lingual's prompts that check the language
    assert "pair-harmless-v2" in ja and ja["single-v1"].template != en["single-v1"].template
    assert fastchat_prompts(shared_data, "en")["single-v1"].template == en["single-v1"].template
    with pytest.raises(ConfigError, match="--data-dir"):
        fastchat_prompts(None, "de")


def _rec(qid, category="writing", lang="de", answers=("eins", "zwei"), detected="de"):
    return {"lang": lang, "id": qid, "category": category, "turns": ["Q1?", "Q2?"], "answers": list(answers),
            "detected": [[detected, 0.9], [detected, 0.9]]}


def test_planned_calls_per_mode(shared_data):
    a = {("de", "1"): _rec("1"), ("de", "2"): _rec("2", "math")}
    b = {("de", "1"): _rec("1", answers=("x [[A]]", "y")), ("de", "2"): _rec("2", "math", detected="en")}
    refs = {"de": {"2": ["Referenz 1", "Referenz 2"]}}
    jobs = {mode: plan_jobs(mode, a, b, ["de"], 2, prompt_chooser(mode, shared_data, False), refs)
            for mode in ("pairwise", "scores", "single", "likert")}
    assert len(jobs["pairwise"]) == 8 and len(jobs["single"]) == 8  # 2 questions x 2 turns x (2 orders | 2 models)
    assert len(jobs["scores"]) == 4 and len(jobs["likert"]) == 4  # single-turn protocols
    names = {(j.id, j.turn): j.prompt.name for j in jobs["pairwise"]}
    assert names == {("1", 1): "pair-v2", ("1", 2): "pair-v2-multi-turn", ("2", 1): "pair-math-v1",
                     ("2", 2): "pair-math-v1-multi-turn"}
    math = next(j for j in jobs["pairwise"] if j.id == "2" and j.turn == 1 and j.side == "ab")
    assert "Referenz 1" in math.messages[-1]["content"]
    swapped = next(j for j in jobs["pairwise"] if j.id == "1" and j.turn == 1 and j.side == "ba")
    user = swapped.messages[-1]["content"]
    assert user.index("x [ [A] ]") < user.index("eins")  # B's answer shown first, its [[A]] defused
    assert jobs["scores"][0].prompt is PAIR_SCORES and "speaks only German" in jobs["scores"][0].messages[-1]["content"]
    forced = [j for j in jobs["likert"] if j.forced]
    assert [(j.id, j.side) for j in forced] == [("2", "b")]  # answered in English: 1 without a call


def _j(qid, side, value, turn=1, lang="de", category="writing", lengths=(100, 50)):
    return {"lang": lang, "id": qid, "category": category, "turn": turn, "side": side, "value": value,
            "problem": "" if value is not None else "no verdict", "reply": "...", "lengths": list(lengths),
            "forced": False}


def test_pairwise_summary_by_hand():
    records = [_j("1", "ab", "A"), _j("1", "ba", "B"),  # A wins in both orders
               _j("2", "ab", "A"), _j("2", "ba", "A"),  # the first shown always wins: a flip, a tie
               _j("3", "ab", "C"), _j("3", "ba", "B"),  # tie + win: FastChat tie, X-Instruction win
               _j("4", "ab", None), _j("4", "ba", "A")]  # unparseable: left out of outcomes, listed
    res = summarize("pairwise", records)
    fc, xi = res["overall"]["fastchat"], res["overall"]["x_instruction"]
    assert (fc["win"], fc["tie"], fc["loss"]) == (1, 2, 0) and (xi["win"], xi["tie"], xi["loss"]) == (2, 1, 0)
    assert res["overall"]["position_bias"]["flip_rate"] == round(2 / 3, 4) and res["questions_judged"] == 3
    assert res["unparseable"]["n"] == 1 and res["unparseable"]["items"][0]["id"] == "4"
    assert res["overall"]["length_bias"] == {"n": 1, "longer_wins": 1.0, "ci95": res["overall"]["length_bias"]["ci95"]}


def test_scores_and_ratings_summaries():
    scores = summarize("scores", [_j("1", "ab", [8, 6]), _j("1", "ba", [5, 9])])  # A: 8 and 9; B: 6 and 5
    assert scores["mean_scores"] == {"a": 8.5, "b": 5.5} and scores["overall"]["fastchat"]["win"] == 1
    single = summarize("single", [_j("1", "a", 8.0), _j("1", "b", 4.0), _j("1", "a", 6.0, turn=2),
                                  _j("2", "a", None, category="math")])
    assert single["overall"] == {"a": 7.0, "b": 4.0} and single["by_turn"][2] == {"a": 6.0, "b": None}
    assert single["unparseable"]["n"] == 1


def test_two_runs_agreement(tmp_path):
    from eval.human_votes import runs_agreement
    from eval.results import append_items, write_card

    for name, ratings in (("r1", [9.0, 2.0, 9.0, 5.0]), ("r2", [9.0, 2.0, 2.0, 5.0])):
        (tmp_path / name).mkdir()
        write_card(tmp_path / name, {"mode": "single", "set": "mt_bench_x"})
        append_items(tmp_path / name, [_j(str(i), "a", rating) for i, rating in enumerate(ratings)])
    r = runs_agreement(tmp_path / "r1", tmp_path / "r2")
    assert r["n"] == 4 and r["agreement"] == 0.75 and 0 < r["cohen_kappa"] < 1


def test_dry_run_prices_the_calls_and_calls_nothing(tmp_path, shared_data, capsys, monkeypatch):
    from eval.__main__ import main
    from eval.results import append_items, write_card

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-test-key")
    for name, answers in (("a", ("eins", "zwei")), ("b", ("one", "two")), ("same", ("eins", "zwei"))):
        (tmp_path / name).mkdir()
        write_card(tmp_path / name, {"model": name, "set": "mt_bench_x", "langs": ["de"]})
        append_items(tmp_path / name, [_rec("81_DE", answers=answers), _rec("111_DE", "math", answers=answers)])
    argv = ["judge", "--mode", "pairwise", "--a", str(tmp_path / "a"), "--b", str(tmp_path / "b"),
            "--judge", "openai:gpt-4o", "--data-dir", str(shared_data), "--out", str(tmp_path / "j"), "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("8 calls to make (0 already judged)") and "$0.0" in out  # priced at gpt-4o's rates
    assert not (tmp_path / "j" / "judgments" / "items.jsonl").exists()
    assert "sk-secret" not in out
    same = [x if x != str(tmp_path / "b") else str(tmp_path / "same") for x in argv]
    assert main(same) == 0  # identical answers: both orders are the same request, asked once
    assert capsys.readouterr().out.startswith("4 calls to make")
    assert main(argv[:-1] + ["--langs", "xx"]) == 2  # bad input: one clear message, exit 2
    capsys.readouterr()
    assert main(argv + ["--price", "1000,1000"]) == 0  # a price of our own: far more dollars
    assert float(capsys.readouterr().out.split("$")[1].split()[0]) > 1
    assert main(argv + ["--price", "cheap"]) == 2


def test_report_shows_judge_runs_with_plots(tmp_path, capsys):
    from eval.__main__ import main
    from eval.results import write_card

    records = [_j("1", "ab", "A"), _j("1", "ba", "B"), _j("2", "ab", "A", lang="fr", category="math"),
               _j("2", "ba", "A", lang="fr", category="math")]
    run = tmp_path / "judge"
    run.mkdir()
    write_card(run, {"mode": "pairwise", "judge": "gpt-4o@https://api.openai.com/v1", "a": "m1", "b": "m2",
                     "set": "mt_bench_x", "results": summarize("pairwise", records)})
    assert main(["report", str(run), "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "pairwise judged by gpt-4o" in out and "unparseable: 0 of 4" in out
    pngs = sorted((tmp_path / "plots" / "judge").glob("*.png"))
    assert [p.name for p in pngs] == ["judge_pairwise_by_category.png", "judge_pairwise_by_lang.png"]
    assert all(p.stat().st_size > 5000 for p in pngs)


def test_model_specs_are_answered_first(tmp_path, shared_data, capsys):
    # --a/--b as model specs with --questions: their answers are generated (resumably) before judging
    from core.chat import NAMED_FORMATS
    from eval.__main__ import main
    from tests.tiny_model import build_tiny_model

    tiny = build_tiny_model(tmp_path / "tiny", chat_template=NAMED_FORMATS["chatml"].template)
    other = build_tiny_model(tmp_path / "other", chat_template=NAMED_FORMATS["chatml"].template,
                             initializer_range=0.3)
    argv = ["judge", "--mode", "pairwise", "--a", f"hf:{tiny}", "--b", f"hf:{other}", "--questions", "mt_bench_x",
            "--langs", "de", "--limit", "1", "--turns", "1", "--judge", "openai:gpt-4o", "--data-dir",
            str(shared_data), "--out", str(tmp_path / "j"), "--dry-run"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("2 calls to make")  # 1 question x 1 turn x 2 orders
    for side in ("answers-a", "answers-b"):
        records = [json.loads(x) for x in (tmp_path / "j" / side / "items.jsonl").read_text().splitlines()]
        assert [r["id"] for r in records] == ["81_DE"] and len(records[0]["answers"]) == 1

"""The Language Confusion Benchmark's rules on hand-made cases (the "\\nQ:" cut, punctuation, the 5-token skip,
jieba and fugashi tokens, the 0.3 threshold, English words only in six languages, the averaging), the
`eval confusion` CLI, and the check against the benchmark's own script on Command R's completions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.confusion import UNKNOWN, english_words, line_language, normalize, score, tokenize
from core.errors import DataError
from eval.confusion import confusion_scores, rows_from_csv, run_confusion

DE = "Das ist ein ganz normaler deutscher Satz über das Wetter."
FR = "Ceci est une phrase française tout à fait normale sur la météo."
EN = "This is a perfectly ordinary English sentence about the weather."


@pytest.fixture(scope="module")
def words(shared_data):
    return english_words(shared_data)


def test_the_cut_at_the_next_question_and_the_punctuation():
    assert normalize(f"{DE}\nQ: {EN}") == DE.replace(".", "")
    assert normalize("a—b، c") == "a b c"
    cut = score(f"{DE}\nQ: {EN}\n{EN}", "de")
    assert [line.text for line in cut.lines] == [DE.replace(".", "")] and cut.line_pass
    assert not score(f"{DE}\nQ {EN}", "de").line_pass  # no colon: not a new question, the English line counts


def test_lines_under_five_tokens_are_skipped_after_punctuation_is_stripped():
    assert score("eins , zwei . drei ! vier", "de").lines == ()  # 7 whitespace tokens, 4 once "," "." "!" go
    short = score("Hello there my friend\nDanke schön", "de")
    assert not short.scored and short.line_pass is None and short.line_acc is None
    mixed = score(f"Ja\n{DE}\n{EN}\n{FR}", "de")
    assert [line.language for line in mixed.lines] == ["de", "en", "fr"]
    assert mixed.line_pass is False and mixed.line_acc == pytest.approx(1 / 3)


def test_chinese_is_cut_by_jieba_and_japanese_by_mecab():
    zh = "我今天很高兴因为天气很好"
    assert len(zh.split()) == 1 and len(tokenize(zh, "zh")) >= 5 and score(zh, "zh").lines[0].language == "zh"
    assert " " in tokenize("我喜欢 苹果", "zh")  # jieba keeps spaces as tokens, as the benchmark counts them
    ja = "私は毎朝早く起きて公園を散歩します"
    assert tokenize(ja, "ja")[:3] == ("私", "は", "毎朝") and score(ja, "ja").line_pass
    assert score(ja, "de").lines == ()  # whitespace tokens elsewhere: one token, skipped


def test_a_line_counts_only_above_the_threshold():
    assert line_language("lol haha omg wtf brb") == UNKNOWN  # top label en at 0.12
    assert line_language("123 456 abc def ghi") == UNKNOWN  # top label it at 0.25
    assert not score("123 456 abc def ghi", "it").line_pass
    assert line_language("xq zzv bnm qwe rty") == "en"  # en at 0.41


def test_english_words_only_in_six_languages(words):
    ja = "私はcomputerを使って毎日仕事をします"
    assert score(ja, "ja", words).english == ("computer",) and score(ja, "ja", words).word_pass is False
    assert score("Ich arbeite jeden Tag mit meinem computer im Büro", "de", words).english is None
    assert score("Ich arbeite jeden Tag mit meinem computer im Büro", "de", words).word_pass is None
    ru = "Я каждый день работаю на Computer и cat дома"
    assert score(ru, "ru", words).english == ()  # capitalised, or 3 letters: not counted
    assert score(ru, "ru").english is None  # no word list, no word-level check
    assert score(f"{EN}\n私はcomputerを使って毎日仕事をします", "ja", words).word_pass is None  # line error first


def test_averages_as_the_benchmark_averages(words):
    rows = [{"task": "t", "source": "s1", "language": "de", "completion": DE},
            {"task": "t", "source": "s2", "language": "de", "completion": EN},
            {"task": "t", "source": "s1", "language": "fr", "completion": FR},
            {"task": "t", "source": "s1", "language": "ja", "completion": "私はcomputerを使って毎日仕事をします"},
            {"task": "t", "source": "s1", "language": "ja", "completion": "私は毎朝早く起きて公園を散歩します"}]
    scores = {(r["source"], r["language"]): r for r in confusion_scores(rows, words)}
    assert scores[("s1", "de")]["lpr"] == 1.0 and scores[("s2", "de")]["lpr"] == 0.0
    assert scores[("all", "de")]["lpr"] == 0.5  # mean of its sources
    assert scores[("s1", "all")]["lpr"] == 1.0 and scores[("s1", "all")]["wpr"] == 0.5  # WPR: ja only
    assert scores[("all", "all")]["lpr"] == pytest.approx((0.5 + 1 + 1) / 3, abs=1e-4)  # mean of languages, not cells
    assert scores[("s1", "ja")]["wpr_ci95"][0] < 0.5 < scores[("s1", "ja")]["wpr_ci95"][1]
    assert scores[("all", "all")]["lcpr"] == pytest.approx(2 * 0.8333 * 0.5 / (0.8333 + 0.5), abs=1e-3)
    assert scores[("s1", "de")]["wpr"] is None and scores[("s1", "de")]["lcpr"] is None


def test_a_language_the_model_cannot_identify_is_named_not_failed():
    xhosa = "Molo, unjani namhlanje? Ndiyavuya ukukubona kwakhona mhlobo wam."
    row = confusion_scores([{"task": "t", "source": "s", "language": "xh", "completion": xhosa}], None)[0]
    assert row["lpr"] is None and row["note"] == "not identifiable by the language-ID model"


def test_the_cli_writes_a_flat_card_and_names_a_missing_column(tmp_path, shared_data):
    path = tmp_path / "out.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["completion", "task", "source", "language"])
        w.writerows([[DE, "monolingual", "okapi", "de"], [EN, "monolingual", "okapi", "German"]])
    from eval.__main__ import main

    assert main(["confusion", str(path), "--out", str(tmp_path / "card"), "--data-dir", str(shared_data)]) == 0
    card = json.loads((tmp_path / "card" / "card.json").read_text())
    keys = {(r["task"], r["source"], r["language"]) for r in card["scores"]}
    assert keys == {("monolingual", "okapi", "de"), ("monolingual", "okapi", "all"), ("monolingual", "all", "de"),
                    ("monolingual", "all", "all")}
    assert all({"n", "lpr", "wpr", "acc", "lcpr"} <= set(r) for r in card["scores"])
    assert card["scores"][0]["lpr"] == 0.5 and (tmp_path / "card" / "confusion.png").stat().st_size > 5000
    (tmp_path / "bad.csv").write_text("text,language\nhallo,de\n")
    with pytest.raises(DataError, match="no column completion, task, source"):
        rows_from_csv(tmp_path / "bad.csv")


def test_command_r_matches_the_benchmarks_own_script(tmp_path, shared_data):
    """Every cell of compute_metrics.py's run on outputs/command-r.csv (lid.176.ftz, unidic-lite) within 1 point,
    the overall averages within 0.3 (we match to rounding)."""
    card = run_confusion(shared_data / "language_confusion_lcb/outputs/command-r.csv", tmp_path, shared_data)
    upstream = json.loads((Path(__file__).parent / "fixtures/lcb_command_r_upstream.json").read_text())
    for r in card["scores"]:
        ref = upstream[r["task"]][f"{r['source']}/{r['language']}"]
        bar = 0.003 if r["source"] == r["language"] == "all" else 0.01
        for key in ("lpr", "wpr", "acc"):
            assert (r[key] is None) == (key not in ref), (r, key)
            if key in ref:
                assert abs(r[key] - ref[key]) <= bar, (r, key, ref[key])
    overall = {r["task"]: r for r in card["scores"] if r["source"] == r["language"] == "all"}
    assert round(100 * overall["monolingual"]["lpr"], 2) == 97.97 and round(100 * overall["crosslingual"]["wpr"], 2) \
        == 93.97


def test_a_generate_run_is_scored_on_its_own_text_per_source(tmp_path, shared_data):
    """An `eval generate` run of an LCB set: sources from the prompts' categories, the echoed prompt removed before
    scoring, each cell with its health-flag shares."""
    from core.run_dir import RunDir
    from eval.results import append_items

    run = tmp_path / "run"
    RunDir(run).write_card({"model": "m", "set": "lcb_monolingual", "max_tokens": 64})
    prompt = "Erkläre bitte kurz, warum der Himmel am Tag blau ist und abends rot wird."
    append_items(run, [{"lang": "de", "id": "aya/0", "category": "aya", "turns": [prompt], "answers": [DE],
                        "tokens": [20]},
                       {"lang": "de", "id": "okapi/0", "category": "okapi", "turns": [prompt],
                        "answers": [f"{prompt}\n{EN}"], "tokens": [64]}])
    card = run_confusion(run, tmp_path / "out", shared_data)
    cells = {(r["source"], r["language"]): r for r in card["scores"]}
    assert cells[("aya", "de")]["lpr"] == 1.0 and cells[("aya", "de")]["flags"]["echo"] == 0.0
    okapi = cells[("okapi", "de")]
    assert okapi["lpr"] == 0.0 and okapi["acc"] == 0.0  # the English line alone: the German echo is not scored
    assert okapi["flags"] == {"echo": 1.0, "loop": 0.0, "empty": 0.0, "truncated": 1.0}
    assert cells[("all", "de")]["lpr"] == 0.5 and card["kind"] == "run"

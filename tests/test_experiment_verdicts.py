"""Experiment verdicts that cannot overclaim: the pairwise judge decides by FastChat's strict rule with the lenient
count beside it, a judge above the flip limit measures nothing, every "no effect" states the smallest effect the
run could have seen, and the README's table is written from the run cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.config import load_experiment
from experiments.pairwise import FLIP_LIMIT, pair_verdict
from tests.test_experiments import _fake_generate, _fake_mix


def _pairs(pairs: list[tuple[str, str]]) -> dict:
    """A pairwise judge's results from (verdict with A shown first, verdict with B shown first) per question."""
    from eval.judge_results import pair_results
    from eval.judge_stats import ab_outcome

    records = [{"lang": "zh", "id": str(i), "turn": 1, "category": "c", "side": side, "value": v, "lengths": [10, 12]}
               for i, (ab, ba) in enumerate(pairs) for side, v in (("ab", ab), ("ba", ba))]
    return pair_results(records, ab_outcome)


FOLLOWS_POSITION = ("A", "A")  # first shown wins in both orders: a flip, a tie under both rules
A_WINS, B_WINS, LENIENT_WIN = ("A", "B"), ("B", "A"), ("A", "C")  # win+tie: a tie strictly, a win leniently


def test_the_strict_rule_decides_and_the_lenient_count_is_shown():
    exp = load_experiment("x-instruction", "cpu")
    j = exp.judge[0]
    res = _pairs([A_WINS] * 6 + [B_WINS] * 2 + [LENIENT_WIN] * 2)  # strict 6/2/2, lenient 8/0/2; flips 0.2
    reproduced, verdict, numbers = pair_verdict(exp, res, j)
    assert reproduced == "yes (not significant)" and "sign test p = 0.29" in verdict  # 6 vs 2 decided
    assert "won 6, tied 2 and lost 2 of 10 pairs" in verdict and "lenient rule counts 8/0/2" in verdict
    assert "no effect larger than" in verdict and "(n=10)" in verdict
    assert numbers["rule"] == "fastchat" and numbers["lenient"] == {"win": 8, "tie": 0, "loss": 2}
    assert numbers["mde"] is not None and numbers["ci95"][0] < numbers["difference"] < numbers["ci95"][1]
    clear = _pairs([A_WINS] * 10)
    assert pair_verdict(exp, clear, j)[0] == "yes" and pair_verdict(exp, clear, j)[2]["p"] == 0.002


def test_the_x_instruction_case_one_lenient_win_is_no_strict_win():
    """The cpu run's pairs: one win under the lenient rule, none under the strict one. At a flip rate below the
    limit the verdict is no direction and says what it could have seen; at 11 of 12 flips it is not measured."""
    exp = load_experiment("x-instruction", "cpu")
    j = exp.judge[0]
    seen = _pairs([LENIENT_WIN] + [("C", "C")] * 11)  # flips 1/12
    reproduced, verdict, numbers = pair_verdict(exp, seen, j)
    assert (numbers["win"], numbers["tie"], numbers["loss"]) == (0, 12, 0)
    assert reproduced == "mixed" and "lenient rule counts 1/11/0" in verdict
    assert "no effect larger than 0.58 in net win rate detectable at this size (n=12)" in verdict
    blind = _pairs([LENIENT_WIN] + [FOLLOWS_POSITION] * 11)  # flips 12/12
    reproduced, verdict, numbers = pair_verdict(exp, blind, j)
    assert reproduced == "not measured" and f"above the {FLIP_LIMIT:.2f}" in verdict
    assert "strict W/T/L 0/12/0" in verdict and "lenient W/T/L 1/11/0" in verdict


@pytest.mark.parametrize("flips,decides", [(0.6, False), (0.3, True), (1.0, False)])
def test_a_judge_above_the_flip_limit_measures_nothing(flips, decides):
    exp = load_experiment("x-instruction", "cpu")
    j = exp.judge[0]
    k = round(flips * 10)
    res = _pairs([FOLLOWS_POSITION] * k + [A_WINS] * (10 - k))
    assert res["overall"]["position_bias"]["flip_rate"] == pytest.approx(flips)
    reproduced, verdict, _ = pair_verdict(exp, res, j)
    assert (reproduced != "not measured") == decides
    if not decides:
        assert "did not compare" in verdict


def _write_judge(run_dir: Path, stage: str, records: list[dict], results: dict):
    from core.records import write_jsonl
    from core.run_dir import write_json

    (run_dir / stage).mkdir(parents=True)
    write_jsonl(run_dir / stage / "items.jsonl", records)
    write_json(run_dir / stage / "card.json", {"results": results})


def test_parallel_mono_compares_paired_prompts_and_shows_the_judge_beside(tmp_path):
    from experiments.analyses import parallel_mono

    exp = load_experiment("parallel-mono", "cpu")
    exp.generate.langs = ["en", "fr"]
    score = {"mono": 4.0, "parallel": 5.0, "sampled": 4.5}
    for arm in exp.arms:
        _fake_generate(tmp_path, arm, {"en": [True] * 8, "fr": [True] * 8})
        records = [{"lang": lang, "id": str(i), "turn": t, "value": score[arm] + (i % 3) * (arm == "parallel")}
                   for lang in ("en", "fr") for i in range(8) for t in (1, 2)]
        _write_judge(tmp_path, f"judge/single-{arm}", records, {"unparseable": {"n": 0, "of": 32}})
    _write_judge(tmp_path, "judge/pairwise-parallel-mono", [], _pairs([FOLLOWS_POSITION] * 7 + [A_WINS]))
    (tmp_path / "plots").mkdir()
    section = parallel_mono(exp, "cpu", tmp_path, tmp_path / "plots")
    assert section.reproduced == "yes"  # parallel above both, on 8 French prompts each
    assert "5.88 against mono (en)'s 4.00" in section.verdict
    assert "| mono (en) | 5.88 | 4.00 | 8 | +1.875 [" in section.markdown  # parallel: 5 + mean(i % 3)
    assert section.numbers["vs_parallel"]["mono (en)"]["mde"] > 0
    assert "**The pairwise judge (shown beside, not deciding):** not measured." in section.markdown
    assert section.numbers["pairwise"]["reproduced"] == "not measured"
    assert "pairwise judge: FastChat W/T/L 1/7/0 (lenient 1/7/0), flips 0.88 > 0.50: not measured" in section.headline


def test_bench_verdict_states_what_it_could_detect_and_the_judge_beside(tmp_path):
    from core.records import write_jsonl
    from core.run_dir import write_json
    from experiments.analyses import bench_before_after

    exp = load_experiment("bactrian-x", "cpu")
    for arm, k in {"base": 5, "bactrian": 4}.items():
        records = [{"task": "xcopa", "lang": "zh", "id": str(i), "acc": float(i < k)} for i in range(12)]
        (tmp_path / f"bench/{arm}").mkdir(parents=True)
        write_jsonl(tmp_path / f"bench/{arm}/items.jsonl", records)
        write_json(tmp_path / f"bench/{arm}/card.json",
                   {"results": {"xcopa": {"zh": {"n": 12, "acc": k / 12, "ci95": [0.0, 1.0]}, "_mean": {}}}})
    _write_judge(tmp_path, "judge/pairwise-bactrian-base", [], _pairs([FOLLOWS_POSITION] * 19 + [A_WINS]))
    (tmp_path / "plots").mkdir()
    section = bench_before_after(exp, "cpu", tmp_path, tmp_path / "plots")
    assert section.reproduced == "no (not significant)"
    assert "no effect larger than" in section.verdict and "(n=12)" in section.verdict
    assert section.numbers["paired"]["only_b"] == 1 and section.numbers["paired"]["mde"] > 0.5
    assert "difference [95% bootstrap]" in section.markdown and "| -0.083 [" in section.markdown
    assert "not measured" in section.numbers["pairwise"]["reproduced"]
    assert "items 0 vs 1" in section.headline and "pairwise judge:" in section.headline


def test_the_readme_table_is_written_from_the_run_cards(tmp_path):
    """collect --readme rewrites what stands between the experiments markers from the run's card and report."""
    from experiments.__main__ import main
    from experiments.report import write_report
    from experiments.stages import Run

    exp = load_experiment("multi-i", "cpu")
    exp.generate.langs = ["en", "fr"]
    run_dir = tmp_path / "runs/multi-i-cpu"
    for arm, langs in [("mono", ["en"]), ("multi-1", ["en", "zh"]), ("multi-2", ["en", "zh", "fr"]),
                       ("multi-3", ["en", "zh", "fr", "es"])]:
        _fake_mix(run_dir, arm, langs)
    for arm in exp.arms:
        _fake_generate(run_dir, arm, {"en": [True] * 10, "fr": [arm.startswith("multi")] * 10})
    r = Run(run_dir, {"experiment": "multi-i", "scale": "cpu", "data_dir": "../shared/data"}, log=lambda *_: None)
    r.card["stages"] = {"train/mono": {"status": "done", "seconds": 60.0, "results": {"step": 24}}}
    r.ran = ["train/mono"]
    r.started -= 90
    r.record_invocation()
    r.card["report"] = write_report(exp, "cpu", r, run_dir, log=lambda *_: None)
    r.run_dir.write_card()
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- experiments:begin -->\nhand-typed\n<!-- experiments:end -->\nafter\n")
    assert main(["collect", str(run_dir), "--out", str(tmp_path / "docs/results.md"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "hand-typed" not in text and text.startswith("intro\n") and text.endswith("after\n")
    row = next(line for line in text.splitlines() if line.startswith("| `multi-i`"))
    assert "| 1.5 min | yes |" in row and "Multi-1 1.00 (+1.00 [+1.00, +1.00], p = 0.002, MDE" in row
    assert "trained for 24 steps" in text and "`smollm2-135m`" in text
    store = tmp_path / "docs/results.json"
    kept = json.loads(store.read_text())
    assert kept["multi-i-cpu"]["steps"] == [24] and kept["multi-i-cpu"]["decided_by"] in row
    # a collect of other runs keeps this experiment's row, though its run directory is gone
    kept = {"crossalpaca-cpu": {**kept["multi-i-cpu"], "experiment": "crossalpaca", "decided_by": "items 0 vs 2",
                                "steps": [12]}, **kept}
    store.write_text(json.dumps(kept))
    assert main(["collect", str(run_dir), "--out", str(tmp_path / "docs/results.md"), "--readme", str(readme)]) == 0
    rows = [line for line in readme.read_text().splitlines() if line.startswith("| `")]
    assert [r.split("|")[1].strip() for r in rows] == ["`crossalpaca`", "`multi-i`"] and "items 0 vs 2" in rows[0]
    assert "trained for 12-24 steps" in readme.read_text()
    readme.write_text("no markers\n")
    assert main(["collect", str(run_dir), "--out", str(tmp_path / "docs/results.md"), "--readme", str(readme)]) == 2


def test_multi_i_compares_helpfulness_on_paired_prompts(tmp_path):
    """Likert scores of each Multi-i arm against Mono outside English: paired t-test, interval and MDE."""
    from experiments.analyses import multi_i

    exp = load_experiment("multi-i", "cpu")
    exp.generate.langs = ["en", "fr"]
    for arm, langs in [("base", []), ("mono", ["en"]), ("multi-1", ["en", "zh"]), ("multi-2", ["en", "zh", "fr"]),
                       ("multi-3", ["en", "zh", "fr", "es"])]:
        _fake_generate(tmp_path, arm, {"en": [True] * 6, "fr": [True] * 6})
        if langs:
            _fake_mix(tmp_path, arm, langs)
        records = [{"lang": lang, "id": str(i), "turn": 1, "value": [3 + (arm == "multi-2") + i % 2]}
                   for lang in ("en", "fr") for i in range(6)]
        _write_judge(tmp_path, f"judge/likert-{arm}", records, {"unparseable": {"n": 0, "of": 12}})
    (tmp_path / "plots").mkdir()
    section = multi_i(exp, "cpu", tmp_path, tmp_path / "plots")
    likert = section.numbers["likert_vs_Mono"]
    assert likert["Multi-2"]["difference"] == 1.0 and likert["Multi-2"]["n"] == 6 and likert["Multi-2"]["p"] == 0.0
    assert likert["Multi-1"]["difference"] == 0.0 and likert["Multi-1"]["mde"] is None  # no spread: nothing to scale
    assert "### Helpfulness vs Mono outside English (paired prompts, paired t-test)" in section.markdown


def test_the_pairwise_section_shows_the_verdict_probabilities_beside(tmp_path):
    """A weighted judge's margin for A and its lean to the first-shown answer are printed under the table; a judge
    run without probabilities prints no such line."""
    from experiments.pairwise import pair_section

    exp = load_experiment("x-instruction", "cpu")
    j = exp.judge[0]
    stage = tmp_path / "judge/pairwise-xinstruct-translated"
    stage.mkdir(parents=True)
    res = _pairs([FOLLOWS_POSITION] * 12)
    (stage / "card.json").write_text(json.dumps({"results": res}))
    assert not any("Verdict probabilities" in line for line in pair_section(exp, tmp_path, j)[0])
    res["weighted"] = {"overall": {  # as eval.judge_weighted.stats writes them
        "a_minus_b": {"n": 12, "mean": 0.0038, "sd": 0.026, "ci95": [-0.0129, 0.0206], "t_p": 0.624, "positive": 7,
                      "negative": 5, "sign_p": 0.774},
        "first_minus_second": {"n": 12, "mean": 0.5078, "sd": 0.13, "ci95": [0.4254, 0.5901], "t_p": 3.24e-08,
                               "positive": 12, "negative": 0, "sign_p": 0.000488}}}
    (stage / "card.json").write_text(json.dumps({"results": res}))
    line = next(x for x in pair_section(exp, tmp_path, j)[0] if "Verdict probabilities" in x)
    assert ("P(X-Instruction) − P(translated (zh Alpaca)) +0.004 [-0.013, +0.021] (n=12) t p=0.624, "
            "sign 7+/5- p=0.774;") in line
    assert "shown second +0.508 [+0.425, +0.590] (n=12) t p=3.24e-08, sign 12+/0- p=0.000488." in line
    # A miniature run judges one pair: its margins have no spread, so no interval and no t-test, and no failure.
    res["weighted"] = {"overall": {
        "a_minus_b": {"n": 1, "mean": 0.0359, "sd": None, "ci95": None, "t_p": None, "positive": 1, "negative": 0,
                      "sign_p": 1.0},
        "first_minus_second": {"n": 1, "mean": 0.41, "sd": None, "ci95": None, "t_p": None, "positive": 1,
                               "negative": 0, "sign_p": 1.0}}}
    (stage / "card.json").write_text(json.dumps({"results": res}))
    line = next(x for x in pair_section(exp, tmp_path, j)[0] if "Verdict probabilities" in x)
    assert "P(translated (zh Alpaca)) +0.036 (n=1) sign 1+/0- p=1.0;" in line and "None" not in line

def _dist(mean_shift: float) -> dict:
    """A 1-10 verdict distribution mostly on 5, leaning up by `mean_shift` (expected score 5 + mean_shift)."""
    return {"dist": {"5": 1.0 - mean_shift, "6": mean_shift}, "mass": 0.3, "missing": [], "ten_from": None}


def test_parallel_mono_reads_the_verdict_probabilities_where_every_score_is_the_same(tmp_path):
    """The 135M judge scores everything 5; its verdict probabilities still differ. They are compared on the same
    paired prompts and shown beside: they say whether they separate the arms, and the verdict stays unmeasured."""
    from experiments.analyses import parallel_mono

    exp = load_experiment("parallel-mono", "cpu")
    exp.generate.langs = ["en", "fr"]
    lean = {"mono": 0.1, "parallel": 0.4, "sampled": 0.4}  # sampled differs from parallel only by noise
    for k, arm in enumerate(exp.arms):  # each arm's own prompt-to-prompt spread
        _fake_generate(tmp_path, arm, {"en": [True] * 8, "fr": [True] * 8})
        records = [{"lang": lang, "id": str(i), "turn": t, "value": 5.0,
                    "weighted": _dist(lean[arm] + 0.01 * ((i + k) % 3))}
                   for lang in ("en", "fr") for i in range(8) for t in (1, 2)]
        _write_judge(tmp_path, f"judge/single-{arm}", records, {"unparseable": {"n": 0, "of": 32}})
    _write_judge(tmp_path, "judge/pairwise-parallel-mono", [], _pairs([FOLLOWS_POSITION] * 8))
    (tmp_path / "plots").mkdir()
    section = parallel_mono(exp, "cpu", tmp_path, tmp_path / "plots")
    assert section.reproduced == "not measured" and "the same score (5)" in section.verdict
    weighted = section.numbers["expected_score"]
    assert weighted["parallel (en+fr) vs mono (en)"]["difference"] == pytest.approx(0.30, abs=0.005)
    assert weighted["parallel (en+fr) vs mono (en)"]["p"] < 0.05
    assert weighted["parallel (en+fr) vs sampled (en/fr)"]["p_holm"] > 0.05
    assert "separate parallel (en+fr) vs mono (en) +0.30" in section.verdict
    assert "Holm-adjusted over 2 comparisons" in section.verdict and "vs sampled" not in section.verdict
    assert "| mono (en) | 5.411 | 5.109 | 8 | +0.30" in section.markdown
    # Without verdict probabilities (a judge run without --weighted) there is no such table or sentence.
    for arm in exp.arms:
        items = tmp_path / f"judge/single-{arm}/items.jsonl"
        rows = [json.loads(line) for line in items.read_text().splitlines()]
        items.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "weighted"}) + "\n" for r in rows))
    section = parallel_mono(exp, "cpu", tmp_path, tmp_path / "plots")
    assert "expected_score" not in section.numbers and "verdict probabilities" not in section.verdict
    assert "Expected scores from the judge's verdict probabilities" not in section.markdown


def test_several_arms_are_held_to_holm_adjusted_p_values():
    """multi-i's run: Multi-3's expected score beat Mono at p = 0.031, one of three comparisons; Holm makes it
    0.092, so no pair is said to be separated."""
    from experiments.rating_scores import holm_adjusted

    assert holm_adjusted([0.64, 0.581, 0.0306]) == pytest.approx([1.0, 1.0, 0.0918])
    assert holm_adjusted([0.01, 0.04]) == pytest.approx([0.02, 0.04]) and holm_adjusted([]) == []

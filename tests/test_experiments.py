"""Experiments: config checks, stage skipping/redoing, the Multi-i analysis on known inputs, and (slow) a tiny
experiment end to end on the packaged model with a served judge."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from experiments.config import load_experiment
from experiments.stages import Run

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_experiment_loads_at_every_scale():
    from experiments.config import experiment_path, list_experiments

    names = list_experiments()
    assert "multi-i" in names
    for name in names:
        for scale in yaml.safe_load(experiment_path(name).read_text())["scales"]:
            exp = load_experiment(name, scale)  # builds every arm's recipe and training config too
            assert exp.arms and exp.claim


def test_bad_experiment_configs_name_the_problem(tmp_path):
    exp = yaml.safe_load((ROOT / "configs/experiments/multi-i.yaml").read_text())
    with pytest.raises(ConfigError, match="no scale 'tpu'.*cpu, gpu"):
        load_experiment("multi-i", "tpu")
    with pytest.raises(ConfigError, match="No experiment 'multi-x'.*multi-i"):
        load_experiment("multi-x", "cpu")
    bad = dict(exp, judge=[{"mode": "pairwise", "arms": ["mono", "multi-9"]}])
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"multi-9.*not defined"):
        load_experiment(str(tmp_path / "a.yaml"), "cpu")
    bad = dict(exp, arms={**exp["arms"], "mono": {"recipe": "configs/recipes/polyglots.yaml",
                                                  "recipe_overrides": {"mixture.languages": ["en", "xx"]}}})
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="xx"):
        load_experiment(str(tmp_path / "b.yaml"), "cpu")
    bad = dict(exp, scales={"cpu": {**exp["scales"]["cpu"], "judge_arms": ["mono", "multi-4"]}})
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"multi-4.*not defined"):
        load_experiment(str(tmp_path / "d.yaml"), "cpu")
    bad = dict(exp, scales={"cpu": {**exp["scales"]["cpu"], "train_overrides": {"max_stepz": 3}}})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="max_stepz.*max_steps"):
        load_experiment(str(tmp_path / "c.yaml"), "cpu")


def test_stages_skip_redo_and_resume(tmp_path):
    calls = []

    def work(tag):
        def fn(d: Path):
            calls.append(tag)
            (d / "out.txt").write_text(tag)
            return {"tag": tag}
        return fn

    r = Run(tmp_path, {"experiment": "t"}, log=lambda *_: None)
    assert r.stage("a/x", {"n": 1}, work("a1")) == {"tag": "a1"}
    r.stage("b/x", {"a": r.keys["a/x"]}, work("b1"))
    assert json.loads((tmp_path / "a/x/card.json").read_text())["results"] == {"tag": "a1"}  # one card per stage

    r = Run(tmp_path, {"experiment": "t"}, log=lambda *_: None)  # a rerun with the same inputs does nothing
    r.stage("a/x", {"n": 1}, work("a2"))
    r.stage("b/x", {"a": r.keys["a/x"]}, work("b2"))
    assert calls == ["a1", "b1"]

    (tmp_path / "a/x/stale.txt").write_text("from the old inputs")
    r = Run(tmp_path, {"experiment": "t"}, log=lambda *_: None)  # changed input: redone, and what depends on it
    r.stage("a/x", {"n": 2}, work("a3"))
    r.stage("b/x", {"a": r.keys["a/x"]}, work("b3"))
    assert calls == ["a1", "b1", "a3", "b3"]
    assert not (tmp_path / "a/x/stale.txt").exists() and (tmp_path / "a/x/out.txt").read_text() == "a3"

    shutil.rmtree(tmp_path / "b/x")  # a stage folder deleted by hand: run again, not skipped to fail downstream
    r = Run(tmp_path, {"experiment": "t"}, log=lambda *_: None)
    r.stage("a/x", {"n": 2}, work("a4"))
    assert r.stage("b/x", {"a": r.keys["a/x"]}, work("b4")) == {"tag": "b4"}
    assert calls == ["a1", "b1", "a3", "b3", "b4"] and (tmp_path / "b/x/out.txt").read_text() == "b4"

    def crash(d: Path):
        (d / "partial.txt").write_text("half")
        raise KeyboardInterrupt

    r = Run(tmp_path, {"experiment": "t"}, log=lambda *_: None)
    with pytest.raises(KeyboardInterrupt):
        r.stage("c/x", {"n": 1}, crash)
    assert json.loads((tmp_path / "card.json").read_text())["stages"]["c/x"]["status"] == "running"

    def resume(d: Path):  # same inputs: the stage dir is kept, so the tool inside can resume its own work
        return {"kept": (d / "partial.txt").read_text()}

    r = Run(tmp_path, {"experiment": "t"}, log=lambda *_: None)
    assert r.stage("c/x", {"n": 1}, resume) == {"kept": "half"}


def test_judge_and_teacher_specs_and_until_are_checked(tmp_path):
    from experiments.pipeline import Endpoints, run_experiment

    with Endpoints(tmp_path) as endpoints:
        assert endpoints.spec("openai:gpt-4o-mini", "judge") == "openai:gpt-4o-mini"  # an endpoint: used as is
        with pytest.raises(ConfigError, match="needs a judge but its scale names none"):
            endpoints.spec(None, "judge")
        with pytest.raises(ConfigError, match="neither a packaged model .*smollm2-135m"):
            endpoints.spec(str(tmp_path / "missing.gguf"), "teacher")
    with pytest.raises(ConfigError, match="--until 'trian' is not a stage; the stages: data, train"):
        run_experiment("multi-i", "cpu", tmp_path / "run", tmp_path, until="trian")
    assert not (tmp_path / "run").exists()  # refused before any work

PROMPTS = {"en": "Tell me about your plans for the afternoon, please.",
           "fr": "Parle-moi de tes projets pour cet après-midi, s'il te plaît.",
           "bg": "Разкажи ми за плановете си за следобеда, моля.",
           "ak": "Ka wo nhyehyɛe a wowɔ ma awia yi kyerɛ me."}
ANSWERS = {"en": "The weather is nice today, so we will walk to the park after lunch.",
           "fr": "Il fait beau aujourd'hui, alors nous irons au parc après le déjeuner.",
           "bg": "Времето днес е хубаво, затова ще отидем в парка след обяда.",
           "ak": "Ewiem yɛ fɛ nnɛ, enti yɛbɛnante akɔ turom hɔ awia aduane akyi."}


def _fake_generate(run_dir: Path, arm: str, hits: dict[str, list[bool]], echo: dict[str, int] | None = None):
    """A generate stage whose answers are in the prompt's language where hits[lang][i] is True and in English
    otherwise, except the first echo[lang] answers, which only repeat the prompt: the detection of the whole
    answer (the items' "detected", as old runs had it) finds the prompt's language in them."""
    from core.records import write_jsonl
    from core.run_dir import write_json
    from eval.generate import agreement_table

    records = []
    for lang, oks in hits.items():
        for i, ok in enumerate(oks):
            echoed = i < (echo or {}).get(lang, 0)
            answer = PROMPTS[lang] if echoed else ANSWERS[lang if ok else "en"]
            records.append({"lang": lang, "id": str(i), "turns": [PROMPTS[lang]], "answers": [answer],
                            "tokens": [16], "detected": [[lang if ok or echoed else "en", 0.9]]})
    d = run_dir / "generate" / arm
    d.mkdir(parents=True)
    write_jsonl(d / "items.jsonl", records)
    write_json(d / "card.json", {"set": "hplt", "max_tokens": 64,
                                 "agreement": agreement_table(records, list(hits), max_tokens=64)})


def _fake_mix(run_dir: Path, arm: str, langs: list[str]):
    from core.run_dir import write_json

    (run_dir / "data" / arm).mkdir(parents=True)
    write_json(run_dir / "data" / arm / "card.json", {"stats": {lang: {"rows": 10} for lang in langs}})


def test_multi_i_analysis_measures_the_claim(tmp_path):
    from experiments.analyses import multi_i
    from experiments.report import NOT_IDENTIFIED_NOTE

    exp = load_experiment("multi-i", "cpu")
    exp.generate.langs = ["en", "fr", "bg", "ak"]  # Akan: lid.176 cannot identify it
    n = 20
    mono = {"en": [True] * n, "fr": [False] * n, "bg": [False] * n, "ak": [True] * 4}
    strong = {"en": [True] * n, "fr": [True] * n, "bg": [True] * 15 + [False] * 5, "ak": [True] * 4}  # 35 of 40
    weak = {"en": [True] * n, "fr": [True] * 2 + [False] * 18, "bg": [False] * n, "ak": [True] * 4}  # 2 of 40
    for arm, hits, langs in [("base", mono, []), ("mono", mono, ["en"]), ("multi-1", weak, ["en", "zh"]),
                             ("multi-2", strong, ["en", "zh", "fr"]), ("multi-3", strong, ["en", "zh", "fr", "es"])]:
        _fake_generate(tmp_path, arm, hits, echo={"fr": 5} if arm == "mono" else None)  # Mono echoes 5 fr prompts
        if langs:
            _fake_mix(tmp_path, arm, langs)
    plots = tmp_path / "plots"
    plots.mkdir()
    section = multi_i(exp, "cpu", tmp_path, plots)
    assert section.reproduced == "yes"  # every Multi-i above Mono outside English
    assert "2 significantly" in section.verdict  # multi-1's 2 extra prompts are not significant; 35 are
    assert section.numbers["non_english_agreement"]["Multi-2"] == pytest.approx(35 / 40)  # Akan left out
    assert section.numbers["non_english_agreement"]["Mono"] == 0.0  # its 5 echoed French prompts do not count
    assert section.numbers["non_english_agreement_healthy"]["Mono"] == 0.0
    assert "1.00 [0.84, 1.00] *" in section.markdown  # fr for Multi-2: in its mix, marked
    table = {tuple(x.strip() for x in line.strip("|").split("|")[:2]): line for line in section.markdown.splitlines()
             if line.startswith("| ")}
    assert table[("ak", "n/i")].count("n/i") == 5 and NOT_IDENTIFIED_NOTE in section.markdown
    # the health table: agreement over healthy answers (n), LPR [95%], echo, loop, empty, truncated
    assert table[("fr", "Mono")] == "| fr | Mono | 20 | 0.00 [0.00, 0.20] (n=15) | 0.00 [0.00, 0.20] | 0.25 | 0.00 " \
                                    "| 0.00 | 0.00 |"  # LPR over the 15 answers with a line to score
    assert table[("bg", "Multi-2")] == "| bg | Multi-2 | 20 | 0.75 [0.53, 0.89] (n=20) | 0.75 [0.53, 0.89] | 0.00 " \
                                       "| 0.00 | 0.00 | 0.00 |"
    assert table[("ak", "Mono")] == "| ak | Mono | 4 | n/i (n=4) | n/i | 0.00 | 0.00 | 0.00 | 0.00 |"
    assert (plots / "agreement.png").stat().st_size > 10_000

    _fake_generate(tmp_path / "worse", "mono", strong)  # the other way round: Mono better -> not reproduced
    for arm, hits in [("base", mono), ("multi-1", mono), ("multi-2", weak), ("multi-3", weak)]:
        _fake_generate(tmp_path / "worse", arm, hits)
    for arm, langs in [("mono", ["en"]), ("multi-1", ["en", "zh"]), ("multi-2", ["en", "zh", "fr"]),
                       ("multi-3", ["en", "zh", "fr", "es"])]:
        _fake_mix(tmp_path / "worse", arm, langs)
    (tmp_path / "worse/plots").mkdir()
    assert multi_i(exp, "cpu", tmp_path / "worse", tmp_path / "worse/plots").reproduced == "no"


def test_agreement_only_rechecks_a_card_written_before_health_flags(tmp_path):
    """An old generate card (agreement over the whole answer, no flags): the tables are recomputed from its answers,
    so an echoed prompt does not count as agreement, and the health and LPR columns are there."""
    from experiments.analyses import agreement_only

    exp = load_experiment("x-instruction", "cpu")
    exp.generate.langs = ["fr"]
    for arm in exp.arms:
        _fake_generate(tmp_path, arm, {"fr": [True] * 6 + [False] * 4}, echo={"fr": 4})
        card = tmp_path / f"generate/{arm}/card.json"
        old = {"fr": {"n": 10, "agreement": 0.6, "ci95": [0.31, 0.83], "answered_in": {"fr": 6, "en": 4}}}
        card.write_text(json.dumps({"set": "hplt", "max_tokens": 64, "agreement": old}))
    (tmp_path / "plots").mkdir()
    section = agreement_only(exp, "cpu", tmp_path, tmp_path / "plots")
    label = exp.label(next(iter(exp.arms)))
    assert "| fr | 0.20 [0.06, 0.51] |" in section.markdown  # 2 of 10: the 4 echoes no longer count
    assert f"| fr | {label} | 10 | 0.33 [0.10, 0.70] (n=6) | 0.33 [0.10, 0.70] | 0.40 | 0.00 | 0.00 | 0.00 |" \
        in section.markdown
    assert (tmp_path / "plots/agreement.png").is_file()


def test_report_and_results_page_from_a_run(tmp_path):
    """write_report turns the analysis into report.md; collect gathers reports and plots into a results page."""
    from experiments.report import collect, write_report

    exp = load_experiment("multi-i", "cpu")
    exp.generate.langs = ["en", "fr"]
    run_dir = tmp_path / "runs/multi-i-cpu"
    for arm, langs in [("mono", ["en"]), ("multi-1", ["en", "zh"]), ("multi-2", ["en", "zh", "fr"]),
                       ("multi-3", ["en", "zh", "fr", "es"])]:
        _fake_mix(run_dir, arm, langs)
    for arm in exp.arms:
        _fake_generate(run_dir, arm, {"en": [True] * 10, "fr": [arm.startswith("multi")] * 10})
    r = Run(run_dir, {"experiment": "multi-i", "scale": "cpu", "data_dir": "../shared/data"}, log=lambda *_: None)
    trained = {"step": 36, "loss": 1.5, "eval_loss": {"en": 1.25}}
    r.card["stages"] = {"train/mono": {"status": "done", "seconds": 60.0, "results": trained,
                                       "inputs": {"train": {"eval_fraction": 0.05}}}}
    r.ran = ["train/mono"]
    r.started -= 150  # as if this invocation took 2.5 min
    r.record_invocation()
    verdict = write_report(exp, "cpu", r, run_dir, log=lambda *_: None)
    r.card["report"] = verdict
    r.run_dir.write_card()
    text = (run_dir / "report.md").read_text()
    assert verdict["reproduced"] == "yes" and "**Reproduced at this scale:** yes." in text
    assert "| Mono | configs/recipes/polyglots.yaml |" in text and "| 36 | 1.500 | en 1.250 |" in text
    assert "`python -m experiments run multi-i --scale cpu --data-dir ../shared/data`" in text  # what reproduces it
    assert "Eval loss is per language on the 5% of each language's rows held out" in text
    page = collect([run_dir], tmp_path / "docs/results.md")
    body = page.read_text()
    assert "## multi-i (cpu)" in body and "](results/multi-i-cpu/agreement.png)" in body
    assert (tmp_path / "docs/results/multi-i-cpu/agreement.png").is_file()
    assert "Stage time: 1.0 min on" in body and "wall clock 2.5 min" in body
    assert "### Arms" in body and "| 36 | 1.500 | en 1.250 |" in body
    assert f"last run finished {r.card['invocations'][0]['finished'][:10]}" in body


def test_bench_analysis_pairs_items(tmp_path):
    from core.records import write_jsonl
    from core.run_dir import write_json
    from experiments.analyses import bench_before_after

    exp = load_experiment("crossalpaca", "cpu")
    right = {"base": 2, "alpaca": 3, "crossalpaca": 9}  # items right out of 10, per arm, the first ones
    for arm, k in right.items():
        records = [{"task": "xquad", "lang": "de", "id": str(i), "em": float(i < k)} for i in range(10)]
        (tmp_path / f"bench/{arm}").mkdir(parents=True)
        write_jsonl(tmp_path / f"bench/{arm}/items.jsonl", records)
        write_json(tmp_path / f"bench/{arm}/card.json",
                   {"results": {"xquad": {"de": {"n": 10, "em": k / 10, "ci95": [0.0, 1.0]}, "_mean": {}}}})
    (tmp_path / "plots").mkdir()
    section = bench_before_after(exp, "cpu", tmp_path, tmp_path / "plots")
    assert section.reproduced == "yes"  # CrossAlpaca (the last arm) vs Alpaca (the one before it)
    assert section.numbers["only_treated"] == 6 and section.numbers["only_control"] == 0
    assert section.numbers["p"] == pytest.approx(2 * 0.5 ** 6, abs=1e-4)  # exact McNemar, 6 discordant pairs
    assert (tmp_path / "plots/xquad.png").is_file()
    one_more = [{"task": "xquad", "lang": "de", "id": str(i), "em": float(i < 4)} for i in range(10)]
    write_jsonl(tmp_path / "bench/crossalpaca/items.jsonl", one_more)  # one item more than Alpaca: chance
    write_json(tmp_path / "bench/crossalpaca/card.json",
               {"results": {"xquad": {"de": {"n": 10, "em": 0.4, "ci95": [0.0, 1.0]}, "_mean": {}}}})
    section = bench_before_after(exp, "cpu", tmp_path, tmp_path / "plots")
    assert section.reproduced == "yes (not significant)" and "within chance" in section.verdict


TINY = {
    "name": "tiny-multi-i", "seed": "a test", "claim": "a test", "analysis": "multi_i",
    "arms": {"mono": {"recipe": "configs/recipes/polyglots.yaml",
                      "recipe_overrides": {"mixture.languages": ["en"]}},
             "multi-1": {"recipe": "configs/recipes/polyglots.yaml",
                         "recipe_overrides": {"mixture.languages": ["en", "zh"]}}},
    "generate": {"set": "hplt", "langs": ["zh", "bg", "en"]},
    "judge": [{"mode": "likert"}],
    "scales": {"cpu": {"base": "smollm2-135m", "train": "configs/train/smollm2-135m.yaml",
                       "train_overrides": {"max_steps": 2, "batch_size": 2, "grad_accum": 1, "max_length": 128,
                                           "eval_every": 2, "save_every": 1, "log_every": 1},
                       "recipe_overrides": {"mixture.size": 16, "mixture.per_language": 4},
                       "export": "q8_0", "judge": "smollm2-135m", "judge_max_tokens": 64, "limit": 2,
                       "max_tokens": 12}},
}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ~2.5 min a run on 2 idle cores: 2 trainings, 2 verified GGUF exports, answers, a judge
def test_tiny_experiment_end_to_end_twice_then_resumes(tmp_path, shared_data, report):
    """Data -> LoRA -> merged, verified GGUF -> answers -> a served judge with verdict probabilities -> report, on
    the packaged model, run twice under different hash seeds: the same files (`core.run_diff`); a rerun does
    nothing; a changed eval limit redoes only the answers and the judging."""
    from core.run_diff import diff_runs
    from experiments.pipeline import run_experiment

    config = tmp_path / "tiny.yaml"
    tiny = {**TINY, "scales": {"cpu": {**TINY["scales"]["cpu"], "judge_weighted": True}}}
    config.write_text(yaml.safe_dump(tiny))
    for run, hash_seed in (("run", "1"), ("again", "2")):  # set and dict order change with the hash seed
        done = subprocess.run([sys.executable, "-m", "experiments", "run", str(config), "--out", str(tmp_path / run),
                               "--data-dir", str(shared_data)], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": hash_seed}, timeout=1500)
        assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "run"
    card = json.loads((out / "card.json").read_text())
    stages = card["stages"]
    assert set(stages) == {"data/mono", "data/multi-1", "train/mono", "train/multi-1", "export/mono", "export/multi-1",
                           "generate/mono", "generate/multi-1", "judge/likert-mono", "judge/likert-multi-1"}
    assert all(s["status"] == "done" and (out / name / "card.json").is_file() for name, s in stages.items())
    assert stages["data/multi-1"]["results"]["languages"] == {"en": 12, "zh": 4}
    assert stages["train/mono"]["results"]["step"] == 2
    for arm in ("mono", "multi-1"):
        gguf = Path(stages[f"export/{arm}"]["results"]["gguf"])
        assert gguf.is_file() and gguf.suffix == ".gguf"
        assert stages[f"export/{arm}"]["results"]["verify"]["top1"] > 0.9  # q8_0 of the same weights
    assert stages["export/mono"]["results"]["merge_max_abs_logit_diff"] < 1e-3
    items = [json.loads(x) for x in (out / "generate/mono/items.jsonl").read_text().splitlines()]
    assert len(items) == 6 and all(r["answers"][0].strip() for r in items)
    judged = [json.loads(x) for x in (out / "judge/likert-mono/items.jsonl").read_text().splitlines()]
    assert len(judged) == 6 and any(r.get("weighted") for r in judged)
    text = (out / "report.md").read_text()
    assert "**Claim:** a test" in text and "| multi-1 |" in text and "![agreement](plots/agreement.png)" in text
    assert (out / "plots/agreement.png").is_file()
    assert card["report"]["reproduced"].removesuffix(" (not significant)") in ("yes", "no", "mixed")
    report("tiny experiment stages (s): " + ", ".join(f"{k} {v['seconds']}" for k, v in stages.items()))

    # the second run left the same files: what the comparison covers, then the comparison
    compared = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for must in ("data/multi-1/mix.jsonl", "train/multi-1/adapter/adapter_model.safetensors",
                 "train/multi-1/adapter/adapter_config.json", "generate/multi-1/items.jsonl",
                 "judge/likert-multi-1/items.jsonl", "report.md", "plots/agreement.png"):
        assert must in compared, must
    assert any(p.endswith(".gguf") and p.startswith("export/multi-1/") for p in compared)
    assert diff_runs(out, tmp_path / "again") == []
    done = subprocess.run([sys.executable, "-m", "experiments", "diff", str(out), str(tmp_path / "again")], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and "agree" in done.stdout

    assert json.loads((out / "judge/likert-mono/card.json").read_text())["judge"] == "smollm2-135m (served here)"
    moved = tmp_path / "moved"  # a run dir can be moved: nothing in the stage hashes is a path
    out.rename(moved)
    out = moved
    run_card = json.loads((out / "card.json").read_text())
    run_card["stages"]["judge/likert-mono"]["status"] = "running"  # as if killed before the stage was marked done
    (out / "card.json").write_text(json.dumps(run_card))
    logs: list[str] = []
    card = run_experiment(str(config), "cpu", out, shared_data, log=logs.append)
    assert sum("skipped" in x for x in logs) == len(stages) - 1
    assert "judge/likert-mono: running" in logs  # resumed in place with the judge on a new port: no call needed
    assert [x["stages_run"] for x in card["invocations"]] == [len(stages), 1]  # wall time kept per invocation
    assert len((out / "judge/likert-mono/items.jsonl").read_text().splitlines()) == 6

    config.write_text(yaml.safe_dump({**tiny, "scales": {"cpu": {**tiny["scales"]["cpu"], "limit": 1}}}))
    logs.clear()
    run_experiment(str(config), "cpu", out, shared_data, log=logs.append)
    redone = sorted(x.split(":")[0] for x in logs if x.endswith(": running"))
    assert redone == sorted(["generate/mono", "generate/multi-1", "judge/likert-mono", "judge/likert-multi-1"])
    assert len((out / "generate/mono/items.jsonl").read_text().splitlines()) == 3

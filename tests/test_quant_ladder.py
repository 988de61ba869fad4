"""The quantization ladder: bad input refused with the fix, the recommendation and its binding language, the
calibration comparison, and a real ladder of SmolLM2 killed while building and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import ConfigError
from quantize.ladder import parse_variants
from quantize.ladder_report import Floors, calibration_comparison, recommend, recommendation_text
from quantize.ladder_text import calibration_text, resolve_langs, sentences

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_type_lists_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        parse_variants(["q8_0", "q4_k_x"])
    assert "'q4_k_x'" in str(err.value) and "q4_k_m" in str(err.value) and "iq3_xxs" in str(err.value)
    with pytest.raises(ConfigError, match="nothing to compare with the f16 reference"):
        parse_variants(["f16"])


def test_an_i_quant_without_an_importance_matrix_says_how_to_get_one():
    with pytest.raises(ConfigError) as err:
        parse_variants(["iq3_xxs"])
    message = str(err.value)
    assert "iq3_xxs@langs" in message and "llama-imatrix" in message and "--imatrix FILE" in message
    assert [v.name for v in parse_variants(["iq3_xxs@en", "q4_k_m"])] == ["f16", "iq3_xxs@en", "q4_k_m"]
    with pytest.raises(ConfigError, match="Unknown calibration 'fr'"):
        parse_variants(["q3_k_m@fr"])


def test_a_language_without_flores_text_names_the_available_ones(shared_data):
    assert resolve_langs(["Icelandic", "hin_Deva", "zh-Hans", "en"], shared_data) == ["is", "hi", "zh", "en"]
    with pytest.raises(ConfigError) as err:
        resolve_langs(["en", "xh"], shared_data)
    assert "'xh'" in str(err.value) and "languages with text: ar, bg, bn, cs, de" in str(err.value)


def test_calibration_text_never_holds_a_measured_sentence(shared_data):
    text = calibration_text(["de", "ja", "en"], shared_data).splitlines()
    measured = {s for lang in ("de", "ja", "en") for s in sentences(lang, shared_data, 1012)}
    assert len(text) > 1400 and not measured & set(text)
    assert text[0] != text[1] and any("\u3002" in line for line in text[:3])  # de, ja and en interleaved
    # The TSV's quoted fields are read as CSV: a devtest sentence with quotes in it is recognised and left out,
    # not kept in its escaped form ("... was ""very highly troubling ...").
    english = calibration_text(["en"], shared_data).splitlines()
    assert len(english) * 3 == len(text)  # the same FLORES dev sentences in every language
    assert not any("the new variant was" in line and "very highly troubling" in line for line in english)


def _cell(kl: float, top1: float, n: int = 4) -> dict:
    return {"kl": kl, "top1": top1, "ppl_change_pct": 100 * kl, "per_sentence": {"kl": [kl * (1 + 0.1 * i) for i in
                                                                                        range(n)]}}


def _card(cells: dict[str, dict[str, tuple[float, float]]], sizes: dict[str, int]) -> dict:
    return {"reference": "f16", "langs": ["en", "hi", "ja"],
            "files": {n: {"bytes": b} for n, b in sizes.items()},
            "cells": {n: {lang: _cell(*v) for lang, v in per.items()} for n, per in cells.items()}}


SIZES = {"f16": 270, "q8_0": 145, "q4_k_m": 105, "q3_k_m": 94}
CELLS = {"f16": {lang: (0.0, 1.0) for lang in ("en", "hi", "ja")},
         "q8_0": {"en": (0.004, 0.97), "hi": (0.011, 0.95), "ja": (0.008, 0.96)},
         "q4_k_m": {"en": (0.03, 0.93), "hi": (0.09, 0.86), "ja": (0.04, 0.91)},
         "q3_k_m": {"en": (0.06, 0.90), "hi": (0.2, 0.7), "ja": (0.12, 0.8)}}


def test_recommend_picks_the_smallest_passing_type_and_names_the_binding_language():
    rec = recommend(_card(CELLS, SIZES), Floors())
    assert rec["type"] == "q8_0" and rec["next_smaller"] == "q4_k_m" and rec["binding_language"] == "hi"
    assert set(rec["fails_there"]) == {"hi"}  # en and ja pass q4_k_m at KL 0.05 / top-1 0.9
    assert "Hindi" in recommendation_text(rec) and "q4_k_m is ruled out by 1 language" in recommendation_text(rec)
    # Hindi alone holds the answer back: without it q4_k_m passes, and looser floors reach the smallest file.
    card = _card(CELLS, SIZES)
    card["langs"] = ["en", "ja"]
    assert recommend(card, Floors())["type"] == "q4_k_m"
    assert recommend(card, Floors(max_kl=0.15, min_top1=0.75))["type"] == "q3_k_m"
    assert recommend(card, Floors(max_kl=0.15, min_top1=0.75))["binding_language"] is None
    # A stricter floor changes the answer, up to the reference itself.
    assert recommend(_card(CELLS, SIZES), Floors(max_kl=0.005, min_top1=0.9))["type"] == "f16"


def test_calibration_comparison_is_paired_over_the_same_sentences():
    cells = {"f16": CELLS["f16"], "q3_k_m@en": {"en": (0.05, 0.9), "hi": (0.2, 0.7), "ja": (0.1, 0.8)},
             "q3_k_m@langs": {"en": (0.06, 0.9), "hi": (0.1, 0.8), "ja": (0.1, 0.8)}}
    rows = {r["lang"]: r for r in calibration_comparison(_card(cells, {"f16": 2, "q3_k_m@en": 1,
                                                                          "q3_k_m@langs": 1}))}
    assert rows["hi"]["diff"] < 0 and rows["hi"]["diff_ci95"][1] < 0 and rows["hi"]["change_pct"] == -50.0
    assert rows["en"]["diff"] > 0 and rows["en"]["diff_ci95"][0] > 0
    assert rows["ja"]["diff"] == 0 and rows["ja"]["diff_ci95"] == [0.0, 0.0]


def _ladder(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "quantize", "ladder", "--model", "hf:smollm2-135m", "--types",
           "q8_0,q4_k_m,q3_k_m@langs", "--langs", "en,hi", "--sentences", "3", "--calib-chunks", "2",
           "--out", str(out), *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TQDM_DISABLE": "1"})


@pytest.mark.slow
def test_a_ladder_killed_while_building_resumes_without_redoing_finished_types(shared_data, tmp_path):
    out = tmp_path / "ladder"
    first = _ladder(out, "--data-dir", str(shared_data))
    card_path = out / "card.json"
    deadline = time.time() + 600
    while time.time() < deadline and first.poll() is None:
        if card_path.is_file():
            try:
                files = json.loads(card_path.read_text()).get("files", {})
            except ValueError:
                files = {}
            if "q8_0" in files:
                break
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = json.loads(card_path.read_text())
    finished = {name: (out / f["path"]).stat().st_mtime_ns for name, f in killed["files"].items()}
    assert {"f16", "q8_0"} <= set(finished) and "q3_k_m@langs" not in finished and not killed.get("cells")
    second = _ladder(out, "--data-dir", str(shared_data), "--recommend")
    log, _ = second.communicate(timeout=900)
    assert second.returncode == 0, log[-3000:]
    for name, mtime in finished.items():
        assert f"{name}: built before, kept" in log
        assert (out / killed["files"][name]["path"]).stat().st_mtime_ns == mtime
    card = json.loads(card_path.read_text())
    assert card["status"] == "done" and card["langs"] == ["en", "hi"]
    assert set(card["cells"]) == {"f16", "q8_0", "q4_k_m", "q3_k_m@langs"}
    assert card["imatrix"]["langs"]["langs"] == ["en", "hi"] and (out / "imatrix-langs.gguf").stat().st_size > 0
    cells = card["cells"]
    for lang in ("en", "hi"):
        assert cells["f16"][lang]["kl"] == 0 and cells["q8_0"][lang]["sentences"] == 3
        assert 0 < cells["q8_0"][lang]["kl"] < cells["q3_k_m@langs"][lang]["kl"]
        assert cells["q8_0"][lang]["top1"] > cells["q3_k_m@langs"][lang]["top1"]
        assert cells["q3_k_m@langs"][lang]["kl_p99"] > cells["q3_k_m@langs"][lang]["kl"]
    # SmolLM2's rows are 576 wide: most of q4_k_m's tensors fall back to q5_0, and the card says so.
    fallback = card["files"]["q4_k_m"]["fallback"]
    assert fallback["types"]["q5_0"] > fallback["of"] // 2 and card["files"]["q8_0"]["fallback"] is None
    assert card["files"]["q4_k_m"]["worst_language"]["lang"] in ("en", "hi")
    assert all(card["files"][n]["tokens_per_s"] > 0 for n in card["cells"])
    assert card["recommendation"]["type"] in card["cells"] and "Recommended:" in log
    assert (out / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    # A third run adds a language, a benchmark and a prompt set: nothing is built or measured again, the new
    # language is measured for every file, and every file is scored on both.
    third = _ladder(out, "--data-dir", str(shared_data), "--langs", "en,hi,zh", "--bench", "xcopa",
                    "--bench-limit", "4", "--prompts", "examples", "--prompts-limit", "1")
    log3, _ = third.communicate(timeout=600)
    assert third.returncode == 0, log3[-3000:]
    assert "writing" not in log3 and "importance matrix" not in log3
    final = json.loads(card_path.read_text())
    assert all(final["cells"][n][lang] == card["cells"][n][lang] for n in card["cells"] for lang in ("en", "hi"))
    assert all(final["cells"][n]["zh"]["sentences"] == 3 for n in card["cells"])
    assert set(final["bench"]) == set(card["cells"]) and all(b["xcopa/zh"]["n"] == 4 for b in final["bench"].values())
    assert final["bench"]["f16"]["xcopa/zh"]["change_points"] == 0  # the reference against itself
    q4 = final["bench"]["q4_k_m"]["xcopa/zh"]
    assert q4["change_points"] == round(100 * (q4["acc"] - q4["acc_ref"]), 2)
    assert q4["change_ci95_points"][0] <= q4["change_points"] <= q4["change_ci95_points"][1]
    assert set(final["prompts"]["q8_0"]) == {"en", "hi", "zh"}
    assert final["prompts"]["f16"]["en"]["agreement_change"] == 0 and final["prompts"]["q8_0"]["zh"]["n"] == 1
    assert "xcopa/zh" in log3 and "healthy" in log3


def test_a_benchmark_drop_is_a_floor_and_a_benchmark_must_share_a_language():
    from quantize.ladder_evals import check_evals

    card = _card(CELLS, SIZES)
    card["bench"] = {"q8_0": {"xcopa/hi": {"change_points": -2.5}, "xcopa/ja": {"change_points": 0.0}}}
    rec = recommend(card, Floors())
    assert rec["type"] == "f16" and rec["binding_language"] == "hi"
    assert rec["fails_there"] == {"hi": ["xcopa -2.5 points < -1.0"]}
    assert "benchmark drop <= 1.0 points" in recommendation_text(rec)
    assert recommend(card, Floors(max_bench_drop=3.0))["type"] == "q8_0"
    with pytest.raises(ConfigError, match="Benchmark xcopa has none of the ladder's languages .*sw"):
        check_evals(["xcopa"], None, ["en", "hi"])
    with pytest.raises(ConfigError, match="Unknown task"):
        check_evals(["no_such_task"], None, ["en"])

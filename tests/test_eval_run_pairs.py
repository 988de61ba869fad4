"""`eval report` on two runs that answered the same items: the paired difference with the exact McNemar test, the
bootstrap interval and the minimum detectable effect, for bench runs (per item) and generate runs (per prompt)."""

from __future__ import annotations

import pytest

from tests.test_experiments import _fake_generate


def _bench_run(root, name: str, right: int, n: int = 20):
    from core.records import write_jsonl
    from core.run_dir import write_json

    d = root / name
    d.mkdir()
    write_jsonl(d / "items.jsonl", [{"task": "xcopa", "lang": "zh", "id": str(i), "acc": float(i < right)}
                                    for i in range(n)])
    write_json(d / "card.json", {"model": f"hf:/models/{name}", "results": {
        "xcopa": {"zh": {"n": n, "acc": right / n, "ci95": [0.0, 1.0]}, "_mean": {"acc": right / n}}}})
    return d


def test_two_bench_runs_on_the_same_items(tmp_path, capsys):
    from eval.__main__ import main
    from eval.report import load_runs
    from eval.run_pairs import paired_rows

    a, b = _bench_run(tmp_path, "a", 16), _bench_run(tmp_path, "b", 6)
    [row] = paired_rows(load_runs([a, b]))
    assert row[:9] == ["xcopa", "hf:/models/a", "hf:/models/b", "20", "0.800", "0.300", "10", "0",
                       f"{2 * 0.5 ** 10:.3g}"]
    assert row[9].startswith("+0.500 [") and float(row[10]) > 0
    assert main(["report", str(a), str(b), "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "Paired: the same items in two runs" in out and "A - B [95% bootstrap]" in out and "MDE" in out
    assert (tmp_path / "plots/paired.txt").read_text().count("xcopa") == 1
    assert paired_rows(load_runs([a])) == []  # one run: nothing to compare


def test_two_generate_runs_on_the_same_prompts(tmp_path):
    from eval.report import load_runs
    from eval.run_pairs import paired_rows

    _fake_generate(tmp_path, "a", {"fr": [True] * 9 + [False], "ak": [True] * 3})  # Akan: not identifiable
    _fake_generate(tmp_path, "b", {"fr": [True] * 4 + [False] * 6, "ak": [True] * 3})
    cards = load_runs([tmp_path / "generate/a", tmp_path / "generate/b"])
    for card, name in zip(cards, "ab"):
        card["model"] = f"hf:/models/{name}"
    [row] = paired_rows(cards)
    assert row[0] == "set hplt" and row[3:8] == ["10", "0.900", "0.400", "5", "0"]  # Akan left out
    assert float(row[8]) == pytest.approx(2 * 0.5 ** 5, abs=1e-3)

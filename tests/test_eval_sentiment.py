"""Three-way sentiment (sentimentx, nusax): the local readers and their label mapping, the label-word requests,
weighted/macro F1 over a run, and hub datasets whose labels are ClassLabel ints."""

from __future__ import annotations

from collections import Counter

import pytest

from core.readers import read_hub
from eval.bench import summarize
from eval.data import load_items
from eval.tasks import get_task, task_langs
from eval.tasks.sentiment import LABELS, f1_scores, to_item


@pytest.mark.parametrize("lang, n, counts", [
    ("id", 500, {"positive": 208, "neutral": 88, "negative": 204}),  # SmSA's test split, as its SOURCE.md counts
    ("ru", 2211, {"positive": 483, "neutral": 1068, "negative": 660}),  # minus 369 skip and 99 speech
    ("sw", 748, None),
    ("ar", 1833, {"positive": 159, "neutral": 1338, "negative": 336}),  # ASTD's 1,999 test lines: OBJ is
    # neutral, the 166 NEUTRAL ("mixed") are left out
])
def test_sentimentx_reads_each_dataset(shared_data, lang, n, counts):
    items, source = load_items(get_task("sentimentx"), lang, shared_data)
    assert len(items) == n and len({i.id for i in items}) == n
    assert all(len(i.requests) == 3 and {c for _, c in i.requests} == {" positive", " neutral", " negative"}
               for i in items)
    if counts:
        assert Counter(LABELS[i.gold] for i in items) == counts
    assert source["skipped"] == {"ru": 468, "ar": 166}.get(lang, 0)


def test_nusax_is_parallel_across_its_12_languages(shared_data):
    task = get_task("nusax")
    assert task_langs(task, ["Javanese", "sun", "bbc"]) == ["jv", "su", "bbc"]  # names and codes resolve
    golds = {lang: [i.gold for i in load_items(task, lang, shared_data)[0]] for lang in ("en", "jv", "bbc")}
    assert len(golds["en"]) == 400 and golds["en"] == golds["jv"] == golds["bbc"]


def test_request_is_the_text_then_the_question():
    item = to_item({"text": "Mbaya  sana\nleo", "label": "negative"}, "sw", "7")
    assert item.gold == 2 and item.requests[0][0].startswith("Mbaya sana leo\nQuestion: Is the sentiment")
    assert item.requests[0][0].endswith("\nAnswer:") and item.requests[2][1] == " negative"
    assert to_item({"text": "x", "label": "NEUTRAL"}, "ar", "1") is None  # ASTD's "mixed": none of the three
    assert to_item({"text": "x", "label": "OBJ"}, "ar", "1").gold == 1  # objective: no sentiment


def test_f1_weighted_and_macro_by_hand():
    # gold: 2 positive, 1 neutral, 1 negative; the model says positive for all but one positive
    records = [{"gold": 0, "pred": 0}, {"gold": 0, "pred": 2}, {"gold": 1, "pred": 0}, {"gold": 2, "pred": 0}]
    # positive: P=1/3 R=1/2 F1=0.4; neutral: 0; negative: P=0 R=0 -> 0. macro 0.4/3, weighted 0.4*2/4
    assert f1_scores(records) == {"f1_weighted": 0.2, "f1_macro": 0.1333}
    perfect = [{"gold": g, "pred": g} for g in (0, 1, 2, 2)]
    assert f1_scores(perfect) == {"f1_weighted": 1.0, "f1_macro": 1.0}


def test_summary_carries_the_corpus_metrics():
    records = [{"task": "nusax", "lang": "jv", "id": str(i), "gold": g, "pred": p, "acc": float(g == p)}
               for i, (g, p) in enumerate([(0, 0), (0, 2), (1, 0), (2, 0)])]
    out = summarize(records, [("nusax", "jv")], {("nusax", "jv"): {"0", "1", "2", "3"}})
    row = out["nusax"]["jv"]
    assert row["acc"] == 0.25 and row["f1_weighted"] == 0.2 and row["f1_macro"] == 0.1333
    assert out["nusax"]["_mean"] == {"acc": 0.25, "f1_weighted": 0.2, "f1_macro": 0.1333, "langs": 1}


def test_hub_classlabel_ints_read_as_names(tmp_path):
    import datasets

    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "neutral", "positive"])})
    ds = datasets.Dataset.from_dict({"text": ["bagus", "jelek"], "label": [2, 0]}, features=features)
    (tmp_path / "hub").mkdir()
    ds.to_parquet(str(tmp_path / "hub" / "test.parquet"))
    rows, _ = read_hub(str(tmp_path / "hub"), None, "test", None, class_names=True)
    rows = [row for _, row in rows]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert [to_item(r, "id", "0").gold for r in rows] == [0, 2]
    raw, _ = read_hub(str(tmp_path / "hub"), None, "test", None)
    assert [row["label"] for _, row in raw] == [2, 0]  # unchanged without class_names (XNLI reads ints)


def test_a_run_reports_f1_per_language_and_in_the_table(tmp_path, shared_data):
    from eval.bench import run_bench
    from eval.report import table
    from tests.tiny_model import build_tiny_model

    tiny = build_tiny_model(tmp_path / "tiny", chat_template="{% for m in messages %}{{ m['content'] }}\n{% endfor %}")
    card = run_bench(f"hf:{tiny}", ["nusax", "crossalpaca_mmlu"], tmp_path / "run", langs=["jv", "de"], limit=6,
                     data_dir=shared_data, log=lambda m: None)
    jv = card["results"]["nusax"]["jv"]
    assert jv["n"] == 6 and 0 <= jv["f1_macro"] <= 1 and 0 <= jv["f1_weighted"] <= 1
    from eval.results import read_items

    records = [r for r in read_items(tmp_path / "run") if r["task"] == "nusax"]
    assert jv["f1_weighted"] == f1_scores(records)["f1_weighted"]  # the card's F1 is over the run's records
    mmlu = card["results"]["crossalpaca_mmlu"]["de"]
    assert mmlu["n"] == 6 and 0 <= mmlu["em"] <= 1 and "f1" not in mmlu
    text = table([card | {"_dir": str(tmp_path / "run")}])
    assert f"wF1 {jv['f1_weighted']:.3f} n=6" in text and "crossalpaca_mmlu  de" in text

"""Loaders of trainer/data on the real files of ../shared/data, with counts taken from the files.
Fast: no model, no network."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from core.errors import DataError
from tests.data_loading import ALPACA_EN, ALPACA_ZH, MT_BENCH, bad, load, roles
from trainer.data.recipe import Source


def test_alpaca_en_first200(shared_data):
    loaded, ledger = load({"en": Source(format="alpaca", path=ALPACA_EN, lang="en")}, shared_data)
    rows = loaded.rows
    assert len(rows) == 200 and ledger.bad == [] and ledger.seen["en"] == 200
    assert [r.id for r in rows] == [f"en-{i}" for i in range(200)]  # positions, namespaced by the source name
    assert {r.lang for r in rows} == {"en"} and {r.source for r in rows} == {"en"}
    # The file is indented, 5 lines per record: record i opens on line 2 + 5 i.
    assert [r.meta["where"] for r in rows] == [f"alpaca_data.first200.json:{2 + 5 * i}" for i in range(200)]
    assert rows[0].messages == [
        {"role": "user", "content": "Give three tips for staying healthy."},
        {"role": "assistant", "content": "1.Eat a balanced diet and make sure to include plenty of fruits and "
                                         "vegetables. \n2. Exercise regularly to keep your body active and strong. "
                                         "\n3. Get enough sleep and maintain a consistent sleep schedule."}]
    assert rows[0].meta == {"instruction": "Give three tips for staying healthy.",
                            "where": "alpaca_data.first200.json:2"}  # empty input is not kept
    # Non-empty input: user turn = instruction + blank line + input; meta keeps both.
    assert rows[5].messages == [
        {"role": "user", "content": "Identify the odd one out.\n\nTwitter, Instagram, Telegram"},
        {"role": "assistant", "content": "Telegram"}]
    assert rows[5].meta == {"instruction": "Identify the odd one out.", "input": "Twitter, Instagram, Telegram",
                            "where": "alpaca_data.first200.json:27"}
    raw = json.loads((shared_data / ALPACA_EN).read_text(encoding="utf-8"))
    assert sum(bool(r.meta.get("input")) for r in rows) == sum(bool(x["input"].strip()) for x in raw) == 118
    for row, rec in zip(rows, raw):
        assert row.messages[0]["content"] == (f"{rec['instruction']}\n\n{rec['input']}" if rec["input"].strip()
                                              else rec["instruction"])
        assert row.messages[1]["content"] == rec["output"]
    path = shared_data / ALPACA_EN
    assert loaded.inputs == [{"source": "en", "format": "alpaca", "lang": "en", "path": str(path),
                              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}]


def test_alpaca_limit_reads_first_rows(shared_data):
    loaded, ledger = load({"en": Source(format="alpaca", path=ALPACA_EN, lang="en", limit=3)}, shared_data)
    assert [r.id for r in loaded.rows] == ["en-0", "en-1", "en-2"] and ledger.seen["en"] == 3


def test_alpaca_zh_empty_outputs_are_bad_rows_and_ids_pair_with_english(shared_data):
    loaded, ledger = load({"en": Source(format="alpaca", path=ALPACA_EN, lang="en", id_prefix="alpaca-"),
                           "zh": Source(format="alpaca", path=ALPACA_ZH, lang="zh", id_prefix="alpaca-")},
                          shared_data)
    en = [r for r in loaded.rows if r.source == "en"]
    zh = [r for r in loaded.rows if r.source == "zh"]
    assert (len(en), len(zh)) == (200, 4996)
    # Records 284, 1223, 1347, 1736 have output "": exactly those, with the line their record opens on.
    reason = "missing field 'output' (no response)"
    assert bad(ledger) == [("zh", f"zh-data-part-00.first5000.json:{2 + 5 * i}", reason)
                           for i in (284, 1223, 1347, 1736)]
    assert [b.where for b in ledger.bad] == [f"zh-data-part-00.first5000.json:{n}" for n in (1422, 6117, 6737, 8682)]
    assert "no response" in ledger.bad[0].reason
    assert ledger.summary()["zh"] == {"read": 5000, "bad": 4, "reasons": {reason: 4}}
    # Row ids are the record positions: the 4 bad ones leave gaps, the rest stay aligned.
    assert [r.id for r in en] == [f"alpaca-{i}" for i in range(200)]
    assert [r.id for r in zh] == [f"alpaca-{i}" for i in range(5000) if i not in (284, 1223, 1347, 1736)]
    assert zh[284].id == "alpaca-285"
    en0 = next(r for r in en if r.id == "alpaca-0")
    zh0 = next(r for r in zh if r.id == "alpaca-0")
    assert en0.messages[0]["content"] == "Give three tips for staying healthy."
    assert zh0.messages[0]["content"] == "给出三个保持健康的秘诀。"
    assert zh0.messages[1]["content"].startswith("1.均衡饮食，多吃水果和蔬菜。")
    assert (en0.lang, zh0.lang) == ("en", "zh")


def test_lima_llamafactory_history(shared_data):
    loaded, ledger = load({"lima": Source(format="alpaca", path="lima/lima.json", lang="en")}, shared_data)
    rows = loaded.rows
    assert len(rows) == 1029 and ledger.bad == []
    assert Counter(len(r.messages) for r in rows) == {2: 1000, 4: 15, 6: 10, 8: 3, 20: 1}
    multi = [r for r in rows if len(r.messages) > 2]
    assert [r.id for r in multi] == [f"lima-{i}" for i in range(1000, 1029)]  # the 29 multi-turn records
    raw = json.loads((shared_data / "lima/lima.json").read_text(encoding="utf-8"))
    for row in multi:
        rec = raw[int(row.id.removeprefix("lima-"))]
        assert roles(row) == ["user", "assistant"] * (len(row.messages) // 2)
        expected = [t for pair in rec["history"] for t in pair] + [rec["instruction"], rec["output"]]
        assert [m["content"] for m in row.messages] == expected
        assert row.messages[-1] == {"role": "assistant", "content": rec["output"]}
    longest = next(r for r in rows if len(r.messages) == 20)
    assert (longest.id, longest.meta["where"]) == ("lima-1005", "lima.json:6065")
    assert multi[0].meta["where"] == "lima.json:6002"
    assert multi[0].messages[0]["content"].startswith("Most of the books I read give examples using <code")


def test_oasst_zh_llamafactory_export(shared_data):
    loaded, ledger = load({"oasst_zh": Source(format="alpaca", path="oasst1_zh_llamafactory/oaast_sft_zh.json",
                                              lang="zh")}, shared_data)
    rows = loaded.rows
    # All 766 records load (no empty field, every history item is a [user, assistant] pair): no bad rows.
    assert len(rows) == 766 and ledger.bad == [] and ledger.seen["oasst_zh"] == 766
    assert sum(len(r.messages) > 2 for r in rows) == 524  # the records with a non-empty history
    assert Counter(len(r.messages) for r in rows) == {2: 242, 4: 432, 6: 92}
    for row in rows:
        assert roles(row) == ["user", "assistant"] * (len(row.messages) // 2)
        assert row.lang == "zh"


def test_vigogne_oasst_fr_messages(shared_data):
    path = shared_data / "vigogne_fr/oasst_20230412_fr_top1.jsonl"
    loaded, ledger = load({"fr": Source(format="messages", path=str(path), lang="fr")}, shared_data)
    rows = loaded.rows
    assert len(rows) == 256 and ledger.bad == []
    assert sum(roles(r).count("assistant") for r in rows) == 378
    assert Counter(roles(r).count("assistant") for r in rows) == {1: 137, 2: 116, 3: 3}
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r.id for r in rows] == [x["id"] for x in raw]  # the format's own `id` field
    assert rows[0].id == "oasst-20230412-fr-00000000"
    assert [r.meta["where"] for r in rows] == [f"oasst_20230412_fr_top1.jsonl:{i}" for i in range(1, 257)]
    assert rows[0].messages == raw[0]["messages"]


def test_seed_tasks_en_fr_match_one_to_one(shared_data):
    loaded, ledger = load({"en": Source(format="seed_tasks", path="stanford_alpaca/seed_tasks.jsonl", lang="en"),
                           "fr": Source(format="seed_tasks", path="vigogne_fr/seed_tasks_vigogne.jsonl",
                                        lang="fr")}, shared_data)
    assert ledger.bad == []
    en = {r.id: r for r in loaded.rows if r.lang == "en"}
    fr = {r.id: r for r in loaded.rows if r.lang == "fr"}
    ids = [f"seed_task_{i}" for i in range(175)]
    assert [r.id for r in loaded.rows if r.lang == "en"] == ids
    assert [r.id for r in loaded.rows if r.lang == "fr"] == ids
    assert en["seed_task_0"].meta["name"] == fr["seed_task_0"].meta["name"] == "breakfast_suggestion"
    # Same task names, except the one task Vigogne adapted (English->Chinese became French->Chinese).
    assert [(i, en[i].meta["name"], fr[i].meta["name"]) for i in ids if en[i].meta["name"] != fr[i].meta["name"]] \
        == [("seed_task_117", "english_to_chinese_translation", "french_to_chinese_translation")]
    assert en["seed_task_0"].messages[0]["content"].startswith("Is there anything I can eat for a breakfast")
    assert fr["seed_task_0"].messages[0]["content"].startswith("Y a-t-il quelque chose que je peux manger")
    # The first instance is the example: its input goes into the user turn.
    assert en["seed_task_1"].messages == [
        {"role": "user", "content": "What is the relation between the given pairs?\n\nNight : Day :: Right : Left"},
        {"role": "assistant", "content": "The relation between the given pairs is that they are opposites."}]
    assert en["seed_task_1"].meta["where"] == "seed_tasks.jsonl:2"
    assert sum("input" in r.meta for r in en.values()) == 125
    assert sum("input" in r.meta for r in fr.values()) == 126


def _mt_bench(lang_dir: str, **kw) -> Source:
    return Source(format="mt_bench", path=f"{MT_BENCH}/{lang_dir}/question.jsonl",
                  answers=f"{MT_BENCH}/{lang_dir}/reference_answer/gpt-4.jsonl", lang_field="lang", **kw)


def test_mt_bench_de_two_turns_with_reference_answers(shared_data):
    loaded, ledger = load({"mtb": _mt_bench("mt_bench_de", id_prefix="mtbench-")}, shared_data)
    rows = loaded.rows
    assert len(rows) == 80 and ledger.bad == []
    assert [r.id for r in rows] == [f"mtbench-{q}" for q in range(81, 161)]  # question_id
    assert {r.lang for r in rows} == {"de"}  # from the row's "lang": "German"
    assert all(roles(r) == ["user", "assistant", "user", "assistant"] for r in rows)
    questions = [json.loads(x) for x in (shared_data / MT_BENCH / "mt_bench_de/question.jsonl").open(encoding="utf-8")]
    answers = {a["question_id"]: a["choices"][0]["turns"] for a in map(
        json.loads, (shared_data / MT_BENCH / "mt_bench_de/reference_answer/gpt-4.jsonl").open(encoding="utf-8"))}
    assert questions[0]["lang"] == "German"
    for row, q in zip(rows, questions):
        a = answers[q["question_id"]]
        assert [m["content"] for m in row.messages] == [q["turns"][0], a[0], q["turns"][1], a[1]]
        assert row.meta["category"] == q["category"]
    first = rows[0]
    assert first.messages[0]["content"].startswith("Verfassen Sie einen fesselnden Reiseblog-Beitrag")
    assert first.messages[1]["content"].startswith('Titel: "Hawaii: Eine Oase der Kultur')
    assert first.meta == {"category": "writing", "where": "question.jsonl:1"}
    assert loaded.inputs[0]["lang"] is None  # languages come from the rows


def test_mt_bench_urdu_has_79_questions(shared_data):
    loaded, ledger = load({"mtb_ur": _mt_bench("mt_bench_urdu")}, shared_data)
    assert len(loaded.rows) == 79 and ledger.bad == []
    assert {r.lang for r in loaded.rows} == {"ur"}
    assert [r.id for r in loaded.rows] == [str(q) for q in range(81, 161) if q != 100]  # question 100 is absent


def test_mt_bench_answers_file_missing(shared_data):
    src = Source(format="mt_bench", path=f"{MT_BENCH}/mt_bench_de/question.jsonl",
                 answers=f"{MT_BENCH}/mt_bench_de/reference_answer/nope.jsonl", lang_field="lang")
    with pytest.raises(DataError, match=r"Source 'mtb': answers file .*nope\.jsonl not found"):
        load({"mtb": src}, shared_data)


def test_xquad_squad_paragraphs_aligned_across_languages(shared_data):
    seen = []
    loaded, ledger = load({"xquad": Source(format="squad", path="xquad/xquad.{lang}.json", langs=["en", "de", "zh"])},
                          shared_data, progress=seen.append)
    assert seen == ["xquad/en", "xquad/de", "xquad/zh"]
    assert loaded.rows == [] and ledger.bad == []
    assert Counter((s.source, s.lang) for s in loaded.segments) == {
        ("xquad/en", "en"): 240, ("xquad/de", "de"): 240, ("xquad/zh", "zh"): 240}
    ids = {lang: [s.id for s in loaded.segments if s.lang == lang] for lang in ("en", "de", "zh")}
    assert ids["en"] == ids["de"] == ids["zh"] and len(set(ids["en"])) == 240
    assert ids["en"][:2] == ["56beb4343aeaaa14008c925b", "56beb7953aeaaa14008c92ab"]
    first = {s.lang: s.text for s in loaded.segments if s.id == "56beb4343aeaaa14008c925b"}
    assert first["en"].startswith("The Panthers defense gave up just 308 points")
    assert first["de"].startswith("Die Verteidigung der Panthers gab nur 308")
    assert first["zh"].startswith("黑豹队的防守只丢了 308分")
    assert [(i["source"], i["lang"], Path(i["path"]).name) for i in loaded.inputs] == [
        ("xquad/en", "en", "xquad.en.json"), ("xquad/de", "de", "xquad.de.json"), ("xquad/zh", "zh", "xquad.zh.json")]


def test_flores_text_ids_are_line_positions(shared_data):
    loaded, ledger = load({
        "flores_en": Source(format="text", path="flores200_devtest/devtest/eng_Latn.devtest.txt", lang="en",
                            id_prefix="flores-"),
        "flores_de": Source(format="text", path="flores200_devtest/devtest/deu_Latn.devtest.txt", lang="de"),
    }, shared_data)
    assert ledger.bad == [] and loaded.rows == []
    en = [s for s in loaded.segments if s.lang == "en"]
    de = [s for s in loaded.segments if s.lang == "de"]
    assert len(en) == len(de) == 1012
    assert [s.id for s in en] == [f"flores-{i}" for i in range(1012)]
    assert [s.id for s in de] == [f"flores_de-{i}" for i in range(1012)]  # default: source name + position
    lines = (shared_data / "flores200_devtest/devtest/deu_Latn.devtest.txt").read_text(encoding="utf-8").split("\n")
    assert [s.text for s in de] == [x.strip() for x in lines[:1012]]
    assert de[0].text == ("„Wir haben jetzt 4 Monate alte Mäuse, die Diabetes hatten und jetzt keinen mehr haben“, "
                          "fügte er hinzu.")
    assert en[0].text == ('"We now have 4-month-old mice that are non-diabetic that used to be diabetic," he added.')

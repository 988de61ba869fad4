"""Loaders of trainer/data (readers, formats, sources): real files from shared/data with counts taken from the
files, synthetic files for the formats the shared data lacks, and bad input (reported with file:line, fatal
only over `max_bad_fraction`). Fast: no model, no network."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ConfigError, DataError
from trainer.data.recipe import Recipe, Source, load_recipe
from trainer.data.schema import BadRows
from trainer.data.sources import load_sources

ALPACA_EN = "stanford_alpaca/alpaca_data.first200.json"
ALPACA_ZH = "alpaca_zh_carbonz0/zh-data-part-00.first5000.json"
MT_BENCH = "mt_bench_multilingual_m2lingual"


def load(sources: dict[str, Source], data_dir: Path, max_fraction: float = 0.01, progress=None):
    ledger = BadRows(max_fraction=max_fraction)
    return load_sources(sources, data_dir, ledger, progress), ledger


def bad(ledger: BadRows) -> list[tuple[str, str, str]]:
    return [(b.source, b.where, b.reason) for b in ledger.bad]


def roles(row) -> list[str]:
    return [m["role"] for m in row.messages]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list) -> Path:
    return write_lines(path, [json.dumps(r, ensure_ascii=False) for r in records])


def write_json_array(path: Path, records: list) -> Path:
    """One record per line, so record i starts on line i + 2."""
    path.write_text("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n",
                    encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------- real files


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


# ----------------------------------------------------------------------------------------- synthetic files


def test_dolly(tmp_path):
    write_jsonl(tmp_path / "dolly.jsonl", [
        {"instruction": "When did Virgin Australia start operating?",
         "context": "Virgin Australia commenced services on 31 August 2000 as Virgin Blue.",
         "response": "Virgin Australia commenced services on 31 August 2000.", "category": "closed_qa"},
        {"instruction": "Which is a species of fish? Tope or Rope", "context": "", "response": "Tope",
         "category": "classification"},
    ])
    loaded, ledger = load({"dolly": Source(format="dolly", path="dolly.jsonl", lang="en")}, tmp_path)
    assert ledger.bad == []
    r0, r1 = loaded.rows
    assert r0.messages == [
        {"role": "user", "content": "When did Virgin Australia start operating?\n\n"
                                    "Virgin Australia commenced services on 31 August 2000 as Virgin Blue."},
        {"role": "assistant", "content": "Virgin Australia commenced services on 31 August 2000."}]
    assert r0.meta == {"instruction": "When did Virgin Australia start operating?",
                       "input": "Virgin Australia commenced services on 31 August 2000 as Virgin Blue.",
                       "category": "closed_qa", "where": "dolly.jsonl:1"}
    assert r1.messages[0] == {"role": "user", "content": "Which is a species of fish? Tope or Rope"}
    assert r1.meta == {"instruction": "Which is a species of fish? Tope or Rope", "category": "classification",
                       "where": "dolly.jsonl:2"}
    assert [r.id for r in loaded.rows] == ["dolly-0", "dolly-1"]


def test_sharegpt_roles_and_unknown_speaker(tmp_path):
    write_json_array(tmp_path / "sharegpt.json", [
        {"id": "sg1", "conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                                        {"from": "gpt", "value": "Hello!"}, {"from": "human", "value": "Bye"},
                                        {"from": "gpt", "value": "Bye!"}]},
        {"id": "sg2", "conversations": [{"from": "human", "value": "Who are you?"},
                                        {"from": "narrator", "value": "He paused."}]},
        {"id": "sg3", "conversations": [{"from": "user", "value": "2+2?"}, {"from": "chatgpt", "value": "4"}]},
    ])
    loaded, ledger = load({"sg": Source(format="sharegpt", path="sharegpt.json", lang="en")}, tmp_path,
                          max_fraction=0.5)
    assert [r.id for r in loaded.rows] == ["sg1", "sg3"]
    assert loaded.rows[0].messages == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Bye!"}]
    assert roles(loaded.rows[1]) == ["user", "assistant"]
    assert loaded.rows[1].meta == {"where": "sharegpt.json:4"}
    assert bad(ledger) == [("sg", "sharegpt.json:3", "unknown speaker 'narrator' in 'conversations'")]


def test_lima_hub_format(tmp_path):
    write_jsonl(tmp_path / "lima_hub.jsonl", [
        {"conversations": ["What is 2+2?", "4."], "source": "stackexchange"},
        {"conversations": ["Name a color.", "Blue.", "Another one?", "Green."], "source": "multi_turn"},
        {"conversations": ["Q1", "A1", "Q2 left unanswered"], "source": "multi_turn"},
    ])
    loaded, ledger = load({"lima_hub": Source(format="lima", path="lima_hub.jsonl", lang="en")}, tmp_path,
                          max_fraction=0.5)
    assert [r.id for r in loaded.rows] == ["lima_hub-0", "lima_hub-1"]
    assert loaded.rows[1].messages == [
        {"role": "user", "content": "Name a color."}, {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"}, {"role": "assistant", "content": "Green."}]
    assert loaded.rows[0].meta == {"origin": "stackexchange", "where": "lima_hub.jsonl:1"}
    assert bad(ledger) == [("lima_hub", "lima_hub.jsonl:3",
                            "no response: the conversation does not end with an assistant message")]


def test_oasst_message_tree_follows_best_ranked_path(tmp_path):
    def msg(mid, parent, role, text, rank=None, tree="t1", lang="de", **kw):
        return {"message_id": mid, "parent_id": parent, "role": role, "text": text, "rank": rank,
                "message_tree_id": tree, "lang": lang, **kw}

    records = [
        msg("a-best", "p1", "assistant", "Mir geht es gut, danke!", rank=1),  # child before its parent
        msg("p1", None, "prompter", "Wie geht es dir?"),  # line 2: root of t1
        msg("a-deleted", "p1", "assistant", "(gelöscht)", rank=0, deleted=True),
        msg("a-worse", "p1", "assistant", "Schlecht.", rank=2),
        msg("p2-second", "a-best", "prompter", "Und sonst?", rank=1),
        msg("p2", "a-best", "prompter", "Was machst du heute?", rank=0),
        msg("a3", "p2", "assistant", "Ich lese ein Buch."),  # the only reply: no rank
        msg("x", "a-worse", "prompter", "Warum?", rank=0),
        msg("q1", None, "prompter", "Quelle est la capitale de la France ?", tree="t2", lang="fr"),  # line 9
        msg("b1", "q1", "assistant", "Paris.", rank=0, tree="t2", lang="fr"),
        msg("q2", "b1", "prompter", "Et de l'Italie ?", rank=0, tree="t2", lang="fr"),  # unanswered: dropped
        msg("k1", None, "prompter", "nuqneH", tree="t3", lang="Klingon"),  # line 12
        msg("k2", "k1", "assistant", "Qapla'", rank=0, tree="t3", lang="Klingon"),
    ]
    path = write_jsonl(tmp_path / "oasst.jsonl", records)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"message_id": "broken", "parent_id": \n')  # line 14
    loaded, ledger = load({"oa": Source(format="oasst", path="oasst.jsonl", lang_field="lang")}, tmp_path,
                          max_fraction=1.0)
    t1, t2 = loaded.rows
    assert (t1.id, t1.lang, t1.meta["where"]) == ("t1", "de", "oasst.jsonl:2")
    assert t1.messages == [
        {"role": "user", "content": "Wie geht es dir?"}, {"role": "assistant", "content": "Mir geht es gut, danke!"},
        {"role": "user", "content": "Was machst du heute?"}, {"role": "assistant", "content": "Ich lese ein Buch."}]
    assert (t2.id, t2.lang, t2.meta["where"]) == ("t2", "fr", "oasst.jsonl:9")
    assert t2.messages == [{"role": "user", "content": "Quelle est la capitale de la France ?"},
                           {"role": "assistant", "content": "Paris."}]
    assert bad(ledger) == [
        ("oa", "oasst.jsonl:14", "broken JSON line (Expecting value at column 39)"),
        ("oa", "oasst.jsonl:12", "unknown language 'Klingon'"),
    ]


def _alpaca_table_rows():
    return [["instruction", "input", "output"],
            ["Translate to German", "Good morning, friends", "Guten Morgen, Freunde"],
            ["Write a haiku\nabout rain", "", "Rain taps the window\nsoft and slow"],
            ["Say hi", "", "Hi!"]]


def _check_alpaca_table(loaded, ledger, name, wheres):
    assert ledger.bad == []
    assert [r.meta["where"] for r in loaded.rows] == wheres
    assert [r.id for r in loaded.rows] == [f"{name}-0", f"{name}-1", f"{name}-2"]
    assert loaded.rows[0].messages == [{"role": "user", "content": "Translate to German\n\nGood morning, friends"},
                                       {"role": "assistant", "content": "Guten Morgen, Freunde"}]
    assert loaded.rows[1].messages == [{"role": "user", "content": "Write a haiku\nabout rain"},
                                       {"role": "assistant", "content": "Rain taps the window\nsoft and slow"}]
    assert loaded.rows[2].meta == {"instruction": "Say hi", "where": wheres[2]}


@pytest.mark.parametrize("suffix,delimiter,encoding", [(".csv", ",", "utf-8"), (".tsv", "\t", "utf-8"),
                                                        (".csv", ",", "utf-8-sig")],
                         ids=["csv", "tsv", "csv-with-bom"])
def test_alpaca_csv_tsv(tmp_path, suffix, delimiter, encoding):
    """Line numbers count the physical lines of quoted multi-line fields; a byte-order mark (Excel's "CSV UTF-8")
    is not part of the first column name."""
    path = tmp_path / f"alpaca{suffix}"
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(_alpaca_table_rows())
    loaded, ledger = load({"tab": Source(format="alpaca", path=path.name, lang="en")}, tmp_path)
    _check_alpaca_table(loaded, ledger, "tab", [f"{path.name}:2", f"{path.name}:3", f"{path.name}:6"])


def test_alpaca_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    header, *rows = _alpaca_table_rows()
    records = [dict(zip(header, r)) for r in rows] + [{"instruction": "No answer", "input": "", "output": None}]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "alpaca.parquet")
    loaded, ledger = load({"pq": Source(format="alpaca", path="alpaca.parquet", lang="en")}, tmp_path,
                          max_fraction=0.5)
    assert bad(ledger) == [("pq", "alpaca.parquet row 3", "missing field 'output' (no response)")]
    ledger.bad.clear()
    _check_alpaca_table(loaded, ledger, "pq", ["alpaca.parquet row 0", "alpaca.parquet row 1", "alpaca.parquet row 2"])


def test_txt_parallel_pair_from_recipe(tmp_path):
    write_lines(tmp_path / "pair.en.txt", ["Good morning.", "The cat sleeps.", "", "Thank you very much."])
    write_lines(tmp_path / "pair.de.txt", ["Guten Morgen.", "Die Katze schläft.", "", "Vielen Dank."])
    (tmp_path / "recipe.yaml").write_text(
        "name: pair\n"
        "max_bad_fraction: 0.3\n"
        "sources:\n"
        "  pair: {format: text, path: 'pair.{lang}.txt', langs: [en, German], id_prefix: 's-'}\n", encoding="utf-8")
    recipe = load_recipe(tmp_path / "recipe.yaml")
    assert recipe.sources["pair"].langs == ["en", "de"]  # names become codes
    loaded, ledger = load(recipe.sources, tmp_path, max_fraction=recipe.max_bad_fraction)
    en = {s.id: s.text for s in loaded.segments if s.lang == "en"}
    de = {s.id: s.text for s in loaded.segments if s.lang == "de"}
    assert en == {"s-0": "Good morning.", "s-1": "The cat sleeps.", "s-3": "Thank you very much."}
    assert de == {"s-0": "Guten Morgen.", "s-1": "Die Katze schläft.", "s-3": "Vielen Dank."}
    assert {s.source for s in loaded.segments} == {"pair/en", "pair/de"}
    # The blank line is reported, and the ids (line positions) keep the pair aligned past it.
    assert bad(ledger) == [("pair/en", "pair.en.txt:3", "empty text"), ("pair/de", "pair.de.txt:3", "empty text")]


# ----------------------------------------------------------------------------------------------- bad input


def test_jsonl_broken_line_is_reported_and_the_rest_loads(tmp_path):
    write_lines(tmp_path / "data.jsonl", [
        json.dumps({"instruction": "A", "input": "", "output": "a"}),
        '{"instruction": "B", "input": "", "output": "b"',  # unterminated object
        json.dumps({"instruction": "C", "input": "", "output": "c"}),
        "",
        json.dumps({"instruction": "D", "input": "", "output": "d"}),
    ])
    loaded, ledger = load({"data": Source(format="alpaca", path="data.jsonl", lang="en")}, tmp_path,
                          max_fraction=0.25)
    assert [(r.id, r.messages[0]["content"], r.meta["where"]) for r in loaded.rows] == [
        ("data-0", "A", "data.jsonl:1"), ("data-2", "C", "data.jsonl:3"), ("data-3", "D", "data.jsonl:5")]
    assert bad(ledger) == [("data", "data.jsonl:2", "broken JSON line (Expecting ',' delimiter at column 48)")]
    assert ledger.seen["data"] == 4


def test_jsonl_unicode_line_separators_inside_strings(tmp_path):
    """U+2028 / U+0085 are valid raw inside JSON strings (ensure_ascii=False writes them): they do not end a line."""
    write_jsonl(tmp_path / "seps.jsonl", [
        {"instruction": "First\u2028line", "input": "", "output": "Eins\u0085zwei"},
        {"instruction": "Second", "input": "", "output": "two\u2029"},
    ])
    loaded, ledger = load({"seps": Source(format="alpaca", path="seps.jsonl", lang="en")}, tmp_path)
    assert ledger.bad == []
    assert [(r.messages[0]["content"], r.messages[1]["content"], r.meta["where"]) for r in loaded.rows] == [
        ("First\u2028line", "Eins\u0085zwei", "seps.jsonl:1"), ("Second", "two\u2029", "seps.jsonl:2")]


def test_rows_without_response(tmp_path):
    write_jsonl(tmp_path / "noresp.jsonl", [
        {"instruction": "Fine", "input": "", "output": "ok"},
        {"instruction": "Empty output", "input": "", "output": "   "},
        {"instruction": "No output key", "input": ""},
    ])
    write_jsonl(tmp_path / "msgs.jsonl", [
        {"id": "m1", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
        {"id": "m2", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                                  {"role": "user", "content": "Still there?"}]},
    ])
    loaded, ledger = load({"noresp": Source(format="alpaca", path="noresp.jsonl", lang="en"),
                           "msgs": Source(format="messages", path="msgs.jsonl", lang="en")}, tmp_path,
                          max_fraction=1.0)
    assert [r.id for r in loaded.rows] == ["noresp-0", "m1"]
    assert bad(ledger) == [
        ("noresp", "noresp.jsonl:2", "missing field 'output' (no response)"),
        ("noresp", "noresp.jsonl:3", "missing field 'output' (no response)"),
        ("msgs", "msgs.jsonl:2", "no response: the conversation does not end with an assistant message"),
    ]


def test_unknown_language_in_lang_field_is_a_bad_row(tmp_path):
    write_jsonl(tmp_path / "langs.jsonl", [
        {"instruction": "Hallo", "input": "", "output": "Hallo!", "language": "German"},
        {"instruction": "Bonjour", "input": "", "output": "Salut !", "language": "fr"},
        {"instruction": "nuqneH", "input": "", "output": "Qapla'", "language": "Klingon"},
        {"instruction": "?", "input": "", "output": "!"},
    ])
    loaded, ledger = load({"l": Source(format="alpaca", path="langs.jsonl", lang_field="language")}, tmp_path,
                          max_fraction=0.5)
    assert [(r.id, r.lang) for r in loaded.rows] == [("l-0", "de"), ("l-1", "fr")]
    assert bad(ledger) == [("l", "langs.jsonl:3", "unknown language 'Klingon'"),
                           ("l", "langs.jsonl:4", "missing language field 'language'")]


def test_unknown_declared_language_in_recipe_suggests_close_codes():
    with pytest.raises(ConfigError) as err:
        load_config(Recipe, {"name": "t", "sources": {"zh": {"format": "alpaca", "path": "a.json", "lang": "zhh"}}})
    assert "sources.zh: Unknown language 'zhh'. Did you mean: zh" in str(err.value)
    with pytest.raises(ConfigError, match=r"Unknown language 'Germn'\. Did you mean: German"):
        load_config(Recipe, {"name": "t", "sources": {
            "x": {"format": "text", "path": "x.{lang}.txt", "langs": ["en", "Germn"]}}})


@pytest.mark.parametrize("body,where,what", [
    ('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c", "output": }\n]\n', "3:34",
     "Expecting value"),
    ('[\n  {"instruction": "a", "output": "b"}\n  {"instruction": "c", "output": "d"}\n]\n', "3:3",
     "expected ',' or ']'"),  # missing comma: not silently accepted
    ('["a", "b"]\n["c", "d"]\n', "2:1", "data after the end of the JSON array"),  # JSONL of arrays: not dropped
    ('[\n  {"instruction": "a", "output": "b"},\n', None, "the JSON array is not closed"),
], ids=["bad-value", "missing-comma", "data-after-array", "truncated"])
def test_malformed_json_array_names_file_line_col(tmp_path, body, where, what):
    (tmp_path / "broken.json").write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load({"b": Source(format="alpaca", path="broken.json", lang="en")}, tmp_path)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'broken.json'}:{where}: " if where else f"{tmp_path / 'broken.json'}: ")
    assert what in message


def test_bad_rows_over_max_fraction_stop_with_examples(tmp_path):
    good = {"instruction": "Q", "input": "", "output": "A"}
    nothing = {"instruction": "Q", "input": "", "output": ""}
    write_jsonl(tmp_path / "mostly_bad.jsonl", [good, good, good] + [nothing] * 7)
    with pytest.raises(DataError) as err:
        load({"mb": Source(format="alpaca", path="mostly_bad.jsonl", lang="en")}, tmp_path, max_fraction=0.1)
    message = str(err.value)
    assert message.startswith("Source 'mb': 7 of 10 rows are malformed (70.0%), over the limit of 10.0%:\n")
    for line in range(4, 9):  # the first five, then a count of the rest
        assert f"  mostly_bad.jsonl:{line}: missing field 'output' (no response)\n" in message
    assert "mostly_bad.jsonl:9:" not in message and "  ... and 2 more\n" in message
    assert "max_bad_fraction" in message
    # At the limit (1 of 10 = 10%) the build goes on.
    write_jsonl(tmp_path / "one_bad.jsonl", [good] * 9 + [nothing])
    loaded, ledger = load({"ob": Source(format="alpaca", path="one_bad.jsonl", lang="en")}, tmp_path,
                          max_fraction=0.1)
    assert len(loaded.rows) == 9 and bad(ledger) == [("ob", "one_bad.jsonl:10", "missing field 'output' (no response)")]


def test_missing_file_without_hub_mentions_data_dir(tmp_path):
    with pytest.raises(DataError) as err:
        load({"gone": Source(format="alpaca", path="nowhere/alpaca.json", lang="en")}, tmp_path)
    message = str(err.value)
    assert message.startswith(f"Source 'gone': file {tmp_path / 'nowhere/alpaca.json'} not found.")
    assert "--data-dir" in message and "`hub:`" in message


def test_duplicate_ids_within_a_source_are_bad_rows(tmp_path):
    write_json_array(tmp_path / "dups.json", [
        {"id": "a", "conversations": [{"from": "human", "value": "1?"}, {"from": "gpt", "value": "1"}]},
        {"id": "b", "conversations": [{"from": "human", "value": "2?"}, {"from": "gpt", "value": "2"}]},
        {"id": "a", "conversations": [{"from": "human", "value": "3?"}, {"from": "gpt", "value": "3"}]},
    ])
    loaded, ledger = load({"d": Source(format="sharegpt", path="dups.json", lang="en"),
                           "d2": Source(format="sharegpt", path="dups.json", lang="en", limit=1)}, tmp_path,
                          max_fraction=0.5)
    assert [(r.source, r.id, r.messages[1]["content"]) for r in loaded.rows] == [
        ("d", "a", "1"), ("d", "b", "2"), ("d2", "a", "1")]  # the same id in another source is no duplicate
    assert bad(ledger) == [("d", "dups.json:4", "duplicate id 'a' for language en")]


def test_text_source_bad_records_are_reported_not_raised(tmp_path):
    """A jsonl text source: a record without the recipe's `id_field` and a broken line go to the ledger."""
    write_lines(tmp_path / "sents.jsonl", [
        json.dumps({"id": "s1", "text": " One. "}),
        json.dumps({"text": "No id."}),
        '{"id": "s3", "text": ',
        json.dumps({"id": "s4", "sentence": "Wrong column."}),
        json.dumps({"id": "s5", "text": "Five."}),
    ])
    loaded, ledger = load({"s": Source(format="text", path="sents.jsonl", lang="en", text_field="text",
                                       id_field="id")}, tmp_path, max_fraction=1.0)
    assert [(s.id, s.text) for s in loaded.segments] == [("s1", "One."), ("s5", "Five.")]
    assert bad(ledger) == [("s", "sents.jsonl:2", "missing id field 'id'"),
                           ("s", "sents.jsonl:3", "broken JSON line (Expecting value at column 22)"),
                           ("s", "sents.jsonl:4", "no text (set `text_field:`; got dict)")]


def test_squad_format_on_a_non_squad_file(tmp_path):
    write_json_array(tmp_path / "alpaca.json", [{"instruction": "a", "output": "b"}])
    with pytest.raises(DataError, match=r"Source 'q': .*alpaca\.json is not a SQuAD-style file"):
        load({"q": Source(format="squad", path="alpaca.json", lang="en")}, tmp_path)
    (tmp_path / "bad.json").write_text('{"data": [\n  {"title": }\n]}', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json:2:13: not valid JSON \(Expecting value\)"):
        load({"q": Source(format="squad", path="bad.json", lang="en")}, tmp_path)


# --------------------------------------------------------------------------------------------------- hub


def test_hub_only_source_offline_fails_fast_with_local_path_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets
    import huggingface_hub.constants

    # Both libraries read the variable at import, which may have happened in an earlier test.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    hub = "polyglot-lab-tests/no-such-dataset"
    for src in (Source(format="alpaca", hub=hub, lang="en"),
                Source(format="alpaca", hub=hub, path="not/here.json", lang="en")):  # no local file: the hub
        start = time.monotonic()
        with pytest.raises(DataError) as err:
            load({"h": src}, tmp_path)
        assert time.monotonic() - start < 15
        message = str(err.value)
        assert message.startswith(f"Cannot load hub dataset '{hub}' (config=None, split='train'): ")
        assert "download the files and set `path:` in the recipe (resolved under --data-dir)" in message

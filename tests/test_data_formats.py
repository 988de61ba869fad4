"""Loaders of trainer/data on synthetic files, for the formats and file types the shared data lacks."""

from __future__ import annotations

import csv

import pytest

from tests.data_loading import bad, load, roles, write_json_array, write_jsonl, write_lines
from trainer.data.recipe import Source, load_recipe


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
        msg("k1", None, "prompter", "nuqneH", tree="t3", lang="Elvish"),  # line 12
        msg("k2", "k1", "assistant", "Qapla'", rank=0, tree="t3", lang="Elvish"),
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
        ("oa", "oasst.jsonl:12", "unknown language 'Elvish'"),
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

"""Bad input to the trainer/data loaders: reported with file:line, fatal only over `max_bad_fraction`;
a hub-only source offline fails fast with a hint to a local path."""

from __future__ import annotations

import json
import time

import pytest

from core.config import load_config
from core.errors import ConfigError, DataError
from tests.data_loading import bad, load, write_json_array, write_jsonl, write_lines
from trainer.data.recipe import Recipe, Source


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
        {"instruction": "nuqneH", "input": "", "output": "Qapla'", "language": "Elvish"},
        {"instruction": "?", "input": "", "output": "!"},
    ])
    loaded, ledger = load({"l": Source(format="alpaca", path="langs.jsonl", lang_field="language")}, tmp_path,
                          max_fraction=0.5)
    assert [(r.id, r.lang) for r in loaded.rows] == [("l-0", "de"), ("l-1", "fr")]
    assert bad(ledger) == [("l", "langs.jsonl:3", "unknown language 'Elvish'"),
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




def test_hub_only_source_offline_fails_fast_with_local_path_hint(tmp_path, offline_hub):
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

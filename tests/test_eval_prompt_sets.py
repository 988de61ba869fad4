"""Prompt sets that need no --data-dir: the packaged `examples` (every prompt detected as its language) and a
user's .jsonl file (langs, ids, turns; every kind of bad file stops early with its line and the fix)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from core.errors import ConfigError, DataError
from core.languages import detect
from eval.judge import _references
from eval.prompt_sets import EXAMPLES, SETS, get_set, load_prompts


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_examples_are_packaged_and_detected_as_their_language():
    ps = get_set("examples")
    rows = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    counts = Counter(r["lang"] for r in rows)
    assert len(counts) >= 12 and set(counts.values()) == {5} and tuple(counts) == ps.langs
    categories = {r["category"] for r in rows}
    assert len(categories) == 5 and all({r["category"] for r in rows if r["lang"] == lang} == categories
                                        for lang in counts)
    for lang in ps.langs:
        prompts = load_prompts(ps, lang, None)  # packaged: no --data-dir
        assert [p.id for p in prompts] == [f"{lang}-{i}" for i in range(1, 6)]
        for p in prompts:
            code, conf = detect(p.turns[0])
            assert code == lang and conf >= 0.5, (p.id, code, conf, p.turns[0])
    assert load_prompts(ps, "sw", None, limit=2)[1].category == "explain"


def test_user_file_loads_with_its_langs_ids_and_turns(tmp_path):
    path = _write(tmp_path / "mine.jsonl", [
        {"lang": "de", "id": "a", "category": "chat", "prompt": "Wie geht es dir heute?"},
        {"lang": "French", "turns": ["Bonjour, qui es-tu ?", "Et que sais-tu faire ?"]},
        {"lang": "de-AT", "instruction": "Erzähl mir einen Witz."},
    ])
    ps = get_set(str(path))
    assert ps.name == str(path) and ps.langs == ("de", "fr")
    de = load_prompts(ps, "de", None)
    assert [(p.id, p.category, p.turns) for p in de] == [("a", "chat", ("Wie geht es dir heute?",)),
                                                         ("2", "", ("Erzähl mir einen Witz.",))]
    assert load_prompts(ps, "fr", None)[0].turns == ("Bonjour, qui es-tu ?", "Et que sais-tu faire ?")
    assert len(load_prompts(ps, "de", None, limit=1)) == 1
    with pytest.raises(ConfigError, match="has no language 'en'; its languages are: de, fr"):
        load_prompts(ps, "en", None)


def test_no_references_for_packaged_or_user_sets(tmp_path):
    path = _write(tmp_path / "mine.jsonl", [{"lang": "de", "prompt": "Hallo, wie geht's?"}])
    assert _references(tmp_path, str(path), "de") == {} and _references(None, str(path), "de") == {}
    assert _references(tmp_path, "examples", "de") == {} and _references(None, "examples", "de") == {}
    path.unlink()  # judging answers after the prompt file moved away still works
    assert _references(tmp_path, str(path), "de") == {}


BAD_FILES = [
    ("prompts.csv", "lang,prompt\nde,Hallo\n", ConfigError, r"prompts\.csv: a prompt file must be JSON Lines"),
    ("csv.jsonl", "lang,prompt\nde,Hallo\n", DataError, r"csv\.jsonl:1: broken JSON line.*one JSON object per line"),
    ("pdf.jsonl", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", DataError,
     r"pdf\.jsonl is not a text file \(it is a PDF\).*JSON Lines text"),
    ("list.jsonl", '{"lang": "de", "prompt": "Hallo"}\n["de", "Hallo"]\n', DataError,
     r"list\.jsonl:2: a JSON list, not an object.*one JSON object per line"),
    ("nolang.jsonl", '{"lang": "de", "prompt": "Hallo"}\n\n{"prompt": "Hello"}\n', DataError,
     r"nolang\.jsonl:3: no `lang`; give every row"),
    ("badlang.jsonl", '{"lang": "deutch", "prompt": "Hallo"}\n', DataError,
     r"badlang\.jsonl:1: Unknown language 'deutch'.*Use an ISO 639-1 code"),
    ("noprompt.jsonl", '{"lang": "de", "id": "x"}\n', DataError, r"noprompt\.jsonl:1: no prompt text; give the row"),
    ("blank.jsonl", '{"lang": "de", "prompt": "  "}\n', DataError, r"blank\.jsonl:1: an empty or non-text prompt"),
    ("twice.jsonl", '{"lang": "de", "id": 1, "prompt": "A"}\n{"lang": "de", "id": "1", "prompt": "B"}\n', DataError,
     r"twice\.jsonl:2: id '1' repeats in de; give every row"),
    ("empty.jsonl", "\n\n", DataError, r"empty\.jsonl holds no prompts; write one JSON object per line"),
    ("missing.jsonl", None, DataError, r"missing\.jsonl not found; give the path of an existing \.jsonl file"),
]


@pytest.mark.parametrize(("name", "content", "error", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_prompt_files_say_where_and_how_to_fix(tmp_path, name, content, error, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(error, match=message):
        get_set(str(path))


def test_unknown_set_lists_the_sets():
    with pytest.raises(ConfigError, match=r"Unknown prompt set 'exampels'.*hplt, .*examples.*\.jsonl"):
        get_set("exampels")
    assert "examples" in SETS


def test_generate_answers_a_user_file(tmp_path):
    from eval.generate import run_generate

    path = _write(tmp_path / "two.jsonl", [
        {"lang": "en", "prompt": "Explain in a few sentences why the sky is blue."},
        {"lang": "es", "prompt": "Explica en unas pocas frases por qué el cielo es azul."},
        {"lang": "es", "prompt": "¿Qué es la Ruta de la Seda?"},
    ])
    card = run_generate("smollm2-135m", str(path), tmp_path / "out", limit=1, max_tokens=8)
    assert card["set"] == str(path) and card["langs"] == ["en", "es"]
    assert {lang: r["n"] for lang, r in card["agreement"].items()} == {"en": 1, "es": 1}

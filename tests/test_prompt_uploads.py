"""Bad prompt-file uploads (binary, not UTF-8, huge, too many rows, too deep, unknown lang, empty) each raise one
DataError naming the file and the fix; a good file beside them still reads, and the app stages nothing bad."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core.errors import DataError
from eval.prompt_files import MAX_FILE_BYTES, MAX_PROMPT_CHARS, MAX_PROMPTS
from eval.prompt_sets import get_set, load_prompts


def _rows(*rows: dict) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _nested(depth: int) -> bytes:
    return b'{"lang": "de", "prompt": ' + b"[" * depth + b"]" * depth + b"}\n"


GOOD = [{"lang": "de", "prompt": "Wie geht es dir heute?"}, {"lang": "fr", "prompt": "Bonjour, qui es-tu ?"}]

# (file name, its bytes, what the message must say besides the name: the problem and the fix)
BAD = [
    ("photo.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
     r"photo\.jsonl is not a text file \(it is a PNG image\)\. A prompt file is JSON Lines text"),
    ("noise.jsonl", random.Random(0).randbytes(3000) + b"\x00",
     r"noise\.jsonl is not a text file \(byte [\d,]+ is a NUL.*A prompt file is JSON Lines text"),
    ("latin1.jsonl", _rows(GOOD[1]) + '{"lang": "fr", "prompt": "Un café ?"}\n'.encode("latin-1"),
     r"latin1\.jsonl:2: not UTF-8 text: byte 0xE9 at byte 33 of the line \(byte 82 of the file\).*save it as UTF-8"),
    ("utf16.jsonl", _rows(*GOOD).decode().encode("utf-16"), r"utf16\.jsonl is UTF-16 text.*save it as UTF-8"),
    ("huge.jsonl", _rows({"lang": "de", "prompt": "a" * 900_000}),
     rf"huge\.jsonl:1: a prompt of 900,000 characters; .* at most {MAX_PROMPT_CHARS:,}\. Shorten it"),
    ("many.jsonl", _rows(*({"lang": "de", "id": i, "prompt": f"Hallo {i}"} for i in range(100_000))),
     rf"many\.jsonl has 100,000 prompts; .* at most {MAX_PROMPTS:,}\. Split it"),
    ("many-array.jsonl", json.dumps([{"lang": "de", "id": i, "prompt": "Hallo"} for i in range(20_000)]).encode(),
     rf"many-array\.jsonl has more than {MAX_PROMPTS:,} prompts.*Split it"),
    ("nested.jsonl", _nested(100_000), r"nested\.jsonl:1: a row nests .* too deeply.*`prompt` must be a string"),
    ("nested-array.jsonl", b"[" + _nested(100_000) + b"]",
     r"nested-array\.jsonl: a row nests .* too deeply.*`prompt` must be a string"),
    ("xx.jsonl", _rows(GOOD[0], {"lang": "xx", "prompt": "Hallo"}),
     r"xx\.jsonl:2: Unknown language 'xx'\..*Use an ISO 639-1 code.*Its codes: .*\bde\b"),
    ("elvish.jsonl", _rows({"lang": "elvish", "prompt": "Mae govannen"}),
     r"elvish\.jsonl:1: Unknown language 'elvish'\..*an English name\. Its codes: .*\bis\b"),
    ("long-lang.jsonl", _rows({"lang": "x" * 100_000, "prompt": "Hallo"}),
     r"long-lang\.jsonl:1: `lang` is 100,000 characters long.*give a code or name"),
    ("empty.jsonl", b"", r"empty\.jsonl holds no prompts; write one JSON object per line"),
    ("blank.jsonl", b"\n  \n\r\n\n", r"blank\.jsonl holds no prompts; write one JSON object per line"),
    ("noprompt.jsonl", _rows({"lang": "de", "id": "x"}), r"noprompt\.jsonl:1: no prompt text; give the row"),
    ("number.jsonl", _rows({"lang": "de", "prompt": 42}),
     r"number\.jsonl:1: an empty or non-text prompt; `prompt` must be a non-empty string"),
]


def _write_good(directory: Path) -> Path:
    good = directory / "good.jsonl"
    good.write_bytes(_rows(*GOOD))
    return good


def _assert_good_reads(good: Path) -> None:
    ps = get_set(str(good))
    assert ps.langs == ("de", "fr")
    assert [p.turns for p in load_prompts(ps, "de", None)] == [("Wie geht es dir heute?",)]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_gets_one_message_and_a_good_one_still_reads(tmp_path, name, content, message):
    good = _write_good(tmp_path)
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        get_set(str(path))
    text = str(caught.value)
    assert name in text and len(text) < 1500  # names the file; no echo of a huge row
    _assert_good_reads(good)


def test_the_limits_are_inclusive(tmp_path):
    path = tmp_path / "edge.jsonl"
    path.write_bytes(_rows({"lang": "de", "id": "long", "turns": ["a" * (MAX_PROMPT_CHARS - 1), "b"]},
                           *({"lang": "fr", "id": i, "prompt": "Salut"} for i in range(MAX_PROMPTS - 1))))
    ps = get_set(str(path))
    assert len(load_prompts(ps, "fr", None)) == MAX_PROMPTS - 1 and len(load_prompts(ps, "de", None)) == 1


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    good = _write_good(tmp_path)
    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: the size alone refuses it
    with pytest.raises(DataError, match=rf"big\.jsonl is {MAX_FILE_BYTES + 1:,} bytes; .* at most "
                                        rf"{MAX_FILE_BYTES:,}\. Split it"):
        get_set(str(path))
    _assert_good_reads(good)


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_the_app_stages_no_bad_upload(tmp_path, name, content, message):
    from playground.language_check import stage_upload
    from playground.settings import Settings

    settings = Settings(runs_dir=tmp_path / "runs")
    upload = tmp_path / "upload" / name
    upload.parent.mkdir()
    upload.write_bytes(content)
    with pytest.raises(DataError, match=message):
        stage_upload(settings, str(upload))
    uploads = settings.runs_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    kept = Path(stage_upload(settings, str(_write_good(tmp_path))))
    assert kept.parent == uploads and kept.read_bytes() == _rows(*GOOD)
    assert list(uploads.iterdir()) == [kept]


def test_the_app_takes_icelandic_basque_quechua_and_xhosa_by_code_or_name(tmp_path):
    """Languages outside the built-in examples, given as a code, a name or a FLORES code, in the file and in the
    Languages box, reach `eval generate` as table codes; Xhosa too, which lid.176 cannot identify."""
    from playground.language_check import generate_job, stage_upload
    from playground.settings import Settings

    settings = Settings(runs_dir=tmp_path / "runs")
    upload = tmp_path / "north.jsonl"
    upload.write_bytes(_rows({"lang": "is", "prompt": "Hvað er höfuðborg Íslands?"},
                             {"lang": "Basque", "prompt": "Zein da Euskal Herriko hiririk handiena?"},
                             {"lang": "quz", "prompt": "Imaynallam kachkanki?"},
                             {"lang": "xho_Latn", "prompt": "Molo, unjani namhlanje?"}))
    kept = stage_upload(settings, str(upload))
    ps = get_set(kept)
    assert ps.langs == ("is", "eu", "qu", "xh")
    assert [p.turns for p in load_prompts(ps, "eu", None)] == [("Zein da Euskal Herriko hiririk handiena?",)]
    _, commands, _ = generate_job(settings, ["smollm2-135m"], "Uploaded JSONL", "", str(upload),
                                  "Icelandic, eus_Latn, qu, xh", 1, 16)
    argv = commands[0]
    assert argv[argv.index("--langs") + 1] == "is,eu,qu,xh" and argv[argv.index("--set") + 1] == kept

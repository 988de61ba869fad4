"""Chat formats: rendering, fallbacks, message checks and streaming stop strings."""

from __future__ import annotations

import pytest

from core.chat import NAMED_FORMATS, check_messages, check_prompt, cut_at_stop, render, resolve_format
from core.errors import EngineError

CONV = [{"role": "system", "content": "Answer in German."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hallo!"}, {"role": "user", "content": "How are you?"}]


def test_gemma_format_folds_system_into_first_user_turn():
    text = render(NAMED_FORMATS["gemma"], CONV, bos_token="<bos>")
    assert text == ("<bos><start_of_turn>user\nAnswer in German.\n\nHi<end_of_turn>\n"
                    "<start_of_turn>model\nHallo!<end_of_turn>\n"
                    "<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n")


def test_chatml_alpaca_guanaco_formats():
    assert render(NAMED_FORMATS["chatml"], CONV[1:2]) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    alpaca = render(NAMED_FORMATS["alpaca"], CONV, bos_token="<s>", eos_token="</s>")
    assert alpaca.startswith("<s>Answer in German.\n\n### Instruction:\nHi\n\n### Response:\nHallo!</s>")
    assert alpaca.endswith("### Instruction:\nHow are you?\n\n### Response:\n")
    assert render(NAMED_FORMATS["guanaco"], CONV[1:2]).endswith("### Human: Hi\n### Assistant:")


def test_resolve_format_prefers_request_then_model_then_fallback(tmp_path):
    assert resolve_format("{{ x }}", None, "gemma").name == "model"
    assert resolve_format(None, None, "gemma").name == "gemma"
    assert resolve_format("{{ x }}", "chatml").name == "chatml"
    assert resolve_format(None, "{% for m in messages %}{{ m.content }}{% endfor %}").name == "custom"
    path = tmp_path / "mine.jinja"
    path.write_text("{% for m in messages %}[{{ m.content }}]{% endfor %}")
    assert render(resolve_format(None, str(path)), CONV[1:2]) == "[Hi]"
    with pytest.raises(EngineError, match="Unknown chat format"):
        resolve_format(None, "vicuna-xl")
    with pytest.raises(EngineError, match="not found"):
        resolve_format(None, str(tmp_path / "missing.jinja"))


@pytest.mark.parametrize("bad,match", [
    ([], "empty"), ([{"role": "user", "content": "   "}], "empty"), ([{"role": "bot", "content": "x"}], "malformed"),
    ([{"role": "user"}], "malformed"), (["hello"], "malformed"),
])
def test_bad_messages(bad, match):
    with pytest.raises(EngineError, match=match):
        check_messages(bad)


def test_check_prompt():
    assert check_prompt("go on") == "go on"
    with pytest.raises(EngineError, match="empty"):
        check_prompt(" \n ")


@pytest.mark.parametrize("chunks,stop,want", [
    (["Hello", " wor", "ld"], [], "Hello world"),
    (["Hello ###", " Human: more"], ["### Human:"], "Hello "),
    (["abc<", "end", "> tail"], ["<end>"], "abc"),
    (["a<e", "xtra"], ["<end>"], "a<extra"),  # a held-back prefix that turns out not to be a stop
    (["<end>"], ["<end>"], ""),
    (["x", "y", "STOP", "z"], ["STOP", "y"], "x"),
])
def test_cut_at_stop(chunks, stop, want):
    assert "".join(cut_at_stop(iter(chunks), stop)) == want


def test_cut_at_stop_streams_without_waiting_for_the_end():
    def chunks():
        yield "first part "
        raise AssertionError("read past what was needed")

    stream = cut_at_stop(chunks(), ["<end>"])
    assert next(stream) == "first part "

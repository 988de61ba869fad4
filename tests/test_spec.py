"""Model spec strings: every valid form parses, every bad one names the valid forms."""

from __future__ import annotations

import pytest

from core.engines import parse_spec
from core.errors import SpecError


@pytest.mark.parametrize("text,backend,model", [
    ("gemma3-270m", "gguf", "gemma3-270m"),
    ("smollm2-135m", "gguf", "smollm2-135m"),
    ("hf:gemma3-270m", "hf", "gemma3-270m"),
    ("gguf:models/x.gguf", "gguf", "models/x.gguf"),
    ("models/x.gguf", "gguf", "models/x.gguf"),
    ("hf:runs/merged", "hf", "runs/merged"),
    ("hf:Qwen/Qwen2.5-7B-Instruct", "hf", "Qwen/Qwen2.5-7B-Instruct"),
])
def test_valid_forms(text, backend, model):
    spec = parse_spec(text)
    assert (spec.backend, spec.model, spec.adapters) == (backend, model, ())


def test_adapters_named_and_unnamed():
    spec = parse_spec("hf:base+adapter=runs/de-lora+adapter=fr:runs/x")
    assert spec.adapters == (("de-lora", "runs/de-lora"), ("fr", "runs/x"))
    assert str(spec) == "hf:base+adapter=de-lora:runs/de-lora+adapter=fr:runs/x"


def test_openai_forms(monkeypatch):
    spec = parse_spec("openai:gpt-4o@http://127.0.0.1:8000/v1/")
    assert (spec.backend, spec.model, spec.base_url) == ("openai", "gpt-4o", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:9/v1")
    assert parse_spec("openai:judge").base_url == "http://localhost:9/v1"


@pytest.mark.parametrize("text,why", [
    ("", "empty"), ("nope", "neither a packaged model"), ("hf:", "nothing follows"),
    ("tf:model", "neither a packaged model"), ("gguf:x.gguf+adapter=a", "adapters need the hf backend"),
    ("hf:base+lora=a", "unknown option"), ("hf:base+adapter=", "unknown option"),
    ("hf:b+adapter=x:a+adapter=x:b", "repeat"), ("openai:m@ftp://host", "openai:MODEL"), ("openai:@http://h", "openai"),
])
def test_bad_specs_list_valid_forms(text, why):
    with pytest.raises(SpecError) as err:
        parse_spec(text)
    assert why in str(err.value)
    assert "Valid model specs" in str(err.value)


def test_close_packaged_name_is_suggested():
    with pytest.raises(SpecError, match="Did you mean gemma3-270m"):
        parse_spec("gemma3-270")


def test_openai_urls_are_shown_without_credentials():
    from core.engines.openai_api import public_url

    assert public_url("https://user:pw@host.example:8443/v1?api-key=sk-1") == "https://host.example:8443/v1"
    assert public_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"

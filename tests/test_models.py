"""Packaged models resolve offline; missing, truncated and corrupt GGUF files fail with a clear message."""

from __future__ import annotations

import pytest

from core.engines import load
from core.errors import ModelFileError, SpecError
from core.models import PACKAGED, check_gguf_header, diagnose_gguf, packaged_gguf


@pytest.mark.parametrize("name", list(PACKAGED))
def test_packaged_models_resolve_to_intact_gguf_files(name):
    path = packaged_gguf(name)
    assert check_gguf_header(path) == path
    assert path.stat().st_size > 50_000_000


def test_unknown_packaged_name():
    with pytest.raises(SpecError, match="gemma3-270m, smollm2-135m"):
        packaged_gguf("llama-7b")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFileError, match="Model file not found"):
        load(f"gguf:{tmp_path / 'nothing.gguf'}")
    with pytest.raises(ModelFileError, match="is a directory"):
        check_gguf_header(tmp_path)


def test_not_a_gguf(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        load(f"gguf:{fake}")


@pytest.mark.parametrize("keep_bytes", [100_000, 60_000_000])
def test_truncated_gguf(tmp_path, keep_bytes):
    src = packaged_gguf("smollm2-135m")
    cut = tmp_path / "cut.gguf"
    with src.open("rb") as f:
        cut.write_bytes(f.read(keep_bytes))
    assert "truncated" in (diagnose_gguf(cut) or "")
    for spec in (f"gguf:{cut}", f"hf:{cut}"):
        with pytest.raises(ModelFileError, match="truncated or corrupt|truncated"):
            load(spec)


def test_corrupt_header(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 4000)
    with pytest.raises(ModelFileError, match="Cannot load"):
        load(f"gguf:{bad}")


def test_intact_file_diagnoses_clean():
    assert diagnose_gguf(packaged_gguf("smollm2-135m")) is None

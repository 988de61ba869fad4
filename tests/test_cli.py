"""`python -m core`: user errors print one clear line and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,message", [
    (("generate", "gemma-3", "Hallo"), "Valid model specs"),
    (("generate", "gguf:/no/such/model.gguf", "Hallo"), "Model file not found"),
    (("generate", "hf:/no/such/dir", "Hallo"), "Model directory not found"),
    (("chat", "smollm2-135m", "   "), "prompt is empty"),
    (("language", "germn"), "Did you mean: German"),
    (("generate", "smollm2-135m", "Hi", "--temperature", "5"), "temperature must be between 0 and 2"),
    (("generate", "smollm2-135m", "Hi", "--max-tokens", "many"), "error: --max-tokens: "),  # checked before loading
])
def test_user_errors_are_one_clear_message(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_command_names_the_valid_ones():
    result = run_cli("translate", "Hallo")
    assert result.returncode == 2 and "invalid choice: 'translate'" in result.stderr
    assert "'generate', 'chat', 'detect', 'language', 'info', 'build-llama'" in result.stderr


def test_corrupt_gguf_is_reported(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    result = run_cli("generate", f"gguf:{bad}", "Hallo")
    assert result.returncode == 2 and "Cannot load" in result.stderr and "Traceback" not in result.stderr


def test_detect_and_language_commands():
    result = run_cli("detect", "Der Hund läuft schnell.", "12345")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("de\t") and lines[1].startswith("und\t")
    assert '"iso639_3": "swa"' in run_cli("language", "Swahili").stdout


@pytest.mark.slow
def test_generate_with_packaged_model():
    result = run_cli("chat", "smollm2-135m", "What is the capital of France?", "--max-tokens", "20")
    assert result.returncode == 0 and result.stdout.strip()

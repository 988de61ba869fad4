"""ONNX export: the config rewrite optimum-onnx needs (fast); a tiny Llama with a non-default rope_theta and
smollm2-135m exported in the isolated environment and matched in onnxruntime (slow: builds the env once)."""

from __future__ import annotations

import json
import subprocess

import pytest

from core.errors import ModelFileError
from quantize.onnx_export import transformers4_config
from tests.tiny_model import build_tiny_model

TINY_PROMPTS = {"en": "Hello world, how are", "de": "Der Hund läuft", "fr": "Le chien court", "zh": "我们今天早上"}


def test_transformers5_config_is_rewritten_for_transformers4():
    llama = {"model_type": "llama", "dtype": "bfloat16",
             "rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 32.0}}
    old = transformers4_config(llama)
    assert old["rope_theta"] == 500000.0 and "rope_parameters" not in old
    assert old["rope_scaling"] == {"rope_type": "llama3", "factor": 32.0}
    assert old["torch_dtype"] == "bfloat16"
    gemma = {"model_type": "gemma3_text", "rope_parameters": {
        "full_attention": {"rope_theta": 1000000.0, "rope_type": "default"},
        "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"}}}
    old = transformers4_config(gemma)
    assert (old["rope_theta"], old["rope_local_base_freq"]) == (1000000.0, 10000.0) and "rope_scaling" not in old
    plain = {"model_type": "llama", "rope_theta": 1e4}
    assert transformers4_config(plain) == plain


def test_not_a_model_dir_fails_before_any_work(tmp_path):
    from quantize.onnx_export import export_onnx

    with pytest.raises(ModelFileError, match="no config.json"):
        export_onnx(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_tiny_llama_exports_with_its_own_rope_theta(tmp_path, report):
    from quantize.onnx_export import _stage, ensure_env, export_onnx

    model = build_tiny_model(tmp_path / "model", initializer_range=0.3,
                             rope_parameters={"rope_type": "default", "rope_theta": 500000.0})
    python = ensure_env()
    # The bug the staging fixes: transformers 4 reads a transformers 5 config with the default rope_theta.
    read = "import sys; from transformers import AutoConfig; print(AutoConfig.from_pretrained(sys.argv[1]).rope_theta)"
    _stage(model, tmp_path / "staged")
    thetas = [float(subprocess.run([str(python), "-c", read, str(d)], capture_output=True, text=True,
                                   check=True).stdout) for d in (model, tmp_path / "staged")]
    assert thetas == [10000.0, 500000.0]

    card = export_onnx(model, tmp_path / "onnx")
    mean = card["verify"]["mean"]
    assert mean["greedy_match"] == 1.0 and mean["top1"] == 1.0 and mean["kl"] < 1e-4, mean
    saved = json.loads((tmp_path / "onnx" / "card.json").read_text())
    assert saved["exporter"]["transformers"].startswith("4.") and saved["bytes"] > 0
    assert (tmp_path / "onnx" / "tokenizer.json").read_bytes() == (model / "tokenizer.json").read_bytes()
    assert not list(tmp_path.glob("onnx.*tmp"))  # no temp dir left beside it


@pytest.mark.slow
def test_smollm2_onnx_matches_transformers(tmp_path, report):
    from quantize.gguf_job import model_dir_of, verify_table
    from quantize.onnx_export import export_onnx

    card = export_onnx(model_dir_of("hf:smollm2-135m"), tmp_path / "onnx")
    mean = card["verify"]["mean"]
    assert mean["greedy_match"] >= 0.9 and mean["top1"] >= 0.99, mean  # same fp32 weights, other kernels
    assert len(card["verify"]["per_language"]) >= 8
    report(f"ONNX export of smollm2-135m ({card['seconds']} s, {card['bytes'] / 1e6:.0f} MB) vs transformers:\n"
           + verify_table(card["verify"]))

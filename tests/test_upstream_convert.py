"""GGUF export of any architecture llama.cpp knows: a tiny random OLMo 2 (which our exporter refuses) goes through
llama.cpp's own convert_hf_to_gguf.py and matches transformers; a Llama stays with our exporter; a model type
neither knows is one message naming both."""

from __future__ import annotations

import json
import shutil

import pytest

from core.errors import ModelFileError
from quantize.upstream_convert import OURS, UPSTREAM, export_any
from tests.tiny_model import build_tiny_model

SMOLLM2_TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def _tiny(out, model_type: str, **config):
    """A 2-layer random `model_type` with SmolLM2's tokenizer (one llama.cpp's converter recognizes: "smollm")."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from quantize.gguf_job import model_dir_of

    smollm2 = model_dir_of("hf:smollm2-135m")
    out.mkdir(parents=True)
    for name in SMOLLM2_TOKENIZER:
        shutil.copy(smollm2 / name, out / name)
    torch.manual_seed(0)
    cfg = AutoConfig.for_model(model_type, vocab_size=49152, hidden_size=64, intermediate_size=128,
                               num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                               max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=2,
                               tie_word_embeddings=False, **config)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(out)
    return out


def test_olmo2_is_converted_by_llama_cpp_and_matches_transformers(tmp_path, report):
    from gguf import GGUFReader

    from quantize.gguf_job import run, summary

    model = _tiny(tmp_path / "olmo2", "olmo2")  # q/k norms and post-norms: a wrong tensor shows in the logits
    card = run(str(model), ["f16", "q8_0"], tmp_path / "out", verify_types=["f16"], log=lambda *_: None)
    files = card["files"]
    assert {t: f["writer"] for t, f in files.items()} == {"f16": UPSTREAM, "q8_0": UPSTREAM}
    assert GGUFReader(tmp_path / "out" / files["f16"]["path"]).fields["general.architecture"].contents() == "olmo2"
    assert files["q8_0"]["tensor_types"].get("q8_0", 0) >= 2 * 7  # quantized from the converter's f16 file
    check = files["f16"]["verify"]
    assert check["mean"]["top1"] >= 0.99, check["mean"]  # measured 1.0 (the same random model in both)
    assert all(row["tokenizer_match"] is True for row in check["per_language"].values())
    assert check["chat_ids_match"] is True
    assert "llama.cpp" in summary(card)
    report("GGUF export of a tiny random OLMo 2 through llama.cpp's convert_hf_to_gguf.py:\n" + summary(card))


def test_supported_type_keeps_our_exporter(tmp_path):
    from quantize.gguf_job import run

    tiny = build_tiny_model(tmp_path / "llama", initializer_range=0.3)
    card = run(str(tiny), ["f16", "q8_0"], tmp_path / "out", check=False)
    assert {t: f["writer"] for t, f in card["files"].items()} == {"f16": OURS, "q8_0": OURS}


def test_what_ours_refuses_goes_to_llama_cpp(tmp_path):
    # Our exporter refuses YaRN RoPE scaling for a Llama; llama.cpp's converter writes it.
    model = _tiny(tmp_path / "yarn", "llama", rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0,
                                                               "factor": 4.0, "original_max_position_embeddings": 128})
    assert export_any(model, tmp_path / "yarn.gguf", "f16") == UPSTREAM
    assert (tmp_path / "yarn.gguf").stat().st_size > 0


def test_type_neither_knows_names_both(tmp_path, monkeypatch):
    model = tmp_path / "odd"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "not_a_real_arch",
                                                   "architectures": ["NotARealForCausalLM"]}))
    with pytest.raises(ModelFileError) as err:
        export_any(model, tmp_path / "odd.gguf", "f16")
    message = str(err.value)
    assert "'not_a_real_arch'" in message and "llama/mistral/qwen2/qwen3/gemma3_text" in message
    assert "convert_hf_to_gguf.py refused it too" in message
    assert "Model NotARealForCausalLM is not supported" in message
    assert not list(tmp_path.glob("odd.gguf*"))  # neither the file nor the converter's temp
    with pytest.raises(ModelFileError, match="no config.json"):
        export_any(tmp_path, tmp_path / "x.gguf", "f16")
    monkeypatch.setenv("POLYGLOT_LLAMA_SDIST", str(tmp_path / "missing.tar.gz"))  # no source to unpack it from
    with pytest.raises(ModelFileError, match="covers only.*convert_hf_to_gguf.py is not available: .*missing.tar.gz"):
        export_any(model, tmp_path / "odd.gguf", "f16")

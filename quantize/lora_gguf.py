"""A PEFT LoRA adapter -> an adapter GGUF that llama.cpp applies on top of the base GGUF (`lora_path`), so
one base file serves many language adapters. Layout as llama.cpp's convert_lora_to_gguf.py writes it:
`general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, and per module `<name>.lora_a`
(rank x in) and `<name>.lora_b` (out x rank); q/k `lora_b` rows get the llama permutation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.errors import ModelFileError
from quantize.gguf_export import SUPPORTED, _config, _permute, gguf_file


def export_lora_gguf(adapter: Path, base_dir: Path, out: Path) -> Path:
    """Write the adapter in `adapter` (trained on the model in `base_dir`) as a GGUF adapter at `out`."""
    import gguf
    from safetensors.numpy import load_file

    cfg_path = adapter / "adapter_config.json"
    if not cfg_path.is_file():
        raise ModelFileError(f"{adapter} holds no adapter_config.json; point at a PEFT LoRA adapter directory.")
    acfg = json.loads(cfg_path.read_text())
    if acfg.get("peft_type") != "LORA" or acfg.get("use_dora"):
        raise ModelFileError(f"{adapter} is a {acfg.get('peft_type')}{' (DoRA)' if acfg.get('use_dora') else ''} "
                             f"adapter; llama.cpp applies plain LoRA only: merge it and export the merged model.")
    if acfg.get("use_rslora") or acfg.get("modules_to_save"):
        raise ModelFileError("Adapters with rsLoRA scaling or modules_to_save cannot be written as a llama.cpp LoRA; "
                             "merge them (python -m trainer merge) and export the merged model.")
    if not (adapter / "adapter_model.safetensors").is_file():
        raise ModelFileError(f"{adapter} has no adapter_model.safetensors; re-save the adapter with safetensors.")
    if acfg.get("rank_pattern") or acfg.get("alpha_pattern"):
        raise ModelFileError("Adapters with per-module ranks or alphas cannot be written as one llama.cpp adapter.")
    cfg = _config(base_dir)
    arch, permute, _ = SUPPORTED[cfg["model_type"]]
    n_head, n_kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], cfg["num_hidden_layers"])
    weights = load_file(str(adapter / "adapter_model.safetensors"))

    with gguf_file(out, arch) as writer:
        writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(acfg["lora_alpha"]))
        for key in sorted(k for k in weights if k.endswith("lora_A.weight")):
            module = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
            a = weights[key].astype(np.float32)
            b = weights[key.replace("lora_A", "lora_B")].astype(np.float32)
            target = names.get_name(module + ".weight", try_suffixes=(".weight",))
            if target is None:
                raise ModelFileError(f"No GGUF tensor for adapted module {module!r}; cannot place its LoRA.")
            if permute and module.endswith("q_proj"):
                b = _permute(b, n_head)
            elif permute and module.endswith("k_proj"):
                b = _permute(b, n_kv)
            writer.add_tensor(target + ".lora_a", a)
            writer.add_tensor(target + ".lora_b", b)
    return out

"""A transformers config as the hyper-parameter keys llama.cpp reads (used when there is no GGUF the model
came from to copy them from). Settings llama.cpp cannot express are refused with a reason, never dropped:
a file that loads but computes something else is worse than no file."""

from __future__ import annotations

import numpy as np

from core.errors import ModelFileError

GEMMA3_SWA_PATTERN = 6  # llama.cpp's Gemma 3: every 6th layer attends globally, the rest in a sliding window
GEMMA3_LOCAL_ROPE_BASE = 10000.0  # and its sliding layers use this RoPE base (not read from the file)


def rope(cfg: dict) -> dict:
    """The rotary settings (transformers 5 `rope_parameters`, older `rope_scaling` + `rope_theta`)."""
    params = dict(cfg.get("rope_scaling") or {}) | dict(cfg.get("rope_parameters") or {})
    if "full_attention" in params:  # Gemma 3: one RoPE per attention type
        local = params.get("sliding_attention", {}).get("rope_theta", GEMMA3_LOCAL_ROPE_BASE)
        if local != GEMMA3_LOCAL_ROPE_BASE:
            raise ModelFileError(f"The sliding-window layers use RoPE base {local}; llama.cpp fixes it at "
                                 f"{GEMMA3_LOCAL_ROPE_BASE:.0f} for Gemma 3, so this export would compute otherwise.")
        params = dict(params["full_attention"])
    params.setdefault("rope_theta", cfg.get("rope_theta", 10000.0))
    kind = params.get("rope_type", params.get("type", "default")) or "default"
    if kind not in ("default", "linear", "llama3"):
        raise ModelFileError(f"RoPE scaling {kind!r} is not exported yet (default, linear and llama3 are); llama.cpp "
                             f"would run the model with other frequencies, so the export refuses rather than drift.")
    return params | {"rope_type": kind}


def _check_gemma3(cfg: dict, head_dim: int) -> None:
    n = cfg["num_hidden_layers"]
    expected = ["full_attention" if (i + 1) % GEMMA3_SWA_PATTERN == 0 else "sliding_attention" for i in range(n)]
    if cfg.get("layer_types", expected) != expected:
        raise ModelFileError(f"llama.cpp's Gemma 3 makes every {GEMMA3_SWA_PATTERN}th layer global; this model's "
                             f"layer_types differ ({cfg['layer_types']}).")
    if cfg.get("query_pre_attn_scalar", head_dim) != head_dim:
        raise ModelFileError(f"query_pre_attn_scalar {cfg['query_pre_attn_scalar']} != head_dim {head_dim}: "
                             f"llama.cpp scales Gemma 3 attention by head_dim, so the export would drift.")
    for key in ("attn_logit_softcapping", "final_logit_softcapping"):
        if cfg.get(key) is not None:
            raise ModelFileError(f"{key}={cfg[key]} is not part of llama.cpp's Gemma 3; the export refuses.")


def add_hparams(writer, cfg: dict, arch: str, file_type: int) -> None:
    """Write the `<arch>.*` hyper-parameters of `cfg` (a config.json dict)."""
    import gguf

    heads = cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    params = rope(cfg)
    writer.add_context_length(cfg.get("max_position_embeddings", 2048))
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(cfg.get("num_key_value_heads", heads))
    writer.add_rope_freq_base(float(params["rope_theta"]))
    writer.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-5)))
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)  # Qwen3's and Gemma's head_dim is not hidden_size / heads
    writer.add_value_length(head_dim)
    writer.add_vocab_size(cfg["vocab_size"])
    if params["rope_type"] == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(params["factor"]))
    if arch == "gemma3":
        _check_gemma3(cfg, head_dim)
        writer.add_sliding_window(cfg["sliding_window"])
    writer.add_file_type(file_type)


def llama3_rope_factors(cfg: dict, params: dict) -> np.ndarray:
    """Per-frequency divisors llama.cpp applies for Llama 3.1+ RoPE (as convert_hf_to_gguf.py computes them)."""
    dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    freqs = 1.0 / (params["rope_theta"] ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    factor = params.get("factor", 8.0)
    low, high = params.get("low_freq_factor", 1.0), params.get("high_freq_factor", 4.0)
    old = params.get("original_max_position_embeddings", 8192)
    wavelen = 2 * np.pi / freqs
    smooth = (old / wavelen - low) / (high - low)
    mid = 1 / ((1 - smooth) / factor + smooth)
    return np.where(wavelen < old / high, 1.0, np.where(wavelen > old / low, factor, mid)).astype(np.float32)


def extra_tensors(cfg: dict) -> list[tuple[str, np.ndarray]]:
    """Tensors llama.cpp needs that the checkpoint does not hold (Llama 3's RoPE frequency factors)."""
    import gguf

    params = rope(cfg)
    if params["rope_type"] != "llama3":
        return []
    return [(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", llama3_rope_factors(cfg, params))]

"""bitsandbytes 4-bit (NF4) and 8-bit checkpoints: quantize on load, `save_pretrained`, reload the saved
directory, and compare the reloaded model with the full-precision one per language (top-1 agreement and
KL on the same text). bitsandbytes 0.50 runs this on CPU as well as CUDA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.run_dir import CARD, atomic_dir
from quantize.verify import PROMPTS, _log_softmax


def _quant_config(bits: int):
    import torch
    from transformers import BitsAndBytesConfig

    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    if bits == 4:
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=dtype)
    return BitsAndBytesConfig(load_in_8bit=True)


def export_bnb(model_dir: Path, out: Path, bits: int = 4, new_tokens: int = 16) -> dict:
    """Save a `bits`-bit bitsandbytes checkpoint of `model_dir` at `out`, reload it and verify it."""
    import warnings

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.errors import ModelFileError

    warnings.filterwarnings("ignore", message="MatMul8bitLt")  # said once per matmul on CPU, thousands of times

    if bits not in (4, 8):
        raise ModelFileError(f"bitsandbytes writes 4-bit (NF4) or 8-bit checkpoints, not {bits}-bit.")
    tok = AutoTokenizer.from_pretrained(model_dir)
    quantized = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=_quant_config(bits))
    with atomic_dir(out) as tmp:
        quantized.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        del quantized
        reloaded = AutoModelForCausalLM.from_pretrained(tmp).eval()  # the saved config carries the quantization
        full = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        per_lang = {}
        for lang, prompt in PROMPTS.items():
            ids = torch.tensor([tok(prompt).input_ids])
            with torch.no_grad():
                seq = full.generate(ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.eos_token_id)
                p = _log_softmax(full(seq).logits[0].double().numpy())
                q = _log_softmax(reloaded(seq.to(reloaded.device)).logits[0].double().cpu().numpy())
            per_lang[lang] = {"top1": round(float(np.mean(p.argmax(-1) == q.argmax(-1))), 3),
                              "kl": round(float(np.mean(np.sum(np.exp(p) * (p - q), axis=-1))), 5)}
        report = {"bits": bits, "source": str(model_dir),
                  "bytes": sum(f.stat().st_size for f in tmp.glob("*.safetensors")), "per_language": per_lang,
                  "mean": {k: round(float(np.mean([v[k] for v in per_lang.values()])), 4) for k in ("top1", "kl")}}
        (tmp / CARD).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return report

"""Merge a LoRA adapter into its base in 16-bit or fp32 (never into a 4-bit base), keep the tokenizer and
chat template, and check that the merged model's logits equal base+adapter logits."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import ConfigError, ModelFileError
from core.run_dir import atomic_dir

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
PROBES = ["The capital of France is", "Der Hund läuft schnell über die Wiese und",
          "我们今天早上去了公园，然后", "¿Cuál es la montaña más alta del mundo?"]


def merge(base: str, adapter: Path, out: Path, dtype: str = "fp32", prompts: list[str] | None = None) -> dict:
    """Write the merged model to `out`; return the verification (max abs logit difference per prompt)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.engines.hf import resolve_source

    if dtype not in DTYPES:
        raise ConfigError(f"Unknown dtype {dtype!r}; use one of {', '.join(DTYPES)} (merging into 4-bit weights "
                          f"would round the adapter away, so it is not offered).")
    if not (adapter / "adapter_config.json").is_file():
        raise ModelFileError(f"{adapter} holds no adapter_config.json; point --adapter at a trained adapter "
                             f"directory (e.g. runs/NAME/adapter).")
    source = resolve_source(base.removeprefix("hf:"))
    torch_dtype = getattr(torch, DTYPES[dtype])
    tokenizer = AutoTokenizer.from_pretrained(adapter)  # the adapter's copy carries the chat template it used
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype), adapter)
    model.eval()
    prompts = prompts or PROBES
    inputs = [tokenizer(p, return_tensors="pt") for p in prompts]
    with torch.no_grad():
        expected = [model(**x).logits.float() for x in inputs]
        merged = model.merge_and_unload()
        got = [merged(**x).logits.float() for x in inputs]
    diffs = [float((a - b).abs().max()) for a, b in zip(expected, got)]

    report = {"base": base, "adapter": str(adapter), "dtype": dtype, "prompts": prompts,
              "max_abs_logit_diff": diffs, "max": max(diffs)}
    card = adapter / "polyglot_card.json"
    if card.is_file():
        report["adapter_card"] = json.loads(card.read_text())
    with atomic_dir(out) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "merge_card.json").write_text(json.dumps(report, indent=2, default=str))
    return report

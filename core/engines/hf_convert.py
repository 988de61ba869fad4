"""GGUF -> transformers model directory, converted once and cached.

Loading a GGUF through transformers dequantizes every tensor and rebuilds the tokenizer
(~100 s cold for Gemma 3 270M on 2 cores); loading the cached safetensors takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from core.errors import ModelFileError
from core.models import check_gguf_header, damaged_gguf_error, polyglot_home
from core.run_dir import atomic_dir

log = logging.getLogger(__name__)
_SAMPLE = 8 << 20  # bytes hashed from each end of the file


def gguf_fingerprint(path: Path) -> str:
    """A cheap content key: size plus the first and last 8 MiB (the header and the last tensors)."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(_SAMPLE))
        f.seek(max(0, size - _SAMPLE))
        h.update(f.read(_SAMPLE))
    return h.hexdigest()[:16]


def converted_dir(gguf_path: str | Path) -> Path:
    """The cached transformers directory for a GGUF file, converting it first if needed."""
    path = check_gguf_header(gguf_path)
    target = polyglot_home() / "hf-from-gguf" / f"{path.stem}-{gguf_fingerprint(path)}"
    if (target / "polyglot.json").exists():
        return target
    log.warning("Converting %s to a transformers model (once; cached in %s)...", path.name, target)
    with atomic_dir(target, keep_existing=True) as tmp:  # another process (an app session) may finish first
        _convert(path, tmp)
    return target


def _convert(path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    except Exception as exc:
        raise damaged_gguf_error(path) or ModelFileError(
            f"transformers cannot load {path} ({type(exc).__name__}: {exc}). Its architecture may be "
            f"unsupported by transformers' GGUF loader; try the gguf backend.") from exc
    # The GGUF quantization config makes save_pretrained refuse; the weights are already dequantized.
    model.config.quantization_config = None
    del model.config.quantization_config
    model.hf_quantizer = None
    out.mkdir(parents=True, exist_ok=True)  # atomic_dir made it
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    card = {"source": str(path), "fingerprint": gguf_fingerprint(path),
            "seconds": round(time.perf_counter() - start, 1)}
    (out / "polyglot.json").write_text(json.dumps(card, indent=2))

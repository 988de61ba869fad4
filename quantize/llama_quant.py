"""Quantize a f16/f32 GGUF to any llama.cpp type by name (q8_0, q6_k, q4_k_m, ...) through llama-cpp-python,
and report which tensor types were actually written (llama.cpp falls back per tensor when a row width is
not a multiple of the block size: on SmolLM2, width 576, most q4_k_m layers become q5_0/q8_0)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from core.errors import ModelFileError
from core.run_dir import atomic_file


def quant_types() -> dict[str, int]:
    """Every llama.cpp file type llama-cpp-python knows, by lowercase name (q4_k_m -> LLAMA_FTYPE_MOSTLY_Q4_K_M)."""
    import llama_cpp

    out = {}
    for name in dir(llama_cpp):
        if name.startswith("LLAMA_FTYPE_MOSTLY_"):
            out[name.removeprefix("LLAMA_FTYPE_MOSTLY_").lower()] = getattr(llama_cpp, name)
    return out


def quantize_gguf(src: Path, out: Path, qtype: str, threads: int | None = None) -> Path:
    """Write `src` quantized to `qtype` at `out` (temp name, then rename: a failure leaves no file at `out`)."""
    import llama_cpp

    types = quant_types()
    if qtype not in types:
        raise ModelFileError(f"Unknown quant type {qtype!r}; llama.cpp knows: {', '.join(sorted(types))}.")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = types[qtype]
    params.nthread = threads or os.cpu_count() or 1
    with atomic_file(out) as tmp:
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params)
        if rc != 0 or not tmp.is_file():
            raise ModelFileError(f"llama.cpp could not quantize {src} to {qtype} (code {rc}); is it a f16/f32 GGUF "
                                 f"and is there space left in {out.parent}?")
    return out


def tensor_types(path: Path) -> dict[str, int]:
    """How many tensors of each type the file holds."""
    from gguf import GGUFReader

    return dict(Counter(t.tensor_type.name.lower() for t in GGUFReader(path).tensors).most_common())


# Types whose blocks are 32 wide: what llama.cpp falls back to when a row is not a multiple of 256.
_LEGACY = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl"}


def fallback(qtype: str, types: dict[str, int]) -> dict | None:
    """For a k- or i-quant: how many tensors llama.cpp wrote in a 32-block type instead (rows not a multiple of
    256, as SmolLM2's 576 and Gemma 3 270M's 640), and which; None when the type has no such fallback."""
    if qtype == "iq4_nl" or not ("_k" in qtype or qtype.startswith("iq")):  # iq4_nl is itself 32 wide
        return None
    fell = {t: n for t, n in types.items() if t in _LEGACY}
    quantized = sum(n for t, n in types.items() if t not in ("f32", "f16", "bf16"))
    return {"tensors": sum(fell.values()), "of": quantized, "types": fell}

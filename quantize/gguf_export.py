"""A transformers model directory -> GGUF (f32 / f16 / bf16) with the `gguf` package's writer, in process.

Tensor names come from `gguf.get_tensor_name_map`; the llama family needs llama.cpp's q/k row permutation
(transformers undoes it when it loads a GGUF, so a round trip must redo it). The vocabulary, tokenizer
settings and chat template are copied from the GGUF the model came from when there is one (a packaged
model, or a model merged onto one): that keeps the exact SentencePiece/BPE vocabulary and pre-tokenizer.
Otherwise the vocabulary is built from the directory (`quantize/gguf_vocab.py`): SentencePiece from
`tokenizer.model`, byte-level BPE from `tokenizer.json`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.errors import ModelFileError
from core.run_dir import atomic_file
from quantize.gguf_hparams import add_hparams, extra_tensors
from quantize.gguf_vocab import copy_fields, source_template, write_vocab

# HF model_type -> (GGUF architecture, llama.cpp q/k row permutation?, norms stored as 1 + w?)
SUPPORTED = {"llama": ("llama", True, False), "mistral": ("llama", True, False), "qwen2": ("qwen2", False, False),
             "qwen3": ("qwen3", False, False), "gemma3_text": ("gemma3", False, True)}
FLOAT_TYPES = ("f32", "f16", "bf16")


def source_gguf(model_dir: Path) -> Path | None:
    """The GGUF a model directory was converted from (polyglot.json) or merged onto (merge_card.json)."""
    from core.models import PACKAGED, packaged_gguf

    info = model_dir / "polyglot.json"
    if info.is_file():
        path = Path(json.loads(info.read_text())["source"])
        return path if path.is_file() else None
    card = model_dir / "merge_card.json"
    if card.is_file():
        base = json.loads(card.read_text())["base"].removeprefix("hf:")
        if base in PACKAGED:
            return packaged_gguf(base)
        if base.endswith(".gguf") and Path(base).is_file():
            return Path(base)
        return source_gguf(Path(base)) if Path(base).is_dir() else None
    return None


@contextlib.contextmanager
def gguf_file(out: Path, arch: str):
    """A `gguf.GGUFWriter` writing to a temp name; on success the file is completed and renamed to `out`,
    on any failure the temp file is removed, so `out` never holds half a model."""
    import gguf

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch)
        try:
            yield writer
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file(progress=True)
        finally:
            writer.close()


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary layout for q/k rows (the inverse of what transformers applies on GGUF load)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _config(model_dir: Path) -> dict:
    path = model_dir / "config.json"
    if not path.is_file():
        raise ModelFileError(f"{model_dir} has no config.json, so it is not a transformers model directory; pass "
                             f"the directory written by `python -m trainer merge` or save_pretrained.")
    cfg = json.loads(path.read_text())
    if cfg.get("model_type") not in SUPPORTED:
        raise ModelFileError(f"GGUF export does not support model_type {cfg.get('model_type')!r} yet; supported: "
                             f"{', '.join(SUPPORTED)} (Llama, SmolLM2, Mistral, Qwen2/2.5, Qwen3; Gemma 3 "
                             f"text models loaded from a GGUF, such as hf:gemma3-270m).")
    return cfg


def _tensors(model_dir: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(name, fp32 array) one tensor at a time, so only the converted copies accumulate in the writer."""
    import torch
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ModelFileError(f"{model_dir} holds no .safetensors weights; save the model with save_pretrained.")
    for f in files:
        with safe_open(str(f), framework="pt") as st:  # torch reads bf16, numpy cannot
            for name in st.keys():
                yield name, st.get_tensor(name).to(torch.float32).numpy()


def _tensor_count(model_dir: Path) -> int:
    from safetensors import safe_open

    count = 0
    for f in model_dir.glob("*.safetensors"):
        with safe_open(str(f), framework="pt") as st:
            count += len(st.keys())
    return count


def _arch_of(path: Path) -> str | None:
    from gguf import GGUFReader

    field = GGUFReader(path).fields.get("general.architecture")
    return field.contents() if field else None


def _chat_template(model_dir: Path) -> str | None:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir).chat_template


def export_gguf(model_dir: Path, out: Path, dtype: str = "f16", tokenizer_from: Path | None = None) -> Path:
    """Write `model_dir` as a GGUF file at `out` (atomically: a temp name, then rename)."""
    import gguf

    if dtype not in FLOAT_TYPES:
        raise ModelFileError(f"GGUF export writes {', '.join(FLOAT_TYPES)}; quantize from the f16 file for the "
                             f"llama.cpp types (python -m quantize gguf --types f16,q8_0,q4_k_m).")
    cfg = _config(model_dir)
    arch, permute, norm_plus_one = SUPPORTED[cfg["model_type"]]
    source = tokenizer_from or source_gguf(model_dir)
    n_head, n_kv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], cfg["num_hidden_layers"])
    weight_type = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
                   "bf16": gguf.GGMLQuantizationType.BF16}[dtype]
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "bf16": gguf.LlamaFileType.MOSTLY_BF16}[dtype]

    with gguf_file(out, arch) as writer:
        writer.add_name(model_dir.name)
        if source and _arch_of(source) == arch:
            # Fine-tuning and merging change no hyper-parameter: take them as llama.cpp wrote them.
            copy_fields(writer, source, (f"{arch}.", "tokenizer."))
            writer.add_file_type(int(file_type))
        else:
            add_hparams(writer, cfg, arch, int(file_type))
            if source:
                copy_fields(writer, source, ("tokenizer.",))
            else:
                write_vocab(writer, model_dir, cfg["vocab_size"])
        template = _chat_template(model_dir) or (source_template(source) if source else None)
        if template:
            writer.add_chat_template(template)
        tied = cfg.get("tie_word_embeddings", False)
        for name, w in tqdm(_tensors(model_dir), desc=f"converting to {dtype}", unit="tensor",
                            total=_tensor_count(model_dir), leave=False):
            if name == "lm_head.weight" and tied:
                continue  # llama.cpp reuses token_embd for the output when there is no output tensor
            new = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if new is None:
                raise ModelFileError(f"No GGUF name for tensor {name!r} of a {arch} model; the export cannot "
                                     f"place it.")
            if permute and name.endswith("q_proj.weight"):
                w = _permute(w, n_head)
            elif permute and name.endswith("k_proj.weight"):
                w = _permute(w, n_kv)
            elif norm_plus_one and name.endswith("norm.weight"):
                w = w + 1  # Gemma computes x * (1 + w); llama.cpp stores 1 + w
            if w.ndim == 1 or weight_type == gguf.GGMLQuantizationType.F32:
                writer.add_tensor(new, w)  # norms stay f32, as llama.cpp writes them
            elif weight_type == gguf.GGMLQuantizationType.F16:
                writer.add_tensor(new, w.astype(np.float16))
            else:
                writer.add_tensor(new, gguf.quants.quantize(w, weight_type), raw_dtype=weight_type)
        for name, w in extra_tensors(cfg):
            writer.add_tensor(name, w)
    return out

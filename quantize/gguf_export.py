"""A transformers model directory -> GGUF (f32 / f16 / bf16) with the `gguf` package's writer, in process.

Tensor names come from `gguf.get_tensor_name_map`; the llama family needs llama.cpp's q/k row permutation
(transformers undoes it when it loads a GGUF, so a round trip must redo it). The vocabulary, tokenizer
settings and chat template are copied from the GGUF the model came from when there is one (a packaged
model, or a model merged onto one): that keeps the exact SentencePiece/BPE vocabulary and pre-tokenizer.
Otherwise a byte-level BPE vocabulary is built from `tokenizer.json`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.errors import ModelFileError

# HF model_type -> (GGUF architecture, llama.cpp q/k row permutation?, norms stored as 1 + w?)
SUPPORTED = {"llama": ("llama", True, False), "gemma3_text": ("gemma3", False, True)}
NEEDS_SOURCE = {"gemma3_text"}  # hyper-parameters and SentencePiece vocab come from the GGUF it was loaded from
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
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    try:
        yield writer
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise


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
                             f"{', '.join(SUPPORTED)} (Llama, SmolLM2, Mistral-style llama configs; Gemma 3 "
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


def _arch_of(path: Path) -> str | None:
    from gguf import GGUFReader

    field = GGUFReader(path).fields.get("general.architecture")
    return field.contents() if field else None


def _add_hparams(writer, cfg: dict, file_type: int) -> None:
    heads = cfg["num_attention_heads"]
    rope = cfg.get("rope_parameters") or {}
    writer.add_context_length(cfg.get("max_position_embeddings", 2048))
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(cfg.get("num_key_value_heads", heads))
    writer.add_rope_freq_base(float(rope.get("rope_theta", cfg.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-5)))
    writer.add_rope_dimension_count(cfg.get("head_dim") or cfg["hidden_size"] // heads)
    writer.add_vocab_size(cfg["vocab_size"])
    writer.add_file_type(file_type)


def _copy_fields(writer, source: Path, prefixes: tuple[str, ...]) -> None:
    """Copy every key of `source` that starts with one of `prefixes` (tokenizer.*, <arch>.*)."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(source)
    for key, f in reader.fields.items():
        if not key.startswith(prefixes) or key == "tokenizer.chat_template":
            continue  # the template is the model directory's own (a tuned model may carry another one)
        main = f.types[0]
        if main == GGUFValueType.ARRAY:
            writer.add_key_value(key, f.contents(), main, sub_type=f.types[-1])
        else:
            writer.add_key_value(key, f.contents(), main)


def _chat_template(model_dir: Path) -> str | None:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir).chat_template


def _source_template(source: Path) -> str | None:
    from gguf import GGUFReader

    field = GGUFReader(source).fields.get("tokenizer.chat_template")
    return field.contents() if field else None


def _build_tokenizer(writer, model_dir: Path) -> None:
    """A byte-level BPE vocabulary from tokenizer.json, special tokens and chat template from the HF files."""
    import gguf
    from transformers import AutoTokenizer

    spec = json.loads((model_dir / "tokenizer.json").read_text()) if (model_dir / "tokenizer.json").is_file() else {}
    if spec.get("model", {}).get("type") != "BPE" or "ByteLevel" not in json.dumps(spec.get("pre_tokenizer")):
        raise ModelFileError(f"{model_dir}: only byte-level BPE tokenizers (GPT-2 / SmolLM2 style) can be written "
                             f"without a source GGUF; SentencePiece vocabularies (Llama-2, Mistral, Gemma) need "
                             f"the GGUF the model came from (tokenizer_from=...).")
    tok = AutoTokenizer.from_pretrained(model_dir)
    vocab = tok.get_vocab()
    size = max(vocab.values()) + 1
    reverse = {i: t for t, i in vocab.items()}
    special = set(tok.all_special_ids) | {i for t, i in tok.get_added_vocab().items()}
    tokens, types = [], []
    for i in range(size):
        tokens.append(reverse.get(i, f"[PAD{i}]"))
        types.append(gguf.TokenType.CONTROL if i in special else
                     gguf.TokenType.USER_DEFINED if i not in reverse else gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(model_dir, load_merges=True).add_to_gguf(writer)
    if tok.chat_template:
        writer.add_chat_template(tok.chat_template)


def export_gguf(model_dir: Path, out: Path, dtype: str = "f16", tokenizer_from: Path | None = None) -> Path:
    """Write `model_dir` as a GGUF file at `out` (atomically: a temp name, then rename)."""
    import gguf

    if dtype not in FLOAT_TYPES:
        raise ModelFileError(f"GGUF export writes {', '.join(FLOAT_TYPES)}; quantize from the f16 file for the "
                             f"llama.cpp types (python -m quantize gguf --types f16,q8_0,q4_k_m).")
    cfg = _config(model_dir)
    arch, permute, norm_plus_one = SUPPORTED[cfg["model_type"]]
    source = tokenizer_from or source_gguf(model_dir)
    if cfg["model_type"] in NEEDS_SOURCE and source is None:
        raise ModelFileError(f"Exporting a {cfg['model_type']} model needs the GGUF it was converted from (for its "
                             f"SentencePiece vocabulary and attention layout); pass tokenizer_from=PATH.gguf.")
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
            _copy_fields(writer, source, (f"{arch}.", "tokenizer."))
            writer.add_file_type(int(file_type))
        else:
            _add_hparams(writer, cfg, int(file_type))
            if source:
                _copy_fields(writer, source, ("tokenizer.",))
            else:
                _build_tokenizer(writer, model_dir)
        if source:
            template = _chat_template(model_dir) or _source_template(source)
            if template:
                writer.add_chat_template(template)
        tied = cfg.get("tie_word_embeddings", False)
        for name, w in _tensors(model_dir):
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
    return out

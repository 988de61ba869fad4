"""The tokenizer half of a GGUF: copied from the GGUF a model came from, or built from the model directory
(byte-level BPE from `tokenizer.json`, SentencePiece from `tokenizer.model`), the way llama.cpp's
`convert_hf_to_gguf.py` writes them, so llama.cpp cuts text exactly as transformers does."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import ModelFileError

# llama.cpp's name for a byte-level BPE pre-tokenizer (its split regex), keyed by the regex of the
# tokenizer.json `Split` step. llama.cpp itself fingerprints tokenizers by hash; the regex says the same.
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
_LLAMA3_SPLIT = _QWEN2_SPLIT.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
SPLIT_PRE = {_QWEN2_SPLIT: "qwen2", _LLAMA3_SPLIT: "llama-bpe"}


def copy_fields(writer, source: Path, prefixes: tuple[str, ...]) -> None:
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


def source_template(source: Path) -> str | None:
    """The chat template stored in a GGUF file, if any."""
    from gguf import GGUFReader

    field = GGUFReader(source).fields.get("tokenizer.chat_template")
    return field.contents() if field else None


def bpe_pre_tokenizer(spec: dict) -> str:
    """llama.cpp's pre-tokenizer name for a byte-level BPE `tokenizer.json`; a clear error for unknown ones."""
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        return "smollm"  # SmolLM / StarCoder: every digit alone, then GPT-2's split
    if kinds == ["Split", "ByteLevel"]:
        name = SPLIT_PRE.get(steps[0].get("pattern", {}).get("Regex"))
        if name:
            return name
    raise ModelFileError(f"The tokenizer's pre-tokenizer ({json.dumps(pre)[:200]}) is not one this exporter knows "
                         f"(byte-level GPT-2, SmolLM, Qwen2, Llama-3); llama.cpp would split text "
                         f"differently from transformers. A SentencePiece model needs its tokenizer.model in the "
                         f"directory; or export from the GGUF the model came from (tokenizer_from=PATH.gguf).")


def bpe_vocab(writer, model_dir: Path, vocab_size: int) -> None:
    """A byte-level BPE vocabulary, merges and special tokens from `tokenizer.json`, padded to the
    embedding's `vocab_size` rows (Qwen's embeddings have spare rows)."""
    import gguf
    from transformers import AutoTokenizer

    spec = json.loads((model_dir / "tokenizer.json").read_text())
    pre = bpe_pre_tokenizer(spec)
    tok = AutoTokenizer.from_pretrained(model_dir)
    vocab = tok.get_vocab()
    reverse = {i: t for t, i in vocab.items()}
    special = set(tok.all_special_ids) | {i for t, i in tok.get_added_vocab().items()}
    if max(vocab.values()) >= vocab_size:
        raise ModelFileError(f"{model_dir}: the tokenizer has ids up to {max(vocab.values())} but the model's "
                             f"embedding has {vocab_size} rows (config vocab_size); resize the embeddings "
                             f"(model.resize_token_embeddings) before exporting.")
    tokens, types = [], []
    for i in range(vocab_size):
        tokens.append(reverse.get(i, f"[PAD{i}]"))
        types.append(gguf.TokenType.CONTROL if i in special else
                     gguf.TokenType.USER_DEFINED if i not in reverse else gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(model_dir, load_merges=True).add_to_gguf(writer)


def sentencepiece_vocab(writer, model_dir: Path, vocab_size: int) -> None:
    """A SentencePiece vocabulary (pieces, scores, byte/control/unknown types) from `tokenizer.model`."""
    import gguf
    from sentencepiece import SentencePieceProcessor

    sp = SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
    n = max(vocab_size, sp.vocab_size())
    tokens = [f"[PAD{i}]" for i in range(n)]
    scores = [-10000.0] * n
    types = [gguf.TokenType.UNUSED] * n
    for i in range(sp.vocab_size()):
        tokens[i], scores[i] = sp.id_to_piece(i), sp.get_score(i)
        types[i] = (gguf.TokenType.UNKNOWN if sp.is_unknown(i) else gguf.TokenType.CONTROL if sp.is_control(i)
                    else gguf.TokenType.UNUSED if sp.is_unused(i) else gguf.TokenType.BYTE if sp.is_byte(i)
                    else gguf.TokenType.NORMAL)
    # Tokens added on top of the SentencePiece model (chat markers) come from tokenizer_config.json.
    config = model_dir / "tokenizer_config.json"
    added = json.loads(config.read_text()).get("added_tokens_decoder", {}) if config.is_file() else {}
    for i, t in ((int(k), v) for k, v in added.items()):
        if i < n and tokens[i] != t["content"]:
            tokens[i] = t["content"]
            types[i] = gguf.TokenType.CONTROL if t.get("special") else gguf.TokenType.USER_DEFINED
            scores[i] = -1000.0
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_add_space_prefix(_adds_dummy_prefix(model_dir / "tokenizer.model"))  # Llama 2 does, Gemma not
    gguf.SpecialVocab(model_dir, n_vocab=n).add_to_gguf(writer)


def _adds_dummy_prefix(path: Path) -> bool:
    """Whether a SentencePiece model puts "▁" before the text (its normalizer's add_dummy_prefix)."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(path.read_bytes())
    return proto.normalizer_spec.add_dummy_prefix


def write_vocab(writer, model_dir: Path, vocab_size: int) -> None:
    """The vocabulary of a model directory: SentencePiece when it has tokenizer.model, else byte-level BPE."""
    if (model_dir / "tokenizer.model").is_file():
        sentencepiece_vocab(writer, model_dir, vocab_size)
        return
    spec = model_dir / "tokenizer.json"
    model = json.loads(spec.read_text()).get("model", {}).get("type") if spec.is_file() else None
    if model != "BPE":
        raise ModelFileError(f"{model_dir}: no tokenizer.model (SentencePiece) and no byte-level BPE tokenizer.json; "
                             f"pass tokenizer_from=PATH.gguf (the GGUF the model came from).")
    bpe_vocab(writer, model_dir, vocab_size)

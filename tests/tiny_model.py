"""A tiny random Llama with a real byte-level BPE tokenizer, for fast engine tests."""

from __future__ import annotations

from pathlib import Path

CORPUS = ["Der Hund läuft schnell über die Wiese.", "The dog runs quickly across the meadow.",
          "Le chien court vite dans le pré.", "我们今天早上去了公园。", "Hello world, how are you today?"] * 20


# Qwen2's split regex: with it the tokenizer.json is one llama.cpp knows as the "qwen2" pre-tokenizer.
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")


def _bpe_tokenizer(arch: str):
    """A byte-level BPE tokenizer trained on CORPUS (GPT-2's split, or Qwen2's for the qwen archs)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    if arch.startswith("qwen"):
        raw.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def _sentencepiece_tokenizer(out: Path, gemma: bool = False):
    """A Llama-2 style SentencePiece BPE (byte fallback) trained on CORPUS; tokenizer.model is left in `out`.
    The Gemma flavour puts no "▁" before the text."""
    import json

    import sentencepiece as spm
    from transformers import AutoTokenizer

    out.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(CORPUS), model_prefix=str(out / "tokenizer"),
                                   vocab_size=400, model_type="bpe", byte_fallback=True, character_coverage=1.0,
                                   unk_id=0, bos_id=1, eos_id=2, pad_id=-1, hard_vocab_limit=False, minloglevel=2,
                                   add_dummy_prefix=not gemma)
    (out / "tokenizer.vocab").unlink()
    (out / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "GemmaTokenizer" if gemma else "LlamaTokenizer",
         "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}))
    return AutoTokenizer.from_pretrained(out)


def build_tiny_model(out: Path, chat_template: str | None = None, initializer_range: float = 0.02,
                     arch: str = "llama", sentencepiece: bool = False, **config) -> Path:
    """Save a 2-layer random model (seeded; `arch` llama, qwen2, qwen3 or gemma3_text) and its tokenizer.

    Training tests pass a larger `initializer_range`: with the default, the frozen random output layer keeps
    every next-token distribution near uniform, so no adapter can lower the loss much.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    gemma = arch == "gemma3_text"
    tok = _sentencepiece_tokenizer(out, gemma) if sentencepiece or gemma else _bpe_tokenizer(arch)
    if chat_template:
        tok.chat_template = chat_template
    torch.manual_seed(0)
    # Qwen's tokenizer class adds <|endoftext|> on load; like the real models, the embedding has spare rows.
    vocab_size = len(tok) if arch == "llama" else len(tok) + 16
    cfg = AutoConfig.for_model(arch, vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                               num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                               bos_token_id=1, eos_token_id=2, pad_token_id=0, initializer_range=initializer_range,
                               **config)
    model = AutoModelForCausalLM.from_config(cfg)
    if arch != "llama":  # random biases and norms, so a dropped or misplaced one shows in the logits
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("bias"):
                    p.normal_(0, initializer_range)
                elif "norm" in name:
                    p.normal_(1, 0.2)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def build_lora_adapter(base: Path, out: Path, seed: int) -> Path:
    """Save a LoRA adapter with random (non-zero) weights, so it visibly changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, cfg).save_pretrained(out)
    return out

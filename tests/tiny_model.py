"""A tiny random Llama with a real byte-level BPE tokenizer, for fast engine tests."""

from __future__ import annotations

from pathlib import Path

CORPUS = ["Der Hund läuft schnell über die Wiese.", "The dog runs quickly across the meadow.",
          "Le chien court vite dans le pré.", "我们今天早上去了公园。", "Hello world, how are you today?"] * 20


def build_tiny_model(out: Path, chat_template: str | None = None, initializer_range: float = 0.02) -> Path:
    """Save a 2-layer random Llama (seeded) and its tokenizer to `out`.

    Training tests pass a larger `initializer_range`: with the default, the frozen random output layer keeps
    every next-token distribution near uniform, so no adapter can lower the loss much.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    if chat_template:
        tok.chat_template = chat_template
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0, initializer_range=initializer_range)
    LlamaForCausalLM(config).save_pretrained(out)
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

"""Model + PEFT setup: load the base (GGUFs converted once by the hf engine), give the tokenizer its chat
format and a pad token, and wrap the model in LoRA / DoRA / QLoRA adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.chat import resolve_format
from core.errors import ConfigError
from core.models import chat_fallback

if TYPE_CHECKING:
    from trainer.config import TrainConfig


def load_base(cfg: TrainConfig, device_is_cuda: bool):
    """Tokenizer and model of `cfg.base` (through the hf engine's source resolution: GGUFs are converted once)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.engines.hf import resolve_source

    if cfg.base.startswith("openai:") or "+adapter=" in cfg.base:
        raise ConfigError(f"base {cfg.base!r}: training needs plain weights: a packaged name, hf:DIR_OR_HUB_ID or "
                          f"a .gguf (merge adapters first with `python -m trainer merge`).")
    name = cfg.base.removeprefix("hf:").removeprefix("gguf:")
    source = resolve_source(name)
    dtype = torch.bfloat16 if device_is_cuda else torch.float32
    kwargs = {"dtype": dtype}
    if cfg.qlora:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    return tokenizer, model, name


def chat_tokenizer(tokenizer, cfg: TrainConfig, base_name: str):
    """Resolve the chat format and set it (and a pad token) on `tokenizer`; returns the format."""
    fmt = resolve_format(tokenizer.chat_template, cfg.chat_template, chat_fallback(base_name))
    if tokenizer.chat_template is None or cfg.chat_template:
        tokenizer.chat_template = fmt.template  # saved with the adapter, so the tuned model keeps its format
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return fmt


def add_lora(model, cfg: TrainConfig):
    """Wrap `model` in the LoRA (or DoRA) adapters of `cfg.lora`, 4-bit ready when `cfg.qlora`."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, use_dora=cfg.lora.dora, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def trainable_parameters(model) -> list:
    """The parameters the optimizer updates (the adapters)."""
    return [p for p in model.parameters() if p.requires_grad]

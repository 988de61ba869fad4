"""The trainer on the packaged models, on 2 CPU cores: a LoRA run on a mix built by trainer/data from
../shared/data, a merge that verifies, the merged model generating through the hf engine; Gemma trains
too; QLoRA (bitsandbytes 4-bit on CPU) takes steps."""

from __future__ import annotations

import json
import time

import pytest

from core.config import load_config
from tests.conftest import ROOT
from trainer.config import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mix(shared_data, tmp_path_factory):
    from trainer.data.build import build
    from trainer.data.recipe import load_recipe

    out = tmp_path_factory.mktemp("mix")
    build(load_recipe(ROOT / "configs/recipes/multi-3.yaml", ["stats.tokenizer=null"]), out, shared_data)
    return out


def _cfg(name: str, mix, out, **extra) -> TrainConfig:
    return load_config(TrainConfig, ROOT / f"configs/train/{name}.yaml",
                       [f"data={mix}", f"out={out}", *[f"{k}={v}" for k, v in extra.items()]])


def test_smollm2_lora_merge_and_generate(mix, tmp_path, report):
    from core.engines import complete, load
    from trainer.merge import merge
    from trainer.train import train

    start = time.perf_counter()
    cfg = _cfg("smollm2-135m", mix, tmp_path / "run", max_steps=24, max_length=256, grad_accum=1, batch_size=4,
               eval_every=12, save_every=12, log_every=6, learning_rate=1e-3)
    final = train(cfg, progress=False, log=lambda m: None)
    minutes = (time.perf_counter() - start) / 60
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    evals = [e["eval_loss"] for e in log if "eval_loss" in e]
    assert len(evals) == 2 and set(evals[0]) == {"en", "zh", "fr"}
    mean = [sum(e.values()) / len(e) for e in evals]
    assert mean[1] < mean[0]
    assert minutes < 10

    report_ = merge("smollm2-135m", tmp_path / "run" / "adapter", tmp_path / "merged", "fp32")
    assert report_["max"] < 1e-3
    merged = load(f"hf:{tmp_path / 'merged'}")
    reply = complete(merged, [{"role": "user", "content": "What is the capital of France?"}], max_tokens=16,
                     temperature=0)
    assert reply.strip()
    # The merged model exports to GGUF with the base's vocabulary and matches transformers greedily.
    from quantize.gguf_export import export_gguf, source_gguf
    from quantize.verify import verify

    assert source_gguf(tmp_path / "merged") is not None
    gguf = export_gguf(tmp_path / "merged", tmp_path / "merged-f16.gguf", "f16")
    # verify's ten languages: f16 rounding can flip a near-tie in one greedy continuation (which one depends on
    # the adapter's random draws), so greedy agreement is asked of most languages, top-1 and KL of all.
    check = verify(tmp_path / "merged", gguf, new_tokens=16)
    assert check["mean"]["greedy_match"] >= 0.8 and check["mean"]["top1"] >= 0.98
    assert max(r["kl"] for r in check["per_language"].values()) < 1e-3

    # The adapter as a llama.cpp adapter GGUF on the base GGUF: changes the base, equals merge-then-export.
    from llama_cpp import Llama

    from quantize.gguf_job import model_dir_of
    from quantize.lora_gguf import export_lora_gguf

    base_gguf = export_gguf(model_dir_of("hf:smollm2-135m"), tmp_path / "base-f16.gguf", "f16")
    lora = export_lora_gguf(tmp_path / "run" / "adapter", model_dir_of("hf:smollm2-135m"), tmp_path / "lora.gguf")
    prompts = ["The capital of France is", "Der Hund läuft", "我们今天早上", "Once upon a time", "Il était une fois"]
    outs = {}
    for name, kwargs in (("base", {}), ("base+lora", {"lora_path": str(lora)}), ("merged", {})):
        llm = Llama(str(gguf if name == "merged" else base_gguf), n_ctx=256, verbose=False, **kwargs)
        outs[name] = [llm.create_completion(p, max_tokens=16, temperature=0)["choices"][0]["text"] for p in prompts]
        llm.close()
    same = sum(a == b for a, b in zip(outs["base+lora"], outs["merged"]))
    changed = sum(a != b for a, b in zip(outs["base+lora"], outs["base"]))
    assert same >= 4 and changed >= 1, outs
    report(f"trainer smollm2-135m LoRA: 24 steps in {minutes:.1f} min on CPU, "
           f"{final['train_tokens'] / final['train_seconds']:.0f} tokens/s; eval loss (mean of en/zh/fr) "
           f"{mean[0]:.3f} -> {mean[1]:.3f}; merge max |logit diff| {report_['max']:.1e}; adapter GGUF = merged GGUF "
           f"on {same}/5 greedy prompts, differs from the base on {changed}/5; "
           f"merged model says: {reply.strip()[:60]!r}")


def test_gemma_trains_with_its_turn_format(mix, tmp_path):
    from transformers import AutoTokenizer

    from trainer.train import train

    cfg = _cfg("gemma3-270m", mix, tmp_path / "run", max_steps=3, max_length=192, grad_accum=1, batch_size=2,
               eval_every=3, save_every=100, eval_max_rows=6)
    final = train(cfg, progress=False, log=lambda m: None)
    assert final["step"] == 3 and final["loss"] > 0
    template = AutoTokenizer.from_pretrained(tmp_path / "run" / "adapter").chat_template
    assert "<start_of_turn>" in template  # the base ships no template; the adapter carries the one it used


def test_qlora_on_cpu(mix, tmp_path):
    import bitsandbytes as bnb
    import torch

    from trainer import modeling
    from trainer.train import train

    cfg = _cfg("smollm2-135m", mix, tmp_path / "run", qlora="true", max_steps=3, max_length=128, grad_accum=1,
               batch_size=2, eval_every=3, save_every=2, eval_max_rows=6)
    # The model the recipe trains: every projection under the adapters is a bitsandbytes 4-bit layer holding
    # half a byte per weight; only the adapters train.
    _, base, _ = modeling.load_base(cfg, device_is_cuda=False)
    model = modeling.add_lora(base, cfg)
    wrapped = {n.removesuffix(".base_layer"): m for n, m in model.named_modules() if n.endswith(".base_layer")}
    config = model.config
    assert len(wrapped) == config.num_hidden_layers * 7  # q k v o gate up down
    assert all(isinstance(m, bnb.nn.Linear4bit) for m in wrapped.values())
    for m in wrapped.values():
        assert m.weight.numel() * m.weight.element_size() == m.in_features * m.out_features // 2
    assert not any(type(m) is torch.nn.Linear for n, m in model.named_modules()
                   if n.rsplit(".", 1)[-1] in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                               "down_proj"))
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        n for n, _ in model.named_parameters() if ".lora_" in n}
    four_bit = sum(m.weight.numel() * m.weight.element_size() for m in wrapped.values())
    assert four_bit < sum(m.in_features * m.out_features for m in wrapped.values()) * 0.51
    del model, base

    final = train(cfg, progress=False, log=lambda m: None)
    assert final["step"] == 3 and final["loss"] > 0
    card = json.loads((tmp_path / "run" / "adapter" / "polyglot_card.json").read_text())
    assert card["config"]["qlora"] is True
    assert (tmp_path / "run" / "checkpoints" / "step-2" / "trainable.safetensors").stat().st_size < 50e6

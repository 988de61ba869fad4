"""The trainer's speed options change nothing but speed: the fused loss head (LM head at supervised positions
only, chunked cross-entropy) and packing give the plain implementation's loss and gradients to 1e-5 in fp32;
packing keeps every token and keeps examples apart."""

from __future__ import annotations

import math

import pytest

from core.chat import NAMED_FORMATS
from tests.tiny_model import build_tiny_model
from trainer import lm_loss
from trainer.batches import Example, collate, pack
from trainer.encode import IGNORE, encode

QUESTIONS = ["Say hello.", "Sag hallo, bitte, und erzähl mir etwas über den Hund.", "Bonjour?",
             "我们今天早上去了公园。 What did we do?", "How are you today, my friend, and the dog?"]
ANSWERS = ["Hello world, how are you today?", "Der Hund läuft schnell über die Wiese.", "Le chien court vite.",
           "我们今天早上去了公园。", "The dog runs quickly across the meadow. " * 3]


@pytest.fixture(scope="module", params=["llama", "gemma3_text"])
def tiny(request, tmp_path_factory):
    # Gemma with a logit softcap, so the fused head's softcap path is held to the plain one too.
    extra = {"final_logit_softcapping": 5.0} if request.param == "gemma3_text" else {}
    return build_tiny_model(tmp_path_factory.mktemp(request.param) / "model", initializer_range=0.3,
                            arch=request.param, **extra)


def _examples(tiny) -> tuple[list[Example], int]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    fmt = NAMED_FORMATS["chatml"]
    out = [Example("en", encode(tok, fmt, [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                                max_length=256)) for q, a in zip(QUESTIONS, ANSWERS)]
    return out, tok.pad_token_id


def _lora_model(tiny, head: lm_loss.LossHead):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    if head.fused:
        assert lm_loss.install(model, head) is None
    torch.manual_seed(0)
    # Non-zero B, so the adapters' gradients depend on everything upstream.
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", init_lora_weights=False)
    return get_peft_model(model, lora)


def _loss_and_grads(tiny, examples, pad_id, head, packing):
    model = _lora_model(tiny, head)
    batch = collate(examples, pad_id, packing=packing, max_length=256)
    trained = int((batch["labels"][:, 1:] != IGNORE).sum())
    # As the trainer calls it: with a KV cache, transformers would let packed examples see each other.
    extra = {"use_cache": False, **({"fused_loss": True} if head.fused else {})}
    loss = model(**batch, num_items_in_batch=trained, **extra).loss
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_fused_head_and_packing_give_the_plain_loss_and_gradients(tiny, monkeypatch):
    examples, pad_id = _examples(tiny)
    # Chunks of 16 rows: the examples' ~60 trained positions span several chunks, one of them partly ignored.
    monkeypatch.setattr(lm_loss, "CHUNK_LOGITS", 16)
    plain_loss, plain_grads = _loss_and_grads(tiny, examples, pad_id, lm_loss.LossHead(False, False), False)
    assert plain_loss > 1.0 and max(g.abs().max().item() for g in plain_grads.values()) > 1e-3
    for head in (lm_loss.LossHead(True, False), lm_loss.LossHead(False, True), lm_loss.LossHead(True, True)):
        for packing in (False, True):
            loss, grads = _loss_and_grads(tiny, examples, pad_id, head, packing)
            assert loss == pytest.approx(plain_loss, abs=1e-5), (head, packing)
            assert grads.keys() == plain_grads.keys()
            worst = max((grads[n] - plain_grads[n]).abs().max().item() for n in grads)
            assert worst <= 1e-5, (head, packing, worst)
    # Plain packing too: the same loss, so packing itself (not only the fused head) keeps examples apart.
    loss, _ = _loss_and_grads(tiny, examples, pad_id, lm_loss.LossHead(False, False), True)
    assert loss == pytest.approx(plain_loss, abs=1e-5)


def test_packing_keeps_every_token_and_keeps_examples_apart(tiny):
    import torch
    from transformers import AutoModelForCausalLM

    examples, pad_id = _examples(tiny)
    lengths = sorted(len(ex.enc.input_ids) for ex in examples)
    width = lengths[-1] + lengths[0]  # room for the longest and the shortest together, not for more
    rows = pack(examples, width)
    assert sorted(len(ex.enc.input_ids) for row in rows for ex in row) == lengths
    assert all(sum(len(ex.enc.input_ids) for ex in row) <= width for row in rows)
    assert len(rows) < len(examples)
    batch = collate(examples, pad_id, packing=True, max_length=width)
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == len(rows)
    # Every trained label survives, and each example's first token is no target.
    assert int((batch["labels"] != IGNORE).sum()) == sum(
        sum(label != IGNORE for label in ex.enc.labels[1:]) for ex in examples)
    with pytest.raises(ValueError, match="does not fit"):
        pack(examples, lengths[-1] - 1)

    # Block-diagonal: the logits of an example do not move when its row-mate's tokens change.
    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()
    row = next(r for r in rows if len(r) > 1)
    first, second = row[0], row[1]
    n = len(first.enc.input_ids)
    with torch.no_grad():
        both = collate([first, second], pad_id, packing=True, max_length=width)
        alone = collate([second], pad_id)
        packed_logits = model(input_ids=both["input_ids"], position_ids=both["position_ids"], use_cache=False).logits
        alone_logits = model(**{k: v for k, v in alone.items() if k != "labels"}).logits
        assert torch.allclose(packed_logits[0, n:n + len(second.enc.input_ids)], alone_logits[0], atol=1e-5)
        changed = both["input_ids"].clone()
        changed[0, :n] = (changed[0, :n] + 7) % model.config.vocab_size
        moved = model(input_ids=changed, position_ids=both["position_ids"], use_cache=False).logits
        assert not torch.allclose(moved[0, :n], packed_logits[0, :n], atol=1e-3)
        assert torch.allclose(moved[0, n:], packed_logits[0, n:], atol=1e-5)


def test_a_model_that_scales_its_logits_keeps_the_plain_head():
    from transformers import AutoConfig

    config = AutoConfig.for_model("granite", logits_scaling=8.0)
    assert "logits_scaling" in lm_loss.unsupported(config)
    assert lm_loss.unsupported(AutoConfig.for_model("llama")) is None


def test_the_fused_head_takes_bf16_states_against_an_fp32_head():
    """QLoRA on CUDA keeps the output layer in fp32 under bf16 hidden states; the fused head computes in the
    head's dtype and hands back a gradient in the states' dtype."""
    import torch

    torch.manual_seed(0)
    hidden = torch.randn(1, 40, 32, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(300, 32) * 0.3
    labels = torch.randint(0, 300, (1, 40))
    labels[0, :10] = IGNORE
    fused = lm_loss.supervised_loss(hidden, labels, weight, lm_loss.LossHead(True, True), None)
    fused.backward()
    assert hidden.grad.dtype == torch.bfloat16
    reference_states = hidden.detach().float().requires_grad_()
    plain = lm_loss.supervised_loss(reference_states, labels, weight, lm_loss.LossHead(False, False), None)
    plain.backward()
    assert fused.item() == pytest.approx(plain.item(), rel=1e-5)
    assert torch.allclose(hidden.grad.float(), reference_states.grad, atol=1e-3)


def test_gap_dropout_drops_like_bernoulli_and_scales_like_dropout():
    import torch

    from trainer.lora_dropout import drop_positions, gap_dropout_class, use_gap_dropout

    torch.manual_seed(0)
    n, p = 200_000, 0.05
    counts = torch.tensor([len(drop_positions(n, p)) for _ in range(200)], dtype=torch.float64)
    # Binomial(n, p): mean n p, variance n p (1 - p); both within a few standard errors.
    assert abs(counts.mean().item() - n * p) < 4 * math.sqrt(n * p * (1 - p) / 200)
    assert counts.var().item() == pytest.approx(n * p * (1 - p), rel=0.3)
    one = drop_positions(n, p)
    assert one.unique().numel() == one.numel() and int(one.min()) >= 0 and int(one.max()) < n
    # Every position is as likely: drops fall evenly into the mask's quarters.
    quarters = torch.bincount(torch.cat([drop_positions(n, p) for _ in range(50)]) * 4 // n, minlength=4)
    assert (quarters.float() / quarters.sum()).sub(0.25).abs().max() < 0.01

    layer = gap_dropout_class()(p).train()
    x = torch.randn(64, 300, requires_grad=True)
    y = layer(x)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / (1 - p))
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept) and torch.allclose(x.grad[kept], torch.full_like(x[kept], 1 / (1 - p)))
    assert torch.equal(layer.eval()(x), x)

    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model("llama", vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=1)
    model = get_peft_model(AutoModelForCausalLM.from_config(config),
                           LoraConfig(r=2, lora_alpha=4, lora_dropout=0.1, target_modules="all-linear"))
    assert use_gap_dropout(model) == 2 * 7
    assert all(type(m).__name__ == "GapDropout" and m.p == 0.1
               for m in model.modules() if isinstance(m, torch.nn.Dropout) and m.p > 0)

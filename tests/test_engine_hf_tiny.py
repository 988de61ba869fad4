"""The hf engine on a tiny random Llama: scoring against a plain forward pass, sampling, adapters."""

from __future__ import annotations

import pytest
import torch

from core.engines import complete, load
from core.errors import EngineError, ModelFileError
from tests.tiny_model import build_lora_adapter, build_tiny_model

REQUESTS = [("Der Hund läuft", " schnell über die Wiese."), ("The dog", " runs"), ("", "Hello world"),
            ("Le chien court vite dans le pré. Le chien court", " vite dans le pré."), ("我们今天", "早上去了公园。"),
            # Options of one question share a prefix (scored once on a shared cache): same context (XCOPA) ...
            ("The dog runs quickly across the meadow because", " it is fast."),
            ("The dog runs quickly across the meadow because", " the meadow is small."),
            # ... or a sentence up to the blank, then the option and a shared rest (XWinograd).
            ("Der Hund läuft schnell über die Wiese. The dog", " runs quickly."),
            ("Der Hund läuft schnell über die Wiese. Le chien", " runs quickly."),
            ("", "Hello world, how are you today?"), ("", "Hello world, how are you?")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    base = build_tiny_model(root / "base")
    a = build_lora_adapter(base, root / "lora-a", seed=1)
    b = build_lora_adapter(base, root / "lora-b", seed=2)
    return base, a, b


def _reference_scores(model, tok, requests):
    """One unbatched forward pass per request: the numbers batching and padding must reproduce. As lm-eval, the
    continuation is what the whole text has after the context's tokens (its own tokens if that is nothing)."""
    out = []
    for ctx, cont in requests:
        ctx_ids = [tok.bos_token_id] + tok.encode(ctx, add_special_tokens=False)
        cont_ids = [tok.bos_token_id] + tok.encode(ctx + cont, add_special_tokens=False)
        cont_ids = cont_ids[len(ctx_ids):] if ctx else tok.encode(cont, add_special_tokens=False)
        cont_ids = cont_ids or tok.encode(cont, add_special_tokens=False)
        ids = torch.tensor([ctx_ids + cont_ids])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
        rows = logprobs[len(ctx_ids) - 1:]
        target = torch.tensor(cont_ids)
        out.append((float(rows.gather(1, target[:, None]).sum()), bool((rows.argmax(-1) == target).all())))
    return out


def test_loglikelihood_matches_unbatched_forward(tiny):
    base, _, _ = tiny
    engine = load(f"hf:{base}", batch_size=3)
    engine._bos = [engine.tokenizer.bos_token_id]  # score as a BOS-adding tokenizer (Gemma-style) does
    got = engine.loglikelihood(REQUESTS)
    want = _reference_scores(engine.model, engine.tokenizer, REQUESTS)
    for g, (lp, greedy) in zip(got, want):
        assert g.logprob == pytest.approx(lp, abs=1e-4)
        assert g.is_greedy == greedy
    from core.engines.hf_scoring import prefix_groups

    ids = [engine.tokenizer.encode(c + x) for c, x in REQUESTS]
    groups = [members for _, members in prefix_groups([(i, 1) for i in ids])]
    assert [5, 6] in groups and [7, 8] in groups and [9, 10] in groups  # the shared path ran
    assert all(g.logprob < 0 for g in got)


def test_sampling_respects_seed_max_tokens_and_stop(tiny):
    base, _, _ = tiny
    engine = load(f"hf:{base}")
    a = complete(engine, "Hello", max_tokens=12, temperature=1.0, seed=7)
    b = complete(engine, "Hello", max_tokens=12, temperature=1.0, seed=7)
    assert a == b
    assert a != complete(engine, "Hello", max_tokens=12, temperature=1.0, seed=8)
    greedy = complete(engine, "Hello", max_tokens=12, temperature=0)
    assert greedy == complete(engine, "Hello", max_tokens=12, temperature=0)
    short = complete(engine, "Hello", max_tokens=3, temperature=0)
    assert len(short) < len(greedy) and greedy.startswith(short.rstrip("\ufffd"))
    if len(greedy) > 3:
        stop = greedy[2:4]
        cut = complete(engine, "Hello", max_tokens=12, temperature=0, stop=[stop])
        assert cut == greedy[: greedy.find(stop)]


def test_stream_can_be_abandoned(tiny):
    base, _, _ = tiny
    engine = load(f"hf:{base}")
    stream = engine.generate("Hello", max_tokens=200, temperature=0)
    next(stream)
    stream.close()  # must stop the worker thread, not hang
    assert complete(engine, "Hello", max_tokens=3, temperature=0)


def test_chat_uses_fallback_format_without_template(tiny):
    base, _, _ = tiny
    engine = load(f"hf:{base}")
    assert engine.info()["chat_format"] == "alpaca"
    ids = engine._prompt_ids([{"role": "user", "content": "Hi"}])
    tok = engine.tokenizer
    assert ids == [tok.bos_token_id] + tok.encode("### Instruction:\nHi\n\n### Response:\n", add_special_tokens=False)
    assert ids.count(tok.bos_token_id) == 1  # the template writes the BOS; the engine adds no second one
    assert isinstance(complete(engine, [{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0), str)
    forced = load(f"hf:{base}", chat_format="chatml")
    assert forced.info()["chat_format"] == "chatml"


def test_adapters_switch_by_name(tiny):
    base, a, b = tiny
    plain = load(f"hf:{base}")
    engine = load(f"hf:{base}+adapter=de:{a}+adapter=fr:{b}")
    info = engine.info()
    assert info["adapters"] == ["de", "fr"] and info["active_adapter"] == "de"
    req = [("Der Hund läuft", " schnell über die Wiese.")]
    scores = {}
    for name in ("de", "fr", None):
        engine.set_adapter(name)
        scores[name] = engine.loglikelihood(req)[0].logprob
    assert scores["de"] != pytest.approx(scores["fr"], abs=1e-3)
    assert scores[None] == pytest.approx(plain.loglikelihood(req)[0].logprob, abs=1e-5)
    with pytest.raises(EngineError, match="No adapter named 'es'"):
        engine.set_adapter("es")


def test_bad_inputs(tiny, tmp_path):
    base, _, _ = tiny
    engine = load(f"hf:{base}")
    with pytest.raises(EngineError, match="empty continuation"):
        engine.loglikelihood([("ctx", "")])
    with pytest.raises(EngineError, match="empty"):
        list(engine.generate("   "))
    with pytest.raises(EngineError, match="max_tokens"):
        list(engine.generate("Hi", max_tokens=0))
    with pytest.raises(EngineError, match="temperature"):
        list(engine.generate("Hi", temperature=3))
    with pytest.raises(ModelFileError, match="not found"):
        load(f"hf:{tmp_path}/missing")
    with pytest.raises(ModelFileError, match="config.json"):
        load(f"hf:{tmp_path}")
    with pytest.raises(ModelFileError, match="adapter_config.json"):
        load(f"hf:{base}+adapter={tmp_path}")


def test_labels_after_one_prompt_take_one_forward_pass(tiny):
    """A classifier's labels after the same prompt (the X-Instruction evaluator's "0"/"1"/"2") run the prompt once
    and still score exactly as unbatched forwards do."""
    base, _, _ = tiny
    engine = load(f"hf:{base}", batch_size=8)
    engine._bos = [engine.tokenizer.bos_token_id]  # as the reference scores
    requests = [("Der Hund läuft schnell. Rating:", f" {label}") for label in "012"] + [("The dog runs.", " 1")]
    calls = []
    hook = engine.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        got = engine.loglikelihood(requests)
    finally:
        hook.remove()
    want = _reference_scores(engine.model, engine.tokenizer, requests)
    for g, (lp, greedy) in zip(got, want):
        assert g.logprob == pytest.approx(lp, abs=1e-4) and g.is_greedy == greedy
    assert len({round(g.logprob, 4) for g in got[:3]}) == 3  # three different targets, not one copied result
    assert len(calls) == 1  # both distinct prompts in one batch; the two extra labels cost no pass

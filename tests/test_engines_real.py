"""Both packaged models through both the hf and gguf backends: generation, languages, scoring agreement."""

from __future__ import annotations

import pytest

from core.engines import complete
from core.engines.hf_convert import converted_dir
from core.languages import detect
from core.models import packaged_gguf
from tests.xcopa_items import rank, xcopa_items

pytestmark = pytest.mark.slow
SPECS = ["gemma3-270m", "hf:gemma3-270m", "smollm2-135m", "hf:smollm2-135m"]


@pytest.mark.parametrize("spec", SPECS)
def test_generates_chat_and_raw(engine, spec):
    e = engine(spec)
    reply = complete(e, [{"role": "user", "content": "Name three colours."}], max_tokens=24, temperature=0)
    assert reply.strip()
    raw = "".join(e.generate("The weather today is", max_tokens=16, temperature=0.8, seed=1))
    assert raw.strip()
    info = e.info()
    assert info["backend"] == (spec.partition(":")[0] if ":" in spec else "gguf")
    assert info["parameters"] > 100_000_000


@pytest.mark.parametrize("spec", ["gemma3-270m", "hf:gemma3-270m"])
@pytest.mark.parametrize("lang,prompt", [("de", "Der Hund läuft schnell über die Wiese und"),
                                         ("zh", "我们今天早上去了公园，然后")])
def test_gemma_continues_in_the_prompt_language(engine, report, spec, lang, prompt):
    text = complete(engine(spec), prompt, max_tokens=40, temperature=0)
    code, conf = detect(text)
    report(f"{spec} continues a {lang} prompt: detected {code} ({conf:.2f}): {text[:60]!r}")
    assert code == lang


@pytest.mark.parametrize("model", ["gemma3-270m", "smollm2-135m"])
def test_hf_and_gguf_rank_xcopa_choices_alike(engine, shared_data, report, model):
    items = xcopa_items(shared_data, per_language=10)
    assert len(items) == 100
    gguf_pick, hf_pick = rank(engine(model), items), rank(engine(f"hf:{model}"), items)
    agree = sum(a == b for a, b in zip(gguf_pick, hf_pick)) / len(items)
    acc = {name: sum(p == it[3] for p, it in zip(picks, items)) / len(items)
           for name, picks in (("gguf", gguf_pick), ("hf", hf_pick))}
    report(f"XCOPA 100 items (10 langs), {model}: hf and gguf pick the same choice on {agree:.0%}; "
           f"accuracy gguf {acc['gguf']:.0%}, hf {acc['hf']:.0%}")
    assert agree >= 0.9


@pytest.mark.parametrize("spec", SPECS)
def test_greedy_generation_scores_as_greedy(engine, spec):
    e = engine(spec)
    ctx = "The capital of France is"
    # Stop at a newline: "\n\n" generated as two tokens re-tokenizes as one, which is not greedy.
    cont = complete(e, ctx, max_tokens=4, temperature=0, stop=["\n"])
    assert cont.strip()
    result = e.loglikelihood([(ctx, cont), (ctx, " a banana")])
    assert result[0].is_greedy
    assert not result[1].is_greedy and result[1].logprob < result[0].logprob


@pytest.mark.parametrize("model", ["gemma3-270m", "smollm2-135m"])
def test_both_backends_count_the_same_tokens(engine, model):
    texts = ["Der Hund läuft schnell über die Wiese.", "我们今天早上去了公园。", "Hello, world!",
             "Съешь же ещё этих мягких французских булок."]
    assert [engine(model).count_tokens(t) for t in texts] == [engine(f"hf:{model}").count_tokens(t) for t in texts]


@pytest.mark.parametrize("spec", ["gemma3-270m", "hf:gemma3-270m"])
def test_max_tokens_and_stop(engine, spec):
    e = engine(spec)
    full = complete(e, "One, two, three, four, five,", max_tokens=12, temperature=0)
    assert 0 < e.count_tokens(full) <= 13
    cut = complete(e, "One, two, three, four, five,", max_tokens=12, temperature=0, stop=[","])
    assert "," not in cut and full.startswith(cut)


def test_conversion_is_cached(engine):
    engine("hf:smollm2-135m")
    target = converted_dir(packaged_gguf("smollm2-135m"))
    stamp = (target / "model.safetensors").stat().st_mtime
    assert converted_dir(packaged_gguf("smollm2-135m")) == target
    assert (target / "model.safetensors").stat().st_mtime == stamp


@pytest.mark.parametrize("model", ["gemma3-270m", "smollm2-135m"])  # sliding-window and full attention
def test_gguf_scores_do_not_depend_on_the_kv_cache_left_behind(engine, model):
    e = engine(model)
    a, b = ("Der Hund läuft", " schnell über die Wiese."), ("Der Hund läuft", " langsam nach Hause.")
    first = e.loglikelihood([a, b])  # b reuses a's context in the KV cache
    alone = e.loglikelihood([b])
    complete(e, "Etwas ganz anderes", max_tokens=5, temperature=0)  # generation overwrites the cache
    after = e.loglikelihood([b, a])
    assert first[1].logprob == pytest.approx(alone[0].logprob, abs=1e-3)
    assert after[0].logprob == pytest.approx(alone[0].logprob, abs=1e-3)
    assert after[1].logprob == pytest.approx(first[0].logprob, abs=1e-3)


@pytest.mark.parametrize("model", ["gemma3-270m", "smollm2-135m"])
def test_chat_reply_never_runs_into_a_new_turn(engine, model):
    e = engine(model)
    for _ in range(3):
        reply = complete(e, [{"role": "user", "content": "Hi! Tell me about Paris."}], max_tokens=120,
                         temperature=0.9, seed=_)
        assert "<start_of_turn>" not in reply and "<|im_start|>" not in reply
        assert not any(line.strip() in ("user", "model") for line in reply.splitlines())

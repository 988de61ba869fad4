"""Base models run as a few-shot completion in the prompt's language: the scaffold, and gemma3-270m answering
through it instead of echoing the prompt as it does through a chat template."""

from __future__ import annotations

import difflib

import pytest

from core.engines import load
from core.fewshot_scaffold import EXAMPLES, STOP, is_base_model, scaffold, scaffold_language
from core.languages import detect
from eval.prompt_sets import get_set
from playground import engines
from playground.arena import Sampling, example_prompts, model_prompt, stream_answers

GERMAN = "Ich habe Reis, zwei Eier und etwas Gemüse zu Hause: Was könnte ich heute Abend daraus kochen?"


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def test_every_example_language_has_two_pairs():
    assert set(EXAMPLES) == set(get_set("examples").langs)
    assert all(len(pairs) == 2 and all(q and a for q, a in pairs) for pairs in EXAMPLES.values())


def test_the_scaffold_speaks_the_prompts_language():
    text = scaffold([user(GERMAN)])
    assert scaffold_language(GERMAN) == "de"
    for question, answer in EXAMPLES["de"]:
        assert f"Q: {question}\nA: {answer}" in text
    assert EXAMPLES["en"][1][0] not in text  # no English examples beside the German ones
    assert text.endswith(f"\n\nQ: {GERMAN}\nA:")


def test_a_language_without_examples_gets_english():
    dutch = "Ik heb rijst, twee eieren en wat groenten in huis: wat kan ik vanavond koken?"
    assert detect(dutch)[0] == "nl" and scaffold_language(dutch) == "en"
    assert EXAMPLES["en"][0][0] in scaffold([user(dutch)])


def test_history_folds_into_the_scaffold_as_earlier_pairs():
    messages = [{"role": "system", "content": "Antworte kurz."}, user("Wie heißt die Hauptstadt von Italien?"),
                {"role": "assistant", "content": "Rom.\n\nSie liegt am Tiber."}, user(GERMAN)]
    text = scaffold(messages)
    assert text.startswith("Antworte kurz.\n\nQ: ")
    earlier = "Q: Wie heißt die Hauptstadt von Italien?\nA: Rom.\nSie liegt am Tiber."  # no blank line: no stop
    assert earlier in text
    assert text.index(EXAMPLES["de"][1][1]) < text.index(earlier) < text.index(f"Q: {GERMAN}\nA:")
    assert text.count("Q: ") == 4 and "\n\n\n" not in text


def test_only_base_models_get_the_scaffold():
    assert is_base_model("gemma3-270m") and is_base_model("hf:gemma3-270m")
    assert is_base_model("served:gemma3-270m+parallel=16+ctx=2048")
    assert not is_base_model("smollm2-135m") and not is_base_model("gguf:/tmp/model.gguf")
    prompt, stop = model_prompt("gemma3-270m", [user(GERMAN)])
    assert isinstance(prompt, str) and prompt.endswith("A:") and stop == list(STOP)
    assert model_prompt("smollm2-135m", [user(GERMAN)]) == ([user(GERMAN)], None)


@pytest.fixture(scope="module")
def gemma():
    engine = load("gemma3-270m")
    yield engine
    engine.close()


@pytest.mark.parametrize("lang", ["es", "ja", "ko"])
def test_gemma_answers_the_scaffold_instead_of_echoing(gemma, lang):
    prompt = example_prompts()[get_set("examples").langs.index(lang)][0]
    answer = "".join(gemma.generate(scaffold([user(prompt)]), max_tokens=64, temperature=0, stop=list(STOP)))
    assert answer.strip() and not answer.strip().startswith(prompt[:20])
    assert detect(answer)[0] == lang
    # Its own answer, not one of the examples' (a lost base model copies the nearest one).
    assert all(difflib.SequenceMatcher(None, answer.strip(), a).ratio() < 0.6 for _, a in EXAMPLES[lang])
    # It stopped at the end of its answer's paragraph, not at max_tokens, and never began a new question.
    assert "\nQ:" not in answer and "\n\n" not in answer and gemma.count_tokens(answer) < 64
    # Through the chat template the same prompt comes back verbatim: what the scaffold is for.
    chat = "".join(gemma.generate([user(prompt)], max_tokens=24, temperature=0))
    assert chat.strip().startswith(prompt[:20])


def test_the_arena_runs_a_base_model_through_the_scaffold(monkeypatch):
    monkeypatch.setattr(engines, "_open", type(engines._open)())
    monkeypatch.setitem(engines._serve, "on", False)
    try:
        live, events = list(stream_answers(GERMAN, [[]], ["gemma3-270m"], Sampling(max_tokens=48, temperature=0)))[-1]
        reply = live[0][-1]["content"]
        assert events[0][0] == "done" and reply.strip() and not reply.strip().startswith(GERMAN[:20])
        assert detect(reply)[0] == "de"
    finally:
        for entry in engines._open.values():
            entry.engine.close()


def test_picking_a_base_model_labels_its_column():
    from playground.arena import _picked

    bot, note = _picked(0, "gemma3-270m")
    assert bot.label == "Model 1 (base model: run as a few-shot completion)" and note.startswith("base model")
    bot, note = _picked(1, "smollm2-135m")
    assert bot.label == "Model 2" and note == ""

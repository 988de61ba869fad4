"""XQuAD as Polyglots runs it: the prompts in both modes, answer extraction after the forced prefix, and EM/F1
under MLQA's normalisation, checked on hand-made answers with known scores."""

from __future__ import annotations

import json

import pytest

from eval.data import load_items
from eval.qa_metrics import best, exact_match, f1, tokens
from eval.tasks import get_task
from eval.tasks.xquad import extract_answer


@pytest.mark.parametrize("pred, gold, lang, em, f", [
    ("the Eiffel tower", "Eiffel Tower!", "en", 1.0, 1.0),  # case, punctuation and articles go
    ("Eiffel Tower in Paris", "the Eiffel Tower", "en", 0.0, 2 * 0.5 * 1 / 1.5),  # P 2/4, R 2/2
    ("der Rhein", "Rhein", "de", 1.0, 1.0),  # German articles
    ("«Madrid»", "Madrid", "es", 1.0, 1.0),  # every Unicode punctuation mark, not only ASCII
    ("北京市", "北京", "zh", 0.0, 0.8),  # Chinese is scored character by character: P 2/3, R 1
    ("القاهرة", "قاهرة", "ar", 1.0, 1.0),  # MLQA removes every ال
    ("Москва, Россия", "Москва", "ru", 0.0, 2 / 3),  # no article list: whitespace tokens
    ("", "308", "en", 0.0, 0.0),
])
def test_exact_match_and_f1(pred, gold, lang, em, f):
    assert exact_match(pred, gold, lang) == em
    assert f1(pred, gold, lang) == pytest.approx(f)


def test_best_takes_the_closest_gold_answer():
    assert best("Denver Broncos", ["Broncos", "the Denver Broncos", "Denver"], "en") == {"em": 1.0, "f1": 1.0}
    assert tokens("The  Broncos,  Denver.", "en") == ["broncos", "denver"]


@pytest.mark.parametrize("output, prefix, answer", [
    ('308". The Panthers gave up 308 points.', 'the answer to the question is "', "308"),
    ("308“ Punkte.", "die Antwort auf die Frage „", "308"),
    ("308” Punkte", "die Antwort auf die Frage „", "308"),  # models close „ with ” as often as with “
    ("Madrid» es la capital", "la respuesta a la pregunta es «", "Madrid"),
    (" Hà Nội.\nThủ đô", "câu trả lời cho câu hỏi là", "Hà Nội"),  # no quote in the prefix: first line
    ('"北京"。', '该问题的答案是 "', "北京"),  # a quote repeated at the start is not an empty answer
])
def test_answer_extraction(output, prefix, answer):
    assert extract_answer(output, prefix) == answer


def test_prompts_in_both_modes(shared_data):
    xx, _ = load_items(get_task("xquad"), "zh", shared_data, limit=1)
    en, _ = load_items(get_task("xquad_en"), "zh", shared_data, limit=1)
    raw = xx[0].prompt["raw"]
    assert raw.startswith("### Human：请根据给定的段落回答问题")
    assert raw.endswith(' ### Assistant：根据这段文字，该问题的答案是 "')
    assert en[0].prompt["raw"].startswith("### Human: Answer the question from the given passage.")
    assert en[0].prompt["raw"].endswith('### Assistant: Based on the passage, the answer to the question is "')
    assert "\n\n段落：\n\n" in raw and "\n\nPassage:\n\n" in en[0].prompt["raw"]
    user, assistant = en[0].prompt["chat"]
    assert user["role"] == "user" and "Question:" in user["content"] and "###" not in user["content"]
    assert assistant == {"role": "assistant", "content": 'Based on the passage, the answer to the question is "'}
    assert xx[0].golds and xx[0].golds[0] in raw  # extractive: the answer is in the passage
    assert len(load_items(get_task("xquad"), "de", shared_data)[0]) == 1190


def test_xquad_run_scores_every_item(tmp_path, shared_data):
    from eval.bench import run_bench
    from tests.tiny_model import build_tiny_model

    tiny = build_tiny_model(tmp_path / "tiny", chat_template="{% for m in messages %}{{ m['content'] }}\n{% endfor %}")
    card = run_bench(f"hf:{tiny}", ["xquad", "xquad_en"], tmp_path / "run", langs=["de", "zh"], limit=2,
                     data_dir=shared_data, log=lambda m: None)
    for task in ("xquad", "xquad_en"):
        for lang in ("de", "zh"):
            r = card["results"][task][lang]
            assert r["n"] == 2 and 0 <= r["em"] <= r["f1"] + 1e-9 <= 1 + 1e-9
    assert card["prompt_style"] == "chat"


def test_mlqa_italian_from_crossalpaca(shared_data):
    # CrossAlpaca's Italian MLQA: "risposte" is a dict literal whose key is "text" or "testo" and whose
    # apostrophes are not escaped in 100 rows; 54 ids repeat, so the row number is part of the id.
    items, source = load_items(get_task("mlqa"), "it", shared_data)
    assert len(items) == 1621 and len({i.id for i in items}) == 1621
    golds = {i.golds[0] for i in items}
    assert {"3050 e 3350 metri", "Patrimonio mondiale dell'UNESCO", "anni '50."} <= golds
    assert items[0].prompt["chat"][-1]["content"] == 'In base al testo, la risposta alla domanda è "'
    en, _ = load_items(get_task("mlqa_en"), "it", shared_data, limit=1)
    assert en[0].prompt["chat"][-1]["content"].startswith("Based on the passage") and en[0].golds == items[0].golds
    assert get_task("mlqa").hub_of("de") == ("facebook/mlqa", "mlqa.de.de", "test")


def test_mlqa_reads_the_release_files(tmp_path):
    squad = {"data": [{"paragraphs": [{"context": "Berlin ist die Hauptstadt.", "qas": [
        {"id": "x1", "question": "Was ist die Hauptstadt?", "answers": [{"text": "Berlin", "answer_start": 0}]}]}]}]}
    (tmp_path / "mlqa" / "test").mkdir(parents=True)
    (tmp_path / "mlqa" / "test" / "test-context-de-question-de.json").write_text(json.dumps(squad))
    [item], _ = load_items(get_task("mlqa"), "de", tmp_path)
    assert item.id == "x1" and item.golds == ("Berlin",) and "Berlin ist die Hauptstadt." in item.prompt["raw"]
    assert get_task("mlqa").score(' Berlin" ist es', item, "de") == {"answer": "Berlin", "em": 1.0, "f1": 1.0}

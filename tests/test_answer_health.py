"""Answer health: echo, loop, empty and truncated on hand-made answers; agreement measured on the answer's own
text and reported over all and over healthy answers; and Gemma 3 270M base's real answers to the example
prompts, which echo the prompt and loop, flagged as such."""

from __future__ import annotations

import json

from core.answer_health import check_answer, rep_n
from core.languages import detect
from eval.generate import agreement_table, run_generate

PROMPT = "Explique à un enfant pourquoi le ciel est bleu."
GOOD = ("Le ciel est bleu parce que la lumière du soleil se diffuse dans l'air, et le bleu se diffuse plus que "
        "les autres couleurs.")


def _record(lang, prompt, answer, tokens=None, i=0):
    return {"lang": lang, "id": str(i), "turns": [prompt], "answers": [answer], "tokens": [tokens]}


def test_an_echoed_prompt_is_flagged_and_removed_from_the_answer():
    echoed = f"{PROMPT} mendatang dítě dítě dítě dítě dítě dítě dítě dítě dítě dítě dítě dítě dítě dítě"
    h = check_answer(PROMPT, echoed)
    assert set(h.flags) == {"echo", "loop"} and not h.healthy
    assert "ciel" not in h.own_text and h.own_text.startswith("mendatang dítě")
    short = f"{PROMPT} mendatang dítě dítě dítě"
    assert check_answer(PROMPT, short).flags == ("echo",)
    assert detect(short)[0] == "fr" and detect(check_answer(PROMPT, short).own_text)[0] == "cs"  # the echo no
    # longer passes as French
    cut = "Hvað er höfuðborg Íslands og hvað búa margir þar?\n\nÍslands og hvað búa margir þar?\n\nÍs"
    assert check_answer("Hvað er höfuðborg Íslands og hvað búa margir þar?", cut).own_text == ""  # not "Ís"
    mostly = check_answer(PROMPT, f"Bien sûr. {PROMPT} {PROMPT}")
    assert "echo" in mostly.flags and mostly.copied > 0.5  # repeats the prompt, after an opening of its own


def test_a_real_answer_that_quotes_a_few_words_is_healthy():
    h = check_answer(PROMPT, f"Pourquoi le ciel est bleu ? {GOOD}")
    assert h.flags == () and h.healthy and 0 < h.copied < 0.5 and "lumière du soleil" in h.own_text
    assert check_answer("Bonjour", "Bonjour ! Comment puis-je vous aider aujourd'hui ?").flags == ()


def test_loops_empty_and_truncated():
    assert "loop" in check_answer("Q", "Qu'est-ce qui a fait la Chine ?\n" + "?\n" * 30).flags
    lines = "\n".join(["Le ciel est bleu."] * 5 + ["Fin de l'histoire ici."])
    assert "loop" in check_answer("Q", lines).flags
    assert rep_n("天气很好" * 20) > 0.9 and rep_n("今天天气很好，我们去公园散步吧。然后在湖边吃午饭，看看风景。") < 0.1
    assert rep_n(GOOD) == 0.0
    assert check_answer("Q", "  ... ?? 123 ").flags == ("empty",)
    assert check_answer("Q", GOOD, tokens=96, max_tokens=96).flags == ("truncated",)
    assert check_answer("Q", GOOD, tokens=40, max_tokens=96).flags == ()
    assert check_answer("Q", GOOD, tokens=None, max_tokens=96).flags == ()  # uncounted: not called truncated


def test_agreement_over_all_and_over_healthy_answers():
    records = [_record("fr", PROMPT, GOOD, 30, 0), _record("fr", PROMPT, GOOD, 96, 1),
               _record("fr", PROMPT, f"{PROMPT} {PROMPT} {PROMPT}", 40, 2),
               _record("fr", PROMPT, "The sky is blue because of Rayleigh scattering of sunlight in the air.", 30, 3)]
    row = agreement_table(records, ["fr"], max_tokens=96)["fr"]
    assert row["n"] == 4 and row["agreement"] == 0.5  # the echo's own text is empty: "und", not French
    assert row["healthy"] == {"n": 3, "agreement": round(2 / 3, 4), "ci95": row["healthy"]["ci95"]}
    assert row["flags"] == {"echo": 0.25, "loop": 0.25, "empty": 0.0, "truncated": 0.25}  # the prompt thrice loops
    assert row["answered_in"] == {"fr": 2, "und": 1, "en": 1}
    assert row["confusion"]["lpr"] == round(2 / 3, 4) and row["confusion"]["scored"] == 3


def test_a_language_lid176_cannot_identify_gets_a_note_not_a_zero():
    row = agreement_table([_record("xh", "Ndicela undichazele", "Molo, unjani namhlanje? Ndiyavuya.", 9)], ["xh"])
    assert row["xh"]["agreement"] is None and row["xh"]["note"] == "not identifiable by the language-ID model"


def test_gemma_base_echoes_and_loops_and_healthy_agreement_is_reported_apart(tmp_path):
    """Gemma 3 270M base, greedy, on the example prompts behind the issue's "Explique à un enfant ..." answers."""
    from eval.prompt_sets import EXAMPLES

    rows = [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]
    explain = [r for r in rows if r["category"] == "explain" and r["lang"] in ("de", "fr", "it")]
    prompts = tmp_path / "explain.jsonl"
    prompts.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in explain))
    card = run_generate("gemma3-270m", str(prompts), tmp_path / "run", max_tokens=64)
    items = [json.loads(line) for line in (tmp_path / "run" / "items.jsonl").read_text().splitlines()]
    assert len(items) == 3 and all({"echo", "loop"} & set(r["health"][0]) for r in items), items
    for row in card["agreement"].values():
        assert row["healthy"]["n"] < row["n"] and row["flags"]["echo"] + row["flags"]["loop"] > 0
    echoed = [r for r in items if "echo" in r["health"][0]]
    assert echoed and all(detect(r["answers"][0])[0] == r["lang"] for r in echoed)  # the old metric: "agrees"
    own = [check_answer(r["turns"][0], r["answers"][0]).own_text for r in echoed]
    assert all(r["turns"][0][:30] not in text for r, text in zip(echoed, own))


def test_a_strong_models_answers_are_not_called_loops_or_empty(shared_data):
    """Command R's 6,586 LCB completions (lists, poems, code, every script): none flagged loop or empty."""
    import csv

    with open(shared_data / "language_confusion_lcb/outputs/command-r.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    flagged = [r["completion"][:80] for r in rows if {"loop", "empty"} & set(check_answer("", r["completion"]).flags)]
    assert len(rows) == 6586 and flagged == []

"""eval generate: prompt sets from ../shared/data, answers appended and resumed, turn 2 sent after turn 1,
and the language-agreement table (rates, Wilson intervals, what it answered in instead)."""

from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from eval.generate import agreement_table, format_agreement, run_generate
from eval.prompt_sets import get_set, load_prompts
from tests.tiny_model import build_tiny_model


def test_prompt_sets_read_the_shared_files(shared_data):
    assert len(load_prompts(get_set("hplt"), "hi", shared_data)) == 49  # upstream line 50 does not parse
    assert len(load_prompts(get_set("hplt"), "no", shared_data)) == 50
    de = load_prompts(get_set("mt_bench_x"), "de", shared_data)
    assert len(de) == 80 and all(len(p.turns) == 2 for p in de) and de[0].category == "writing"
    assert len(load_prompts(get_set("mt_bench_multilingual"), "ja", shared_data, limit=5)) == 5
    alpaca = load_prompts(get_set("alpaca_eval"), "en", shared_data)
    assert len(alpaca) == 805 and alpaca[0].category == "helpful_base" and alpaca[804].id == "804"
    with pytest.raises(ConfigError, match="hplt has no language 'de'.*bg, bn, cs"):
        load_prompts(get_set("hplt"), "de", shared_data)
    with pytest.raises(ConfigError, match="Unknown prompt set 'mtbench'.*hplt, mt_bench_x"):
        get_set("mtbench")


def test_language_confusion_sets_take_sources_in_turn(shared_data):
    mono = load_prompts(get_set("lcb_monolingual"), "ar", shared_data, limit=4)
    assert [p.id for p in mono] == ["aya/0", "dolly/0", "okapi/0", "aya/1"]  # a limit samples every source
    assert [p.category for p in mono][:3] == ["aya", "dolly", "okapi"]
    assert len(load_prompts(get_set("lcb_monolingual"), "ar", shared_data)) == 300
    cross = load_prompts(get_set("lcb_crosslingual"), "ja", shared_data)
    assert len(cross) == 299 and "Japanese" in cross[0].turns[0]  # English prompts asking for Japanese
    assert len({p.id for p in cross}) == 299


def test_agreement_table_counts_and_confusion():
    fr, en = "Le chat dort sur le canapé depuis ce matin.", "The cat has been sleeping on the sofa since morning."
    records = [{"lang": "fr", "id": str(i), "turns": ["Que fait le chat ?"], "answers": [fr if i < 7 else en],
                "tokens": [12]} for i in range(10)]
    table = agreement_table(records, ["fr"], max_tokens=64)["fr"]
    assert table["n"] == 10 and table["agreement"] == 0.7 and table["answered_in"] == {"fr": 7, "en": 3}
    assert table["ci95"][0] == pytest.approx(0.3968, abs=1e-3) and table["ci95"][1] == pytest.approx(0.8922, abs=1e-3)
    assert table["healthy"]["n"] == 10 and table["confusion"]["lpr"] == 0.7
    text = format_agreement({"agreement": {"fr": table}})
    assert "fr      10     0.700  [0.397, 0.892]  0.700 (n=10)   0.70" in text and "healthy" in text, text


def test_generate_resumes_and_answers_both_turns(tmp_path, shared_data):
    from core.chat import NAMED_FORMATS

    tiny = build_tiny_model(tmp_path / "tiny", chat_template=NAMED_FORMATS["chatml"].template)
    out = tmp_path / "run"
    kwargs = dict(langs=["de", "fr"], limit=2, data_dir=shared_data, turns=2, max_tokens=8)
    card = run_generate(f"hf:{tiny}", "mt_bench_x", out, **kwargs)
    lines = (out / "items.jsonl").read_text().splitlines()
    assert card["answered_this_run"] == 4 and len(lines) == 4
    first = json.loads(lines[0])
    assert len(first["answers"]) == 2 and len(first["detected"]) == 2 and first["turns"][1].startswith("Schreiben")
    (out / "items.jsonl").write_text("\n".join(lines[:3]) + "\n")  # as if stopped before the last prompt
    again = run_generate(f"hf:{tiny}", "mt_bench_x", out, **kwargs)
    assert again["answered_this_run"] == 1
    keys = [(json.loads(x)["lang"], json.loads(x)["id"]) for x in (out / "items.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4
    untimed = lambda line: {k: v for k, v in json.loads(line).items() if k != "seconds"}  # noqa: E731
    assert untimed((out / "items.jsonl").read_text().splitlines()[-1]) == untimed(lines[3])  # greedy: same
    assert {lang: r["n"] for lang, r in again["agreement"].items()} == {"de": 2, "fr": 2}
    from eval.report import load_runs, plots, table

    text = table(load_runs([out]))
    head, de = text.splitlines()[0].split(), next(x for x in text.splitlines() if x.startswith("mt_bench_x  de "))
    assert {"LPR", "WPR", "echo", "loop", "empty", "truncated"} <= set(head)
    row = again["agreement"]["de"]
    assert f"{row['agreement']:.3f} [{row['ci95'][0]:.3f}" in de and f"(n={row['healthy']['n']})" in de
    assert f"{row['flags']['truncated']:.2f}" in de.split()
    written = plots(load_runs([out]), tmp_path / "plots")
    assert [p.name for p in written] == ["mt_bench_x_agreement.png", "mt_bench_x_confusion.png",
                                         "mt_bench_x_health.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in written)


def test_concurrency_batches_hf_and_keeps_the_sequential_answers(tmp_path, shared_data):
    """hf answers N prompts per batched generate call; greedy answers match the one-by-one run's, and the card
    reports the mode, requests/s, tokens/s and latency percentiles."""
    from core.chat import NAMED_FORMATS

    tiny = build_tiny_model(tmp_path / "tiny", chat_template=NAMED_FORMATS["chatml"].template)
    kwargs = dict(langs=["de", "fr"], limit=3, data_dir=shared_data, turns=2, max_tokens=8)
    one = run_generate(f"hf:{tiny}", "mt_bench_x", tmp_path / "one", **kwargs)
    many = run_generate(f"hf:{tiny}", "mt_bench_x", tmp_path / "many", concurrency=4, **kwargs)
    assert one["throughput"]["mode"] == "sequential" and many["throughput"]["mode"] == "batch"
    t = many["throughput"]
    assert t["requests"] == 12 and t["concurrency"] == 4 and t["tokens_per_s"] > 0
    assert t["latency_p95"] >= t["latency_p50"] > 0
    answers = lambda out: {(r["lang"], r["id"]): r["answers"] for r in  # noqa: E731
                           map(json.loads, (out / "items.jsonl").read_text().splitlines())}
    assert answers(tmp_path / "many") == answers(tmp_path / "one")
    with pytest.raises(ConfigError, match="--concurrency must be at least 1"):
        run_generate(f"hf:{tiny}", "mt_bench_x", tmp_path / "bad", concurrency=0, **kwargs)


def test_in_process_gguf_stays_sequential_and_says_so(capsys):
    from eval.answering import answer_all

    class OneAtATime:
        backend = "gguf"

        def generate(self, prompt, **params):
            yield f"echo {prompt[-1]['content']}"

        def count_tokens(self, text):
            return len(text.split())

    got = {}
    stats = answer_all(OneAtATime(), [["a"], ["b", "c"]], {}, 8, lambda i, done: got.update({i: done.answers}))
    assert got == {0: ["echo a"], 1: ["echo b", "echo c"]}
    assert stats.mode == "sequential" and stats.summary()["concurrency"] == 1 and stats.requests == 3
    assert "answers one prompt at a time" in capsys.readouterr().err

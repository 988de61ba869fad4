"""The app's pieces without a browser: badges, routing, public mode, background jobs, and each tab's checks of
bad input (all raised before any work starts)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from core.errors import ConfigError, DataError, SpecError
from playground import jobs, ladder_view
from playground.arena import _text, badge, route_adapter
from playground.benchmarks import bench_job
from playground.judge import judge_job, judge_key, judge_rows
from playground.language_check import generate_job, mismatches, stage_upload
from playground.models_runs import inventory
from playground.settings import PUBLIC_MAX_LIMIT, Settings
from tests.ladder_cards import ladder_card, write_ladder


@pytest.fixture()
def settings(tmp_path):
    return Settings(runs_dir=tmp_path / "runs", data_dir=None)


@pytest.fixture()
def public(tmp_path):
    return Settings(public=True, runs_dir=tmp_path / "runs", upload_bytes=200)


def test_badge_marks_match_and_mismatch():
    same = badge("Wie spät ist es?", "Es ist drei Uhr nachmittags.", tokens_per_s=12.34)
    assert "German (`de`" in same and "matches the prompt (German)" in same and "12.3 tokens/s" in same
    switch = badge("Wie spät ist es?", "It is three o'clock in the afternoon.")
    assert "English (`en`" in switch and "mismatch: expected German" in switch
    target = badge("What time is it?", "Es ist drei Uhr nachmittags.", target="de")
    assert "matches the target (German)" in target
    assert "no language detected" in badge("Was ist 2+2?", "4")


SKY = "Erkläre mir bitte in zwei Sätzen, warum der Himmel am Tag blau ist."
GERMAN = ["Der Himmel ist blau, weil das Sonnenlicht an den Molekülen der Luft gestreut wird.",
          "Blaues Licht wird dabei viel stärker gestreut als rotes Licht.",
          "Deshalb sehen wir am Tag überall einen blauen Himmel."]
ENGLISH = ["This is called Rayleigh scattering and it explains the colour.",
           "At sunset the light travels a longer path through the air."]


def test_badge_reads_the_answers_own_text_its_lines_and_its_health():
    # The prompt echoed, three German lines, two English ones: German, but 2 of 5 lines are English, and an echo.
    mixed = badge(SKY, "\n".join([SKY, *GERMAN, *ENGLISH]), tokens_per_s=3.0)
    assert mixed.startswith("**Answer:** German (`de`") and "matches the prompt (German)" in mixed
    assert "2 of 5 lines in English" in mixed and "⚠️ echo" in mixed and "3.0 tokens/s" in mixed
    clean = badge(SKY, "\n".join(GERMAN))
    assert "3 of 3 lines in German" in clean and "echo" not in clean and "loop" not in clean
    # only the prompt came back: it is not the answer's language
    echoed = badge(SKY, SKY)
    assert "only the prompt, echoed" in echoed and "**Answer:** German" not in echoed and "⚠️ echo" in echoed
    assert "⚠️ loop" in badge(SKY, "\n".join([GERMAN[0]] * 6))
    xhosa = badge("Molo, unjani namhlanje?", "Ndiphilile enkosi, wena unjani namhlanje?", target="xh")
    assert "Xhosa (`xh`) is not identifiable by the language-ID model" in xhosa and "mismatch" not in xhosa


def test_message_parts_become_text():
    assert _text([{"type": "text", "text": "Hallo "}, {"type": "text", "text": "Welt"}]) == "Hallo Welt"


def test_route_by_language_picks_the_adapter_that_covers_it(tmp_path):
    fr_it = tmp_path / "fr_it"
    fr_it.mkdir()
    (fr_it / "polyglot_card.json").write_text(json.dumps({"languages": ["fr", "it"]}))
    spec = f"hf:gemma3-270m+adapter=de:{tmp_path / 'de'}+adapter=romance:{fr_it}"
    assert route_adapter(spec, "de") == "de"
    assert route_adapter(spec, "it") == "romance"
    assert route_adapter(spec, "ja") is None  # the base model


def test_public_mode_loads_only_listed_models(public, settings):
    assert public.check_model(" smollm2-135m ") == "smollm2-135m"
    with pytest.raises(SpecError, match="only its listed models"):
        public.check_model("gguf:/etc/passwd.gguf")
    assert settings.check_model("gguf:/some/model.gguf") == "gguf:/some/model.gguf"
    with pytest.raises(SpecError, match="Valid model specs"):
        settings.check_model("not-a-model")
    assert public.check_limit(None) == PUBLIC_MAX_LIMIT and public.check_limit(10) == 10
    assert settings.check_limit(None) is None


def test_space_environment_means_public(monkeypatch, tmp_path):
    monkeypatch.setenv("SPACE_ID", "polyglot/lab")
    monkeypatch.setenv("POLYGLOT_ALLOWED_MODELS", "hf:Qwen/Qwen2.5-0.5B-Instruct")
    s = Settings.from_env(runs_dir=str(tmp_path))
    assert s.public and s.upload_bytes and "hf:Qwen/Qwen2.5-0.5B-Instruct" in s.model_choices


def test_bench_job_checks_input_before_starting(settings):
    title, commands, outs = bench_job(settings, ["smollm2-135m"], ["xcopa"], "it, et", 8)
    assert commands[0][:4] == ["-m", "eval", "bench", "--model"] and "--limit" in commands[0]
    assert "it,et" in commands[0] and Path(outs[0]).parent == settings.runs_dir / "bench"
    assert bench_job(settings, ["smollm2-135m"], ["xcopa"], "it, et", 8)[2] == outs  # same request, same run
    with pytest.raises(ConfigError, match="at least one task"):
        bench_job(settings, ["smollm2-135m"], [], "", 8)
    with pytest.raises(SpecError):
        bench_job(settings, ["nope"], ["xcopa"], "", 8)
    with pytest.raises(Exception, match="xx"):
        bench_job(settings, ["smollm2-135m"], ["xcopa"], "xx", 8)


def test_uploads_are_checked_and_size_limited(public, settings, tmp_path):
    good = tmp_path / "mine.jsonl"
    good.write_text('{"lang": "de", "prompt": "Wie geht es dir heute?"}\n')
    kept = Path(stage_upload(settings, str(good)))
    assert kept.parent == settings.runs_dir / "uploads" and kept.read_text() == good.read_text()
    csv = tmp_path / "mine2.jsonl"
    csv.write_text("lang,prompt\nde,Hallo\n")
    with pytest.raises(DataError, match="mine2.jsonl:1"):
        stage_upload(settings, str(csv))
    big = tmp_path / "big.jsonl"
    big.write_text(good.read_text() * 20)
    with pytest.raises(DataError, match="up to 200 bytes"):
        stage_upload(public, str(big))
    with pytest.raises(ConfigError, match="Upload"):
        generate_job(settings, ["smollm2-135m"], "Uploaded JSONL", "", None, "", 2, 32)
    title, commands, _ = generate_job(settings, ["smollm2-135m"], "Uploaded JSONL", "", str(good), "de", 2, 32)
    assert commands[0][commands[0].index("--set") + 1] == str(kept)
    # a GGUF model runs on the app's shared llama-server, 8 prompts at a time
    assert commands[0][commands[0].index("--model") + 1] == "served:smollm2-135m+parallel=16+ctx=2048"
    assert commands[0][commands[0].index("--concurrency") + 1] == "8"
    with pytest.raises(ConfigError, match="has no prompts in xx"):
        generate_job(settings, ["smollm2-135m"], "Built-in examples", "", None, "ja,xx", 2, 32)
    with pytest.raises(ConfigError, match="--data-dir"):
        generate_job(settings, ["smollm2-135m"], "Dataset", "hplt", None, "", 2, 32)


def test_judge_needs_a_key_for_openai_and_never_lends_the_apps_key(public, settings, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    args = ("smollm2-135m", "gemma3-270m", "examples", "de", 2, "pairwise", "gpt-4o-mini")
    with pytest.raises(ConfigError, match="needs an API key"):
        judge_job(settings, *args, "", "", dry_run=True)
    local = judge_job(settings, *args, "http://127.0.0.1:9/v1", "", dry_run=True)
    assert "--dry-run" in local[1][0] and local[3] == {}
    monkeypatch.setenv("OPENAI_API_KEY", "sk-app-owner")
    assert judge_job(settings, *args, "", "", dry_run=False)[3] == {}  # the app's own key, from its environment
    with pytest.raises(ConfigError, match="needs an API key"):
        judge_job(public, *args, "", "", dry_run=True)  # a public app does not spend its owner's key
    assert judge_key(public, " sk-visitor ") == {"OPENAI_API_KEY": "sk-visitor"}
    title, commands, _, env = judge_job(public, *args, "", "sk-visitor", dry_run=True)
    assert "sk-visitor" not in json.dumps([title, commands])  # the key goes to the job's environment only
    with pytest.raises(ConfigError, match="model B"):
        judge_job(settings, "smollm2-135m", "", "examples", "", 2, "pairwise", "gpt-4o-mini", "", "", dry_run=True)


def _wait(job, states, timeout=60):
    deadline = time.time() + timeout
    while jobs.status(job) not in states and time.time() < deadline:
        time.sleep(0.2)
    return jobs.status(job)


def test_stop_works_for_an_app_started_with_ctrl_c_ignored(tmp_path):
    """`python app.py &` from a script starts the app with SIGINT ignored, which its jobs would inherit: the
    runner restores Ctrl-C, so Stop still stops the job midway."""
    import signal

    out = tmp_path / "count.txt"
    script = (f"import pathlib, time\np = pathlib.Path({str(out)!r})\n"
              "for i in range(20):\n    p.open('a').write(f'{i} ')\n    time.sleep(0.5)\n")
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        job = jobs.start(tmp_path, "test", "count", [["-c", script]], [str(out)])
        while not out.exists() or len(out.read_text().split()) < 2:
            time.sleep(0.1)
        assert jobs.stop(job) == "stopped" and len(out.read_text().split()) < 20
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_job_runs_in_the_background_stops_and_resumes(tmp_path):
    out = tmp_path / "count.txt"
    # Counts to 20, appending as it goes and skipping what is written: a resumable job like the CLI's. Twenty
    # half-second steps leave a loaded machine time to stop it midway.
    script = (f"import pathlib, time, sys\np = pathlib.Path({str(out)!r})\n"
              "done = len(p.read_text().split()) if p.exists() else 0\n"
              "for i in range(done, 20):\n"
              "    print(f'count: {100 * (i + 1) // 20}%|#| {i + 1}/20', file=sys.stderr, flush=True)\n"
              "    with p.open('a') as f: f.write(f'{i} ')\n"
              "    time.sleep(0.5)\n")
    job = jobs.start(tmp_path, "test", "count to twenty", [["-c", script]], [str(out)])
    assert _wait(job, {"running"}) == "running"
    with pytest.raises(ConfigError, match="already running"):
        jobs.start(tmp_path, "test", "count to twenty", [["-c", script]], [str(out)])
    while not out.exists() or len(out.read_text().split()) < 2:
        time.sleep(0.1)
    assert jobs.stop(job) == "stopped"
    written = out.read_text().split()
    assert 2 <= len(written) < 20
    fraction, label = jobs.progress(job)
    assert 0 < fraction < 1 and "count" in label
    assert [j.id for j in jobs.list_jobs(tmp_path, ("test",))] == [job.id]
    jobs.start(tmp_path, "test", "count to twenty", [["-c", script]], [str(out)])  # Resume
    assert _wait(job, {"done", "failed"}) == "done"
    assert out.read_text().split() == [str(i) for i in range(20)]  # nothing counted twice
    assert jobs.progress(job) == (1.0, "done")


def test_a_failing_command_fails_the_job_and_stops_the_sequence(tmp_path):
    job = jobs.start(tmp_path, "test", "fails", [["-c", "import sys; print('error: no such task'); sys.exit(2)"],
                                                 ["-c", "open('never', 'w')"]], [])
    assert _wait(job, {"failed", "done"}) == "failed"
    assert "error: no such task" in jobs.log_tail(job)
    assert not (Path(jobs.ROOT) / "never").exists()


def test_judge_rows_show_win_tie_loss_and_flips():
    table = {"fastchat": {"n": 4, "win": 2, "tie": 1, "loss": 1, "both_bad": 0, "win_rate": 0.5, "ci95": [0.15, 0.85]},
             "position_bias": {"n": 4, "flip_rate": 0.25}}
    # a judge that never wrote a parseable verdict (a 135M model does this): no nan in the table
    silent = {"fastchat": {"n": 0, "win": 0, "tie": 0, "loss": 0, "both_bad": 0, "win_rate": float("nan"),
                           "ci95": [0.0, 1.0]}, "position_bias": {"n": 0, "flip_rate": float("nan")}}
    card = {"mode": "pairwise", "a": "x", "b": "y",
            "results": {"overall": table, "by_lang": {"de": table, "ja": silent}, "by_category": {"writing": table}}}
    head, rows = judge_rows(card)
    assert head[-1] == "flip rate" and rows[0][:6] == ["all", "all", 4, 2, 1, 1] and rows[1][1] == "de"
    assert rows[0][7:] == ["0.500 [0.150, 0.850]", 0.25] and rows[2][7:] == ["no verdicts", "no pairs"]
    assert len(rows) == 4 and rows[3][0] == "category"


def test_mismatches_list_answers_in_another_language(tmp_path):
    from eval.results import append_items

    append_items(tmp_path, [
        {"lang": "de", "id": "1", "turns": ["Wie geht's?"], "answers": ["I am fine, thanks."],
         "detected": [["en", 0.9]]},
        {"lang": "de", "id": "2", "turns": ["Wie heißt du?"], "answers": ["Ich heiße Max."],
         "detected": [["de", 0.9]]}])
    text = mismatches([{"model": "m", "_dir": str(tmp_path)}])
    assert "German prompt → English" in text and "I am fine" in text and "Ich heiße" not in text


def test_mismatches_mark_wrong_lines_list_flags_and_escape_the_answer(tmp_path):
    from eval.results import append_items

    prompt = SKY + " <script>alert('prompt')</script>"
    english = "This is called <script>alert('x')</script> Rayleigh scattering and it explains the colour."
    append_items(tmp_path, [
        # echoed, then German with one English line: listed for its echo, and that line marked
        {"lang": "de", "id": "echo", "turns": [prompt], "answers": ["\n".join([prompt, *GERMAN, english])]},
        {"lang": "de", "id": "good", "turns": [SKY], "answers": ["\n".join(GERMAN)]},  # healthy and German: not listed
        {"lang": "de", "id": "loop", "turns": [SKY], "answers": ["\n".join([GERMAN[0]] * 6)]},  # German, but a loop
        {"lang": "xh", "id": "xh-echo", "turns": ["Molo, unjani namhlanje?"], "answers": ["Molo, unjani namhlanje?"]},
        {"lang": "xh", "id": "xh-ok", "turns": ["Molo, unjani?"], "answers": ["Ndiphilile enkosi, wena unjani?"]}])
    text = mismatches([{"model": "m", "_dir": str(tmp_path), "max_tokens": 256}])
    assert "<script>" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(&#x27;prompt&#x27;)" in text  # the prompt too
    marked = ("<mark>This is called &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Rayleigh scattering and it "
              "explains the colour.</mark> <small>[English]</small>")
    assert marked in text and text.count("<mark>") == 1  # only the English line; the German ones are not marked
    items = text.split("<li>")[1:]
    assert len(items) == 3, text  # the echo, the loop, the echoed Xhosa answer
    echo, loop, xhosa = items
    assert "German prompt → German" in echo and "1 of 4 lines in another language" in echo and "<b>echo</b>" in echo
    assert "<b>loop</b>" in loop and "<mark>" not in loop
    assert "Xhosa prompt (not identifiable by the language-ID model)" in xhosa and "<b>echo</b>" in xhosa
    assert "Ndiphilile" not in text
    assert "Xhosa (<code>xh</code>): not identifiable by the language-ID model" in text


def test_the_language_check_table_has_lcb_and_health_columns(tmp_path):
    from core.run_dir import CARD, write_json
    from eval.generate import agreement_table
    from eval.results import append_items
    from playground.language_check import render_generate

    run = tmp_path / "run"
    run.mkdir()
    records = [{"lang": "de", "id": "1", "turns": [SKY], "answers": ["\n".join([*GERMAN, *ENGLISH])], "tokens": [40]},
               {"lang": "de", "id": "2", "turns": [SKY], "answers": [SKY], "tokens": [20]},
               {"lang": "xh", "id": "3", "turns": ["Molo, unjani?"], "answers": ["Ndiphilile enkosi."], "tokens": [5]}]
    append_items(run, records)
    write_json(run / CARD, {"model": "smollm2-135m", "set": "mine.jsonl", "max_tokens": 64,
                            "agreement": agreement_table(records, ["de", "xh"], 64)})
    res = render_generate(jobs.Job("j", "generate", "t", [], [str(run)], tmp_path / "job"))
    assert {"LPR", "WPR", "line acc", "echo", "loop", "healthy only"} <= set(res.headers)
    rows = {r[1]: dict(zip(res.headers, r)) for r in res.rows}
    assert set(rows) == {"de", "xh"}
    assert rows["de"]["n"] == "2" and rows["de"]["echo"] == "0.50" and rows["de"]["healthy only"] == "1.000 (n=1)"
    assert rows["de"]["LPR"] == "0.00" and rows["de"]["line acc"] == "0.60"  # 3 of 5 lines German; the echo: no line
    assert rows["xh"]["agreement [95%]"] == "not identifiable by the language-ID model"
    assert "<mark>" in res.text and res.images


def test_inventory_lists_trained_merged_and_exported_models(settings):
    adapter = settings.runs_dir / "train" / "de" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "polyglot_card.json").write_text(json.dumps({"base": "gemma3-270m", "languages": ["de"]}))
    merged = settings.runs_dir / "merged"
    merged.mkdir()
    (merged / "merge_card.json").write_text("{}")
    (settings.runs_dir / "export").mkdir()
    (settings.runs_dir / "export" / "model-Q4_K_M.gguf").write_bytes(b"GGUF")
    specs = {e.kind: e.spec for e in inventory(settings)}
    assert specs["adapter"] == f"hf:gemma3-270m+adapter={adapter}"
    assert specs["merged"] == f"hf:{merged}" and specs["gguf"].endswith("model-Q4_K_M.gguf")
    assert specs["packaged"] in ("gemma3-270m", "smollm2-135m")


def test_inventory_lists_a_quantization_ladder_and_its_files(settings):
    run = write_ladder(settings.runs_dir / "ladder" / "tiny", ladder_card(), draw=False)
    (run / "model-q8_0.gguf").write_bytes(b"GGUF")
    found = inventory(settings)
    ladder = [e for e in found if e.kind == "quant ladder"]
    assert [(e.name, e.spec, e.path) for e in ladder] == [("hf:smollm2-135m (tiny)", "", str(run))]
    assert ladder[0].card["kind"] == "quant_ladder"
    assert [e.name for e in found if e.kind == "gguf"] == ["model-q8_0.gguf"]  # its GGUFs stay listed too
    assert ladder_view.choices(settings, found) == [("hf:smollm2-135m (tiny)", "ladder/tiny")]


def test_ladder_view_rows_recommendation_and_heatmap(settings, tmp_path):
    from quantize.ladder_report import Floors, recommend

    card = ladder_card()
    rows = ladder_view.file_rows(card)
    assert [r[0] for r in rows] == ["f16", "q8_0", "q4_k_m", "q2_k@langs"]  # largest first
    assert rows[2] == ["q4_k_m", "105.5", "36.3", "0.0467", "hi (0.0900)", "0.820", ""]
    assert rows[3][-1] == "30/211 tensors -> q4_0"
    head, kl = ladder_view.kl_rows(card)
    assert head == ["language", "q8_0", "q4_k_m", "q2_k@langs"]  # the reference is left out
    assert kl[2] == ["hi (Hindi)", "0.0110", "0.0900", "0.4000"]
    text = ladder_view.recommendation(card)  # the card has none: the default floors, said so
    assert text.startswith("At the default floors: Recommended: q8_0 (144.8 MB)")
    assert "q4_k_m is ruled out by 1 language(s); the binding one is Hindi (hi: KL 0.0900 > 0.05" in text
    card["recommendation"] = recommend(card, Floors(max_kl=0.1, min_top1=0.8))  # as `ladder --recommend` writes
    text = ladder_view.recommendation(card)
    assert text.startswith("Recommended: q4_k_m") and "KL <= 0.1, top-1 >= 0.8" in text and "Hindi (hi" in text
    drawn = ladder_view.heatmap_image(card, tmp_path / "nowhere", settings)  # no heatmap.png: drawn
    run = write_ladder(tmp_path / "run", card)
    saved = ladder_view.heatmap_image(card, run, settings)
    assert drawn.size == saved.size and drawn.width > 600


def test_a_running_ladder_shows_what_it_measured(settings, tmp_path):
    card = ladder_card()
    card["status"] = "running"
    del card["cells"]["q2_k@langs"]["hi"], card["cells"]["q4_k_m"]
    for name in ("q4_k_m", "q2_k@langs"):
        for key in ("mean_kl", "min_top1", "worst_language", "tokens_per_s"):
            del card["files"][name][key]
    rows = ladder_view.file_rows(card)
    assert rows[2] == ["q4_k_m", "105.5", "-", "-", "-", "-", ""]
    assert ladder_view.kl_rows(card)[1][2] == ["hi (Hindi)", "0.0110", "-", "-"]
    text = ladder_view.recommendation(card)
    assert "Recommended: q8_0" in text and "Among the 2 of 4 types measured in every language so far" in text
    assert ladder_view.heatmap_image(card, tmp_path, settings).width > 0  # drawn from f16 and q8_0
    card["cells"] = {}
    assert ladder_view.recommendation(card).startswith("No recommendation yet")
    assert ladder_view.heatmap_image(card, tmp_path, settings) is None


def test_the_ladder_view_escapes_the_card_and_redacts_paths_in_public_mode(public):
    write_ladder(public.runs_dir / "ladder" / "x", ladder_card(model=f"hf:{public.runs_dir}/<b>m</b>"), draw=False)
    found = inventory(public)
    key = ladder_view.choices(public, found)[0][1]
    text, image, files, kl, calib = ladder_view.show(public, key, found)
    assert "hf:runs/&lt;b&gt;m&lt;/b&gt;" in text and str(public.runs_dir) not in text and "<b>" not in text
    assert "Hindi (hi" in text and image.width > 0 and not calib.visible
    assert [r[0] for r in files.value["data"]] == ["f16", "q8_0", "q4_k_m", "q2_k@langs"]
    assert ladder_view.show(public, "../../etc", found)[1] is None  # only a scanned ladder's key shows anything



def test_the_arena_target_takes_any_language_langcodes_resolves():
    from core.errors import UnknownLanguageError
    from playground.arena import target_code

    assert [target_code(t) for t in ("is (Icelandic)", "Basque", "eus_Latn", "ht (Haitian Creole)", "quy", "")] == \
        ["is", "eu", "eu", "ht", "qu", ""]
    with pytest.raises(UnknownLanguageError, match="Unknown language 'Elvish'"):
        target_code("Elvish")

"""The trainer on a tiny random Llama: exact assistant-only label masks, a loss that falls, per-language eval
loss, resume after SIGKILL with the same loss curve, per-language adapters, and a merge that verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from core.chat import NAMED_FORMATS
from core.config import load_config
from core.errors import ConfigError
from tests.conftest import ROOT
from tests.tiny_model import build_tiny_model
from trainer.config import TrainConfig
from trainer.encode import IGNORE, encode

CHATML = NAMED_FORMATS["chatml"].template
CONVERSATION = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello world"},
                {"role": "assistant", "content": "Der Hund läuft schnell."},
                {"role": "user", "content": "how are you today?"},
                {"role": "assistant", "content": "Le chien court vite."}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", initializer_range=0.3)


@pytest.fixture(scope="module")
def tokenizer(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny)


@pytest.mark.parametrize("fmt,end", [("chatml", "<|im_end|>"), ("gemma", "<end_of_turn>"), ("alpaca", "</s>")])
def test_labels_cover_exactly_the_assistant_turns(tokenizer, fmt, end):
    enc = encode(tokenizer, NAMED_FORMATS[fmt], CONVERSATION, max_length=512)
    assert len(enc.input_ids) == len(enc.labels)
    # The labelled tokens, in order, are the two answers each with its end-of-turn marker, nothing else.
    runs, current = [], []
    for tok, label in zip(enc.input_ids, enc.labels):
        if label != IGNORE:
            assert label == tok
            current.append(tok)
        elif current:
            runs.append(tokenizer.decode(current))
            current = []
    if current:
        runs.append(tokenizer.decode(current))
    assert [r.strip() for r in runs] == [f"Der Hund läuft schnell.{end}", f"Le chien court vite.{end}"]
    # Truncation keeps ids and labels aligned.
    short = encode(tokenizer, NAMED_FORMATS[fmt], CONVERSATION, max_length=20)
    assert short.input_ids == enc.input_ids[:20] and short.labels == enc.labels[:20]
    assert (enc.cut, short.cut) == (0, len(enc.input_ids) - 20)  # the trainer reports what was cut


def _mix(path: Path, n: int = 48) -> Path:
    """A small en/de mix with learnable answers."""
    rows = []
    pairs = [("Say hello.", "Hello world, how are you today?"),
             ("Sag hallo.", "Der Hund läuft schnell über die Wiese.")]
    for i in range(n):
        lang = "en" if i % 2 == 0 else "de"
        q, a = pairs[i % 2]
        rows.append({"id": str(i // 2), "lang": lang, "source": "t", "meta": {},
                     "messages": [{"role": "user", "content": f"{q} ({i})"}, {"role": "assistant", "content": a}]})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _config(tiny: Path, tmp: Path, **extra) -> dict:
    return {"base": f"hf:{tiny}", "data": str(_mix(tmp / "mix.jsonl")), "out": str(tmp / "run"),
            "chat_template": "chatml", "max_length": 64, "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
            "learning_rate": 3e-2, "max_steps": 30, "batch_size": 4, "eval_fraction": 0.2, "eval_every": 10,
            "log_every": 5, "save_every": 10, "warmup_ratio": 0.0, **extra}


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_loss_falls_and_eval_loss_per_language(tiny, tmp_path):
    from trainer.train import train

    cfg = load_config(TrainConfig, _config(tiny, tmp_path))
    final = train(cfg, progress=False, log=lambda m: None)
    log = _log(tmp_path / "run")
    assert [e["step"] for e in log] == [5, 10, 15, 20, 25, 30]
    assert log[-1]["loss"] < 0.5 * log[0]["loss"]
    evals = [e["eval_loss"] for e in log if "eval_loss" in e]
    assert len(evals) == 3 and set(evals[0]) == {"en", "de"}
    assert all(evals[-1][lang] < evals[0][lang] for lang in ("en", "de"))
    assert final["eval_loss"] == evals[-1]
    adapter = tmp_path / "run" / "adapter"
    card = json.loads((adapter / "polyglot_card.json").read_text())
    assert card["languages"] == ["de", "en"] and card["chat_format"] == "chatml"
    # The template travels with the adapter (transformers 5 writes it to chat_template.jinja).
    from transformers import AutoTokenizer
    assert "<|im_start|>" in AutoTokenizer.from_pretrained(adapter).chat_template
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-10", "step-20"]


def test_resume_after_sigkill_continues_the_same_curve(tiny, tmp_path):
    straight = tmp_path / "straight"
    straight.mkdir()
    from trainer.train import train

    train(load_config(TrainConfig, _config(tiny, straight)), progress=False, log=lambda m: None)
    expected = {e["step"]: e for e in _log(straight / "run")}
    with pytest.raises(ConfigError, match="pass --resume to continue it"):  # never mix two runs in one dir
        train(load_config(TrainConfig, _config(tiny, straight)), progress=False, log=lambda m: None)

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    cfg_path = crashed / "train.yaml"
    cfg_path.write_text(yaml.safe_dump(_config(tiny, crashed)))
    cmd = [sys.executable, "-m", "trainer", "train", str(cfg_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not (crashed / "run" / "checkpoints" / "step-10").exists() and time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    proc.kill()  # SIGKILL somewhere after the step-10 checkpoint
    proc.wait()
    assert not (crashed / "run" / "adapter").exists()
    resumed = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stderr
    got = {e["step"]: e for e in _log(crashed / "run")}
    assert sorted(got) == sorted(expected)  # no step lost or logged twice
    for step in expected:
        assert got[step]["loss"] == pytest.approx(expected[step]["loss"], abs=1e-4), step
        if "eval_loss" in expected[step]:
            assert got[step]["eval_loss"] == pytest.approx(expected[step]["eval_loss"], abs=1e-4)
    final = {d: json.loads((d / "run/adapter/polyglot_card.json").read_text())["final"] for d in (straight, crashed)}
    assert final[crashed]["train_tokens"] == final[straight]["train_tokens"] > 0  # the killed process's tokens count


def test_per_language_adapters_and_merge(tiny, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from trainer.merge import merge
    from trainer.train import train_all

    cfg = load_config(TrainConfig, _config(tiny, tmp_path, max_steps=6, save_every=100, eval_every=3,
                                           per_language=[["de"], ["en"]]))
    results = train_all(cfg, log=lambda m: None)
    assert set(results) == {"de", "en"}
    for lang in ("de", "en"):
        card = json.loads((tmp_path / "run" / lang / "adapter" / "polyglot_card.json").read_text())
        assert card["languages"] == [lang] and set(results[lang]["eval_loss"]) == {lang}

    report = merge(f"hf:{tiny}", tmp_path / "run" / "de" / "adapter", tmp_path / "merged", "fp32")
    assert report["max"] < 1e-4
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    base = AutoModelForCausalLM.from_pretrained(tiny)
    ids = torch.tensor([[1, 5, 6, 7]])
    assert (merged(ids).logits - base(ids).logits).abs().max() > 1e-3  # the adapter changed something
    assert json.loads((tmp_path / "merged" / "merge_card.json").read_text())["adapter_card"]["languages"] == ["de"]


def test_config_errors_name_the_fix(tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'lora.dropuot'. Did you mean 'dropout'\?.*Valid keys here: r,"):
        load_config(TrainConfig, {**_config(tiny, tmp_path), "lora": {"dropuot": 0.1}})
    with pytest.raises(ConfigError, match="Unknown language 'xx'"):
        load_config(TrainConfig, _config(tiny, tmp_path, per_language=[["xx"]]))
    with pytest.raises(ConfigError, match="max_length >= 16"):
        load_config(TrainConfig, _config(tiny, tmp_path, max_length=4))


def test_shipped_train_configs_load():
    configs = sorted((ROOT / "configs" / "train").glob("*.yaml"))
    assert {p.stem for p in configs} >= {"smollm2-135m", "gemma3-270m"}
    for path in configs:
        cfg = load_config(TrainConfig, path)
        assert cfg.base and cfg.max_steps > 0


def test_dora_and_packing_train(tiny, tmp_path):
    from trainer.train import train

    final = train(load_config(TrainConfig, _config(tiny, tmp_path, max_steps=4, packing=True, save_every=100,
                                                   lora={"r": 4, "alpha": 8, "dora": True})),
                  progress=False, log=lambda m: None)
    assert final["step"] == 4 and final["train_tokens"] > 0
    cfg = json.loads((tmp_path / "run" / "adapter" / "adapter_config.json").read_text())
    assert cfg["use_dora"] is True


def test_cli_errors_are_one_message(tiny, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "trainer", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)

    bad = cli("merge", "--base", f"hf:{tiny}", "--adapter", str(tmp_path), "--out", str(tmp_path / "m"))
    assert bad.returncode == 2 and "holds no adapter_config.json" in bad.stderr and "Traceback" not in bad.stderr
    cfg = tmp_path / "t.yaml"
    cfg.write_text(yaml.safe_dump(_config(tiny, tmp_path)))
    missing = cli("train", str(cfg), f"data={tmp_path / 'nope.jsonl'}")
    assert missing.returncode == 2 and "python -m trainer data" in missing.stderr
    typo = cli("train", str(cfg), "max_step=3")
    assert typo.returncode == 2 and "Did you mean 'max_steps'?" in typo.stderr
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        board = cli("train", str(cfg), "tensorboard=true")
        assert board.returncode == 2 and "pip install tensorboard" in board.stderr


@pytest.mark.parametrize("fmt,end", [("chatml", "<|im_end|>"), ("gemma", "<end_of_turn>"), ("alpaca", "</s>")])
def test_short_answers_are_not_found_inside_the_template(tokenizer, fmt, end):
    # "a", "es", "de" also occur inside "<|im_start|>", "### Response:" and "model": the label must be the answer.
    for answer in ("a", "es", "de", "m"):
        msgs = [{"role": "user", "content": "Hello world"}, {"role": "assistant", "content": answer}]
        enc = encode(tokenizer, NAMED_FORMATS[fmt], msgs, max_length=512)
        trained = tokenizer.decode([t for t in enc.labels if t != IGNORE]).strip()
        assert trained == f"{answer}{end}", (fmt, answer, trained)


def test_batches_cover_each_epoch_and_split_across_processes():
    from trainer.batches import Example, micro_batch
    from trainer.encode import Encoded

    examples = [Example("en", Encoded(list(range(1 + i % 7)), [0] * (1 + i % 7))) for i in range(50)]
    for group in (False, True):
        # One epoch = 50 // 8 = 6 global batches of 8 distinct examples; two processes split each one.
        seen = []
        for m in range(6):
            a = micro_batch(examples, m, 4, seed=1, world=2, rank=0, group_by_length=group)
            b = micro_batch(examples, m, 4, seed=1, world=2, rank=1, group_by_length=group)
            assert not {id(x) for x in a} & {id(x) for x in b}
            seen += a + b
        assert len({id(x) for x in seen}) == 48
        assert micro_batch(examples, 6, 4, seed=1, world=2, rank=0, group_by_length=group) != \
            micro_batch(examples, 0, 4, seed=1, world=2, rank=0, group_by_length=group)  # epoch 2: new order
    grouped = [micro_batch(examples, m, 8, seed=1, group_by_length=True) for m in range(6)]
    spread = sum(max(len(x.enc.input_ids) for x in g) - min(len(x.enc.input_ids) for x in g) for g in grouped)
    plain = [micro_batch(examples, m, 8, seed=1) for m in range(6)]
    assert spread < sum(max(len(x.enc.input_ids) for x in g) - min(len(x.enc.input_ids) for x in g) for g in plain)

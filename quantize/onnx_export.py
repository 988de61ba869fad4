"""ONNX export through optimum-onnx, run in an environment of its own, then verified in onnxruntime here.

optimum-onnx pins transformers < 4.58; installing it would downgrade the main environment (transformers 5).
So the export runs in a venv this module builds once from `onnx-requirements.txt`, on a staged copy of the
model whose config.json is rewritten in the transformers 4 vocabulary: transformers 5 writes `rope_parameters`,
which 4.x ignores, silently falling back to rope_theta = 10000 (the export then passes optimum's own check
and writes other text). The result is compared with the transformers model (greedy, top-1, KL, per language).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from core.errors import ModelFileError
from core.run_dir import CARD, atomic_dir
from quantize.verify import _hf, compare

REQUIREMENTS = Path(__file__).with_name("onnx-requirements.txt")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "tokenizer.model", "generation_config.json")


def env_dir() -> Path:
    """Where the export environment lives: $POLYGLOT_ONNX_ENV, else onnx-env under the Polyglot cache."""
    from core.models import polyglot_home

    return Path(os.environ.get("POLYGLOT_ONNX_ENV") or polyglot_home() / "onnx-env")


def ensure_env(log=print) -> Path:
    """The export environment's python, built (or rebuilt when the requirements changed) on first use."""
    env = env_dir()
    python = env / "bin" / "python"
    marker = env / ".polyglot-requirements"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.is_file() and marker.is_file() and marker.read_text() == digest:
        return python
    # The marker is written last: an environment cut short by a crash is rebuilt, never half-used.
    shutil.rmtree(env, ignore_errors=True)
    log(f"building the ONNX export environment in {env} (once; optimum-onnx needs transformers < 5) ...")
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
                          capture_output=True, text=True)
    if done.returncode:
        raise ModelFileError(f"pip could not build the ONNX export environment in {env}:\n{done.stderr[-2000:]}\n"
                             f"Check the network or the package index, then run the export again.")
    marker.write_text(digest)
    return python


def transformers4_config(cfg: dict) -> dict:
    """A transformers 5 config.json rewritten in the keys transformers 4.x reads (RoPE, dtype)."""
    cfg = dict(cfg)
    rope = cfg.pop("rope_parameters", None) or {}
    if "full_attention" in rope:  # Gemma 3: one RoPE per attention type
        cfg["rope_local_base_freq"] = rope.get("sliding_attention", {}).get("rope_theta", 10000.0)
        rope = rope["full_attention"]
    if rope:
        cfg["rope_theta"] = rope.get("rope_theta", cfg.get("rope_theta", 10000.0))
        if rope.get("rope_type", "default") != "default":
            cfg["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
    if "dtype" in cfg:
        cfg.setdefault("torch_dtype", cfg["dtype"])
    return cfg


def _stage(model_dir: Path, staging: Path) -> None:
    """A view of `model_dir` (weights linked, not copied) with a transformers 4 config.json."""
    staging.mkdir(parents=True)
    for f in model_dir.iterdir():
        if f.is_file() and f.name != "config.json":
            (staging / f.name).symlink_to(f.resolve())
    cfg = json.loads((model_dir / "config.json").read_text())
    (staging / "config.json").write_text(json.dumps(transformers4_config(cfg), indent=2))


class OnnxRunner:
    """A decoder exported with past key values, in onnxruntime: greedy ids and logits for verification."""

    def __init__(self, path: Path, eos_id: int | None):
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.past = [n for n in self.inputs if n.startswith("past_key_values.")]
        self.eos_id = eos_id

    def _empty_past(self) -> dict:
        feeds = {}
        for name in self.past:
            i = self.inputs[name]
            shape = [d if isinstance(d, int) else 1 if "batch" in d else 0 for d in i.shape]
            feeds[name] = np.zeros(shape, dtype=np.float16 if "float16" in i.type else np.float32)
        return feeds

    def _step(self, ids: list[int], past: dict, start: int) -> tuple[np.ndarray, dict]:
        end = start + len(ids)
        feeds = {"input_ids": np.array([ids], dtype=np.int64), **past}
        if "attention_mask" in self.inputs:
            feeds["attention_mask"] = np.ones((1, end), dtype=np.int64)
        if "position_ids" in self.inputs:
            feeds["position_ids"] = np.arange(start, end, dtype=np.int64)[None]
        out = dict(zip(self.outputs, self.session.run(None, feeds)))
        return out["logits"][0], {n: out[n.replace("past_key_values.", "present.")] for n in self.past}

    def logits(self, ids: list[int]) -> np.ndarray:
        return self._step(ids, self._empty_past(), 0)[0].astype(np.float64)

    def greedy(self, ids: list[int], n: int) -> list[int]:
        out, past, feed, start = [], self._empty_past(), list(ids), 0
        while len(out) < n:
            logits, past = self._step(feed, past, start)
            start += len(feed)
            token = int(logits[-1].argmax())
            if token == self.eos_id:
                break
            out.append(token)
            feed = [token]
        return out

    def close(self) -> None:
        self.session = None


def export_onnx(model_dir: Path, out: Path, check: bool = True, log=print) -> dict:
    """Export `model_dir` to ONNX (text generation with past) at `out`, verified; returns the card."""
    if not (model_dir / "config.json").is_file():
        raise ModelFileError(f"{model_dir} has no config.json, so it is not a transformers model directory.")
    python = ensure_env(log)
    with atomic_dir(out) as tmp:
        staging = tmp / "staged-model"
        _stage(model_dir, staging)
        log("exporting with optimum-onnx ...")
        started = time.perf_counter()
        cmd = [str(python.parent / "optimum-cli"), "export", "onnx", "-m", str(staging), "--task",
               "text-generation-with-past", "--dtype", "fp32", str(tmp)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        seconds = round(time.perf_counter() - started, 1)
        shutil.rmtree(staging)
        (tmp / "export.log").write_text(done.stdout + done.stderr)
        if done.returncode or not (tmp / "model.onnx").is_file():
            failed_log = out.with_name(out.name + ".export.log")  # beside `out`: the temp dir goes with the failure
            failed_log.write_text(done.stdout + done.stderr)
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise ModelFileError("optimum-onnx could not export " + str(model_dir) + ":\n" + "\n".join(tail) +
                                 f"\n(full log: {failed_log})")
        for name in TOKENIZER_FILES:  # the tokenizer exactly as the model directory has it
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, tmp / name)
        card = {"model": str(model_dir), "format": "onnx", "task": "text-generation-with-past", "seconds": seconds,
                "bytes": sum(f.stat().st_size for f in tmp.glob("model.onnx*")),
                "exporter": _versions(python)}
        if check:
            log("verifying in onnxruntime ...")
            tok, model = _hf(model_dir)
            runner = OnnxRunner(tmp / "model.onnx", tok.eos_token_id)
            card["verify"] = compare((tok, model), runner)
            runner.close()
        (tmp / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False))
    return card


def _versions(python: Path) -> dict:
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "('optimum-onnx', 'optimum', 'transformers', 'torch', 'onnx')}))")
    return json.loads(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout)

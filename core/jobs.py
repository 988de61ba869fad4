"""The `python -m core` commands' configs: each is the flags of its subcommand. See core.job_config."""

from __future__ import annotations

from core.job_config import arg, config_dataclass


@config_dataclass
class GenerateJob:
    """continue raw text"""

    model: str = arg(help="model spec, e.g. gemma3-270m or hf:dir", positional=True)
    prompt: str = arg(help="the text", positional=True)
    max_tokens: int = arg(128)
    temperature: float = arg(0.0)
    top_p: float = arg(1.0)
    stop: list[str] | None = arg(None, help="stop at this text (repeat the flag for several)", repeat=True)
    seed: int = arg(0, help="the sampling seed: with --temperature above 0, the same seed gives the same text")


@config_dataclass
class ChatJob(GenerateJob):
    """answer one user message"""


@config_dataclass
class DetectJob:
    """detect the language of each text"""

    texts: list[str] = arg(positional=True)


@config_dataclass
class LanguageJob:
    """look up a language by code or name"""

    query: str = arg(positional=True)


@config_dataclass
class InfoJob:
    """load a model and print what was loaded"""

    model: str = arg(help="model spec", positional=True)


@config_dataclass
class BuildLlamaJob:
    """build llama-server and llama.cpp's tools from the vendored source (cached)"""

"""`python -m core`: talk to a model, detect languages, look up the language table.

    python -m core generate gemma3-270m "Der Hund läuft" --max-tokens 40
    python -m core chat smollm2-135m "What is the capital of France?"
    python -m core detect "Der Hund läuft" "我们今天"
    python -m core language de
    python -m core info hf:gemma3-270m
    python -m core build-llama          # llama-server and llama.cpp's tools, once per machine (~10 min)
"""

from __future__ import annotations

import json
import sys

from core.cli import Commands, run_cli
from core.jobs import BuildLlamaJob, ChatJob, DetectJob, GenerateJob, InfoJob, LanguageJob


def generate(job: GenerateJob) -> None:
    from core.engines import load

    prompt = [{"role": "user", "content": job.prompt}] if isinstance(job, ChatJob) else job.prompt
    engine = load(job.model)
    for text in engine.generate(prompt, max_tokens=job.max_tokens, temperature=job.temperature, top_p=job.top_p,
                                stop=job.stop, seed=job.seed):
        print(text, end="", flush=True)
    print()


def detect(job: DetectJob) -> None:
    from core.languages import detect_batch

    for text, (code, conf) in zip(job.texts, detect_batch(job.texts)):
        print(f"{code}\t{conf:.3f}\t{text[:60]}")


def language(job: LanguageJob) -> None:
    from dataclasses import asdict

    from core.languages import get_language

    print(json.dumps(asdict(get_language(job.query)), ensure_ascii=False, indent=2))


def info(job: InfoJob) -> None:
    from core.engines import load

    print(json.dumps(load(job.model).info(), indent=2))


def build_llama(job: BuildLlamaJob) -> None:
    from core.llama_tools import build_card, tools_dir

    where = tools_dir()
    card = build_card()
    took = f", built in {card['seconds']:.0f} s on {card['jobs']} cores" if card else ""
    print(f"llama.cpp tools in {where}{took}")


COMMANDS: Commands = {"generate": (GenerateJob, generate), "chat": (ChatJob, generate), "detect": (DetectJob, detect),
                      "language": (LanguageJob, language), "info": (InfoJob, info),
                      "build-llama": (BuildLlamaJob, build_llama)}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    return run_cli("python -m core", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())

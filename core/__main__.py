"""`python -m core`: talk to a model, detect languages, look up the language table.

    python -m core generate gemma3-270m "Der Hund läuft" --max-tokens 40
    python -m core chat smollm2-135m "What is the capital of France?"
    python -m core detect "Der Hund läuft" "我们今天"
    python -m core language de
    python -m core info hf:gemma3-270m
    python -m core build-llama          # llama-server and llama.cpp's tools, once per machine (~10 min)
"""

from __future__ import annotations

import argparse
import json
import sys

from core.cli import run_command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("generate", "continue raw text"), ("chat", "answer one user message")):
        g = sub.add_parser(name, help=help_)
        g.add_argument("model", help="model spec, e.g. gemma3-270m or hf:dir")
        g.add_argument("prompt")
        g.add_argument("--max-tokens", type=int, default=128)
        g.add_argument("--temperature", type=float, default=0.0)
        g.add_argument("--top-p", type=float, default=1.0)
        g.add_argument("--stop", action="append", default=None)
        g.add_argument("--seed", type=int, default=None)
    d = sub.add_parser("detect", help="detect the language of each text")
    d.add_argument("texts", nargs="+")
    lang = sub.add_parser("language", help="look up a language by code or name")
    lang.add_argument("query")
    i = sub.add_parser("info", help="load a model and print what was loaded")
    i.add_argument("model")
    sub.add_parser("build-llama", help="build llama-server and llama.cpp's tools from the vendored source (cached)")
    return p


def _run(args: argparse.Namespace) -> None:
    if args.command in ("generate", "chat"):
        from core.engines import load

        prompt = args.prompt if args.command == "generate" else [{"role": "user", "content": args.prompt}]
        engine = load(args.model)
        for text in engine.generate(prompt, max_tokens=args.max_tokens, temperature=args.temperature,
                                    top_p=args.top_p, stop=args.stop, seed=args.seed):
            print(text, end="", flush=True)
        print()
    elif args.command == "detect":
        from core.languages import detect_batch

        for text, (code, conf) in zip(args.texts, detect_batch(args.texts)):
            print(f"{code}\t{conf:.3f}\t{text[:60]}")
    elif args.command == "language":
        from dataclasses import asdict

        from core.languages import get_language

        print(json.dumps(asdict(get_language(args.query)), ensure_ascii=False, indent=2))
    elif args.command == "build-llama":
        from core.llama_tools import build_card, tools_dir

        where = tools_dir()
        card = build_card()
        took = f", built in {card['seconds']:.0f} s on {card['jobs']} cores" if card else ""
        print(f"llama.cpp tools in {where}{took}")
    else:
        from core.engines import load

        print(json.dumps(load(args.model).info(), indent=2))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run one command; user errors print one clear message and exit 2."""
    args = _parser().parse_args(argv)
    return run_command(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())

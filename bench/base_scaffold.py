"""A base model through its chat template vs as a few-shot completion (`core.fewshot_scaffold`), on the Arena's 16
example prompts, greedy: language agreement with the prompt and how often the answer echoes or loops.

    python bench/base_scaffold.py [--model gemma3-270m] [--max-tokens 64] [--compare smollm2-135m]

Echo: the answer starts with the prompt's first 20 characters. Loop: some 3-gram repeats 3 or more times (word
3-grams; character 3-grams for text written without spaces). Copy: the answer is mostly one of the scaffold's own
example answers (difflib ratio >= 0.6), which a lost base model falls back to. `--compare` adds an instruct
model through chat, the other half of the Arena's default pair. Runs in process (llama.cpp), one prompt at a time.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engines import load  # noqa: E402
from core.fewshot_scaffold import EXAMPLES, STOP, scaffold  # noqa: E402
from core.languages import detect  # noqa: E402
from eval.prompt_sets import get_set  # noqa: E402
from playground.arena import example_prompts  # noqa: E402


def echoes(prompt: str, answer: str) -> bool:
    """The answer starts by repeating the prompt."""
    return answer.strip().startswith(prompt.strip()[:20])


def loops(answer: str) -> bool:
    """Some 3-gram repeats at least 3 times: words, or characters for text without spaces (zh, ja)."""
    words = answer.split()
    units = words if len(words) >= len(answer) / 12 else [c for c in answer if not c.isspace()]
    grams = Counter(zip(units, units[1:], units[2:]))
    return bool(grams) and max(grams.values()) >= 3


def copies(answer: str, lang: str) -> bool:
    """The answer is mostly one of the scaffold's example answers for `lang`."""
    return any(difflib.SequenceMatcher(None, answer.strip(), a).ratio() >= 0.6 for _, a in EXAMPLES.get(lang, ()))


def run(engine, prompts: list[str], mode: str, max_tokens: int) -> list[str]:
    """Each prompt's greedy answer, as a few-shot completion (`scaffold`) or a chat turn (`chat`)."""
    answers = []
    for text in prompts:
        messages = [{"role": "user", "content": text}]
        if mode == "scaffold":
            answer = "".join(engine.generate(scaffold(messages), max_tokens=max_tokens, temperature=0, stop=STOP))
        else:
            answer = "".join(engine.generate(messages, max_tokens=max_tokens, temperature=0))
        answers.append(answer)
    return answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--compare", default="smollm2-135m", help="an instruct model run through chat ('' for none)")
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()

    langs = get_set("examples").langs
    prompts = [p[0] for p in example_prompts()]
    runs = [(args.model, "scaffold"), (args.model, "chat")] + ([(args.compare, "chat")] if args.compare else [])
    results: dict[tuple[str, str], list[str]] = {}
    for model in dict.fromkeys(m for m, _ in runs):
        engine = load(model)
        try:
            for m, mode in runs:
                if m == model:
                    results[m, mode] = run(engine, prompts, mode, args.max_tokens)
        finally:
            engine.close()

    print(f"{'lang':<5}" + "".join(f" | {m} {mode:<8} lang echo loop copy" for m, mode in runs))
    totals = {key: Counter() for key in runs}
    for k, lang in enumerate(langs):
        row = f"{lang:<5}"
        for key in runs:
            answer = results[key][k]
            got = detect(answer)[0]
            marks = {"agree": got == lang, "echo": echoes(prompts[k], answer), "loop": loops(answer),
                     "copy": copies(answer, lang)}
            totals[key].update({name: int(v) for name, v in marks.items()})
            row += f" | {' ' * (len(key[0]) + 9)}{got:>4} {'E' if marks['echo'] else '.':>4} " \
                   f"{'L' if marks['loop'] else '.':>4} {'C' if marks['copy'] else '.':>4}"
        print(row)
    n = len(langs)
    print()
    for key in runs:
        t = totals[key]
        print(f"{key[0]} {key[1]:<8}: language agreement {t['agree']}/{n}, echo {t['echo']}/{n}, "
              f"loop {t['loop']}/{n}, copy {t['copy']}/{n}")
    scaffolded, chat = totals[args.model, "scaffold"], totals[args.model, "chat"]
    print(f"ratio scaffold/chat language agreement for {args.model}: "
          f"{scaffolded['agree']}/{chat['agree']} = {scaffolded['agree'] / max(chat['agree'], 1):.2f}")
    for key in runs:
        print(f"\n--- {key[0]} {key[1]}")
        for lang, answer in zip(langs, results[key]):
            print(f"{lang}: {answer[:110]!r}")


if __name__ == "__main__":
    main()

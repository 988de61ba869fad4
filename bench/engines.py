"""Speed of the gguf backend against the hf backend on the same model and prompts, as a ratio.

    python bench/engines.py [--models smollm2-135m gemma3-270m] [--max-tokens 64]

Prints load time (hf: warm, from the converted cache; lower is better), generation tokens/s and
scoring requests/s (higher is better) for each backend, then gguf/hf. Baseline: the hf backend,
measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engines import load  # noqa: E402

PROMPTS = ["The history of the printing press begins", "Der Hund läuft schnell über die Wiese und",
           "我们今天早上去了公园，然后", "La recette traditionnelle de la ratatouille"]
SCORING = [(p, " and then it rained all day long.") for p in PROMPTS] * 5


def measure(spec: str, max_tokens: int) -> dict[str, float]:
    """Load time, greedy generation tokens/s and loglikelihood requests/s for one engine."""
    start = time.perf_counter()
    engine = load(spec)
    loaded = time.perf_counter() - start
    "".join(engine.generate(PROMPTS[0], max_tokens=8, temperature=0))  # warm-up
    tokens, start = 0, time.perf_counter()
    for prompt in PROMPTS:
        text = "".join(engine.generate(prompt, max_tokens=max_tokens, temperature=0))
        tokens += engine.count_tokens(text)
    gen = time.perf_counter() - start
    start = time.perf_counter()
    engine.loglikelihood(SCORING)
    score = time.perf_counter() - start
    engine.close()
    return {"load_s": loaded, "gen_tok_s": tokens / gen, "score_req_s": len(SCORING) / score}


def main() -> None:
    """Run the comparison and print one table per model."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    load(f"hf:{args.models[0]}").close()  # make sure the GGUF->HF conversion is cached before timing loads
    for model in args.models:
        load(f"hf:{model}").close()
        gguf, hf = measure(model, args.max_tokens), measure(f"hf:{model}", args.max_tokens)
        print(f"\n{model}  ({len(PROMPTS)} prompts x {args.max_tokens} tokens, greedy; "
              f"{len(SCORING)} scoring requests)")
        print(f"{'metric':<14}{'gguf':>10}{'hf (baseline)':>15}{'gguf/hf':>10}")
        for key in ("load_s", "gen_tok_s", "score_req_s"):
            print(f"{key:<14}{gguf[key]:>10.2f}{hf[key]:>15.2f}{gguf[key] / hf[key]:>9.2f}x")


if __name__ == "__main__":
    main()

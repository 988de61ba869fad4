"""The pipeline's model work, each step resumable: train a LoRA adapter on rows (the trainer's checkpoints), and
generate or rate item by item (results appended as they come; a rerun skips the ids already written)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from core.chat import render
from core.engines import Engine, load
from core.engines.base import complete
from core.engines.spec import ModelSpec
from core.records import append_jsonl, read_jsonl, write_jsonl
from trainer.data.schema import Row
from trainer.xinstruct.ratings import LABELS, rate_messages
from trainer.xinstruct.recipe import XInstructRecipe


def train_adapter(recipe: XInstructRecipe, model: str, rows: list[Row], out: Path, log=print) -> Path:
    """Train `model`'s LoRA adapter on `rows` into out/train/adapter (done if it exists; else resumes from the
    latest checkpoint). The mix is written once, so a resumed run sees the same data."""
    from trainer.train import train

    adapter = out / "train" / "adapter"
    if (adapter / "polyglot_card.json").is_file():
        return adapter
    out.mkdir(parents=True, exist_ok=True)
    mix = out / "mix.jsonl"
    if not mix.is_file():
        write_jsonl(mix, [asdict(r) for r in rows])
    cfg = recipe.train_config(model, mix, out / "train")
    log(f"training the {model} adapter: {len(rows)} rows, {cfg.max_steps} steps")
    train(cfg, resume=True, log=log)
    return adapter


def engine_with(recipe: XInstructRecipe, adapter: Path) -> Engine:
    """The base model with one adapter, through transformers."""
    return load(ModelSpec("hf", recipe.base, adapters=(("x", str(adapter)),)))


def generate_each(engine: Engine, items: list[dict], messages: Callable[[dict], list[dict]], path: Path,
                  max_tokens: int, desc: str) -> list[dict]:
    """Greedy answers to `messages(item)` for every item not yet in `path`; returns all records {id, output}."""
    done = {r["id"] for r in read_jsonl(path)}
    for item in tqdm([i for i in items if i["id"] not in done], desc=desc, unit="item"):
        text = complete(engine, messages(item), max_tokens=max_tokens, temperature=0.0)
        append_jsonl(path, [{"id": item["id"], "output": text.strip()}])
    return read_jsonl(path)


def rate_each(engine: Engine, items: list[dict], path: Path, desc: str, batch: int = 8) -> list[dict]:
    """The evaluator's rating of each {id, instruction, response} not yet in `path`: the label with the highest
    log-likelihood after the prompt, and the three labels' probabilities. Returns all records."""
    done = {r["id"] for r in read_jsonl(path)}
    todo = [i for i in items if i["id"] not in done]
    bar = tqdm(total=len(todo), desc=desc, unit="item")
    for b in range(0, len(todo), batch):
        chunk = todo[b:b + batch]
        requests = [(render(engine.format, rate_messages(i["instruction"], i["response"])), label)
                    for i in chunk for label in LABELS]
        scores = [r.logprob for r in engine.loglikelihood(requests)]
        records = []
        for k, item in enumerate(chunk):
            lp = scores[3 * k:3 * k + 3]
            top = max(lp)
            z = sum(math.exp(x - top) for x in lp)
            records.append({"id": item["id"], "rating": max(range(3), key=lp.__getitem__),
                            "p": [round(math.exp(x - top) / z, 4) for x in lp]})
        append_jsonl(path, records)
        bar.update(len(chunk))
    bar.close()
    return read_jsonl(path)

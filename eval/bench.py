"""`python -m eval bench`: score a model on log-likelihood benchmarks per language, resumably, and write the
run's card with accuracy and its 95% interval per task and language."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.errors import ConfigError, ScoringUnsupported
from core.languages import wilson
from eval.data import load_items
from eval.results import append_items, check_same_run, read_items, write_card
from eval.tasks import get_task, task_langs


def plan(tasks: list[str], langs: list[str] | None) -> list[tuple[str, str]]:
    """(task, lang) pairs to run; `langs` None means each task's own languages, else those each task has."""
    from core.languages import get_language

    wanted = {get_language(lang).code for lang in langs} if langs and len(tasks) > 1 else None
    pairs = []
    for name in tasks:
        task = get_task(name)
        if wanted:  # several tasks: run the asked languages each task has
            pairs += [(name, lang) for lang in task.langs if lang in wanted]
        else:
            pairs += [(name, lang) for lang in task_langs(task, langs)]
    if not pairs:
        raise ConfigError(f"None of the tasks {tasks} has any of the languages {langs}.")
    return pairs


def score_items(engine, items, task: str, lang: str, out: Path, batch_items: int, bar) -> None:
    """Score `items` in batches of `batch_items`, appending one record per item after each batch."""
    for b in range(0, len(items), batch_items):
        batch = items[b:b + batch_items]
        requests = [r for item in batch for r in item.requests]
        results = iter(engine.loglikelihood(requests))
        records = []
        for item in batch:
            lls = [next(results).logprob for _ in item.requests]
            pred = int(np.argmax(lls))
            records.append({"task": task, "lang": lang, "id": item.id, "lls": lls, "gold": item.gold,
                            "pred": pred, "acc": float(pred == item.gold)})
        append_items(out, records)
        bar.update(len(batch))


def generate_items(engine, items, task, lang: str, out: Path, prompt_style: str, bar) -> None:
    """Greedy answers (until the task's stop strings), scored by the task and appended one by one."""
    from core.engines import complete

    for item in items:
        output = complete(engine, item.prompt[prompt_style], max_tokens=task.max_tokens, temperature=0.0,
                          stop=task.stop(lang))
        append_items(out, [{"task": task.name, "lang": lang, "id": item.id, "output": output,
                            **task.score(output, item, lang)}])
        bar.update(1)


def summarize(records: list[dict], pairs: list[tuple[str, str]], ids: dict) -> dict:
    """Per (task, lang): accuracy (or EM and F1) with a Wilson 95% interval on accuracy/EM, plus the task's
    corpus metrics (e.g. weighted F1); per task the mean of each metric over its languages."""
    results: dict = {}
    for task, lang in pairs:
        mine = [r for r in records if r["task"] == task and r["lang"] == lang and r["id"] in ids[task, lang]]
        key = "acc" if get_task(task).score is None else "em"
        rate = wilson(int(sum(r[key] for r in mine)), len(mine))
        row = {"n": rate.n, key: round(rate.rate, 4), "ci95": [round(rate.low, 4), round(rate.high, 4)]}
        if key == "em" and all("f1" in r for r in mine):
            row["f1"] = round(float(np.mean([r["f1"] for r in mine])), 4) if mine else float("nan")
        if get_task(task).corpus:
            row |= get_task(task).corpus(mine)
        results.setdefault(task, {})[lang] = row
    for per in results.values():
        scored = [v for v in per.values() if v["n"]]
        metrics = dict.fromkeys(k for v in scored for k in v if k not in ("n", "ci95"))
        per["_mean"] = {k: round(float(np.mean([v[k] for v in scored])), 4) for k in metrics} | {"langs": len(scored)}
    return results


def run_bench(model: str, tasks: list[str], out: Path, langs: list[str] | None = None, limit: int | None = None,
              data_dir: Path | None = None, batch_items: int = 64, prompt_style: str = "chat",
              batch_size: int = 16, log=print) -> dict:
    """Score `model` on `tasks` x languages; resumes the run in `out`; returns (and writes) its card.

    `batch_items` items go to the engine per call (it sorts their requests by length; their records are
    appended together); `batch_size` is the hf backend's requests per forward pass."""
    from core.engines import load, parse_spec
    from core.versions import versions

    pairs = plan(tasks, langs)
    identity = {"model": model, "limit": limit, "prompt_style": prompt_style}
    out.mkdir(parents=True, exist_ok=True)
    check_same_run(out, identity)
    loaded = {pair: load_items(get_task(pair[0]), pair[1], data_dir, limit) for pair in pairs}
    done = {(r["task"], r["lang"], r["id"]) for r in read_items(out)}
    card = {**identity, "tasks": tasks, "langs": langs, "data_dir": str(data_dir) if data_dir else None,
            "sources": {f"{t}/{lang}": src for (t, lang), (_, src) in loaded.items()},
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "status": "running",
            "versions": versions()}
    write_card(out, card)
    engine = load(model, **({"batch_size": batch_size} if parse_spec(model).backend == "hf" else {}))
    card["engine"] = engine.info()
    skipped: dict[str, str] = {}
    scored, started = 0, time.perf_counter()
    try:
        for task, lang in pairs:
            if task in skipped:
                continue
            items = loaded[task, lang][0]
            todo = [item for item in items if (task, lang, item.id) not in done]
            with tqdm(total=len(items), initial=len(items) - len(todo), desc=f"{task}/{lang}", unit="item") as bar:
                try:
                    if get_task(task).score is not None:
                        generate_items(engine, todo, get_task(task), lang, out, prompt_style, bar)
                    else:
                        score_items(engine, todo, task, lang, out, batch_items, bar)
                except ScoringUnsupported as exc:
                    skipped[task] = str(exc)  # this backend cannot score: say so, go on with the other tasks
                    log(f"skipping {task}: {exc}")
                    continue
            scored += len(todo)
    finally:
        engine.close()
    seconds = time.perf_counter() - started
    ids = {pair: {item.id for item in loaded[pair][0]} for pair in pairs}
    card |= {"results": summarize(read_items(out), pairs, ids), "skipped": skipped, "status": "done",
             "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
             "scored_this_run": scored, "items_per_s": round(scored / seconds, 2) if scored else None}
    write_card(out, card)
    return card

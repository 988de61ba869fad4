"""`python -m eval generate`: answers of a model to an open-ended prompt set per language, appended as they
are written (a stopped run resumes), and the run's input/output language agreement: the share of answers in
the prompt's language with a Wilson 95% interval, and which language it answered in instead."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from core.errors import ConfigError
from core.languages import detect, wilson
from eval.prompt_sets import get_set, load_prompts
from eval.results import append_items, check_same_run, read_items, write_card


def agreement_table(records: list[dict], langs: list[str]) -> dict:
    """Per expected language: n, the share of first-turn answers detected in it (95% interval), confusion."""
    out = {}
    for lang in langs:
        got = [r["detected"][0][0] for r in records if r["lang"] == lang]
        rate = wilson(sum(g == lang for g in got), len(got))
        out[lang] = {"n": rate.n, "agreement": round(rate.rate, 4), "ci95": [round(rate.low, 4), round(rate.high, 4)],
                     "answered_in": dict(Counter(got).most_common())}
    return out


def run_generate(model: str, prompt_set: str, out: Path, langs: list[str] | None = None, limit: int | None = None,
                 data_dir: Path | None = None, turns: int = 1, max_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0, concurrency: int = 1) -> dict:
    """Answer every prompt (up to `turns` turns each), `concurrency` at a time where the engine can, and write
    the answers, the agreement and the throughput (requests/s, tokens/s, latency p50/p95) to `out`."""
    from core.engines import load
    from core.versions import versions
    from eval.answering import answer_all

    if concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {concurrency}.")
    ps = get_set(prompt_set)
    langs = langs or list(ps.langs)
    prompts = {lang: load_prompts(ps, lang, data_dir, limit) for lang in langs}
    identity = {"model": model, "set": prompt_set, "limit": limit, "turns": turns, "max_tokens": max_tokens,
                "temperature": temperature, "seed": seed}
    out.mkdir(parents=True, exist_ok=True)
    check_same_run(out, identity)
    done = {(r["lang"], r["id"]) for r in read_items(out)}
    card = {**identity, "langs": langs, "data_dir": str(data_dir) if data_dir else None, "status": "running",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "versions": versions()}
    write_card(out, card)
    todo = [(lang, p) for lang in langs for p in prompts[lang] if (lang, p.id) not in done]
    total = sum(len(v) for v in prompts.values())
    engine = load(model)
    card["engine"] = engine.info()
    params = dict(max_tokens=max_tokens, temperature=temperature, seed=seed)

    def write(i: int, answered) -> None:
        lang, p = todo[i]
        append_items(out, [{"set": prompt_set, "lang": lang, "id": p.id, "category": p.category,
                            "turns": list(p.turns[:turns]), "answers": answered.answers,
                            "detected": [list(detect(a)) for a in answered.answers],
                            "seconds": [round(x, 3) for x in answered.seconds], "tokens": answered.tokens}])

    try:
        with tqdm(total=total, initial=total - len(todo), desc=f"{prompt_set}/{','.join(langs)}",
                  unit="prompt") as bar:
            stats = answer_all(engine, [p.turns[:turns] for _, p in todo], params, concurrency, write,
                               progress=lambda: bar.update(1))
    finally:
        engine.close()
    asked = {(lang, p.id) for lang in langs for p in prompts[lang]}
    records = [r for r in read_items(out) if (r["lang"], r["id"]) in asked]
    card |= {"agreement": agreement_table(records, langs), "status": "done", "answered_this_run": len(todo),
             "throughput": stats.summary(), "seconds": round(stats.seconds, 1),
             "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_card(out, card)
    return card


def format_throughput(card: dict) -> str:
    """One line: requests/s, tokens/s, latency p50/p95 at the run's concurrency."""
    t = card.get("throughput") or {}
    if not t.get("requests"):
        return "throughput: nothing answered in this run"
    tokens = f", {t['tokens_per_s']:.1f} tokens/s" if t.get("tokens_per_s") is not None else ""
    return (f"throughput ({t['mode']}, concurrency {t['concurrency']}): {t['requests']} requests in "
            f"{t['seconds']:.1f} s, {t['requests_per_s']:.2f} requests/s{tokens}, "
            f"latency p50 {t['latency_p50']:.2f} s / p95 {t['latency_p95']:.2f} s")


def format_agreement(card: dict) -> str:
    """The agreement card as a table: language, n, agreement [95% interval], what it answered in."""
    lines = [f"{'lang':5} {'n':>4} {'agreement':>9}  {'95% interval':15} answered in"]
    for lang, r in card["agreement"].items():
        langs = ", ".join(f"{k} {v}" for k, v in r["answered_in"].items())
        lines.append(f"{lang:5} {r['n']:4d} {r['agreement']:9.3f}  [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]  {langs}")
    return "\n".join(lines)

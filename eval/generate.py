"""`python -m eval generate`: answers of a model to an open-ended prompt set per language, appended as they
are written (a stopped run resumes), and the run's input/output language agreement: the share of answers whose
own text (the echoed prompt removed) is in the prompt's language, over all and over healthy answers, with Wilson
95% intervals; the answers' health flags (echo, loop, empty, truncated); the LCB line/word pass rates; and
which language it answered in instead."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from core.answer_health import check_answer
from core.confusion import words_or_none
from core.errors import ConfigError
from core.languages import detect_batch
from eval.answer_checks import check_records, language_summary
from eval.prompt_sets import get_set, load_prompts
from eval.results import append_items, check_same_run, read_items, settle_items, write_card


def agreement_table(records: list[dict], langs: list[str], max_tokens: int | None = None,
                    words: frozenset[str] | None = None) -> dict:
    """Per expected language (eval.answer_checks.language_summary): agreement of the first answers' own text
    over all and over healthy answers, health flag shares, LCB line/word pass rates."""
    checked = check_records(records, max_tokens, words)
    return {lang: language_summary(checked, lang) for lang in langs}


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
        health = [check_answer(q, a, n, max_tokens) for q, a, n in zip(p.turns, answered.answers, answered.tokens)]
        append_items(out, [{"set": prompt_set, "lang": lang, "id": p.id, "category": p.category,
                            "turns": list(p.turns[:turns]), "answers": answered.answers,
                            "detected": [list(d) for d in detect_batch([h.own_text for h in health])],
                            "health": [list(h.flags) for h in health],
                            "seconds": [round(x, 3) for x in answered.seconds], "tokens": answered.tokens}])

    try:
        with tqdm(total=total, initial=total - len(todo), desc=f"{prompt_set}/{','.join(langs)}",
                  unit="prompt") as bar:
            stats = answer_all(engine, [p.turns[:turns] for _, p in todo], params, concurrency, write,
                               progress=lambda: bar.update(1))
    finally:
        engine.close()
    asked = [(lang, p.id) for lang in langs for p in prompts[lang]]
    settle_items(out, asked, lambda r: (r["lang"], r["id"]))
    wanted = set(asked)
    records = [r for r in read_items(out) if (r["lang"], r["id"]) in wanted]
    agreement = agreement_table(records, langs, max_tokens, words_or_none(data_dir))
    card |= {"agreement": agreement, "status": "done", "answered_this_run": len(todo),
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
    """The agreement card as a table: language, n, agreement [95% interval] over all and over healthy answers,
    LCB line/word pass rates, health flags, what it answered in."""
    lines = [f"{'lang':5} {'n':>4} {'agreement':>9}  {'95% interval':15} {'healthy':>12}  {'LPR':>5} {'WPR':>5}  "
             f"{'flags':28} answered in"]
    for lang, r in card["agreement"].items():
        langs = ", ".join(f"{k} {v}" for k, v in r["answered_in"].items())
        lines.append(f"{lang:5} {r['n']:4d} {_agreement_cells(r)}  {_share(r.get('confusion', {}).get('lpr')):>5} "
                     f"{_share(r.get('confusion', {}).get('wpr')):>5}  {flag_text(r.get('flags', {})):28} {langs}")
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _agreement_cells(r: dict) -> str:
    if r["agreement"] is None:
        return f"{r.get('note', 'no answers'):>40}"
    h = r.get("healthy") or {}
    healthy = f"{h['agreement']:.3f} (n={h['n']})" if h.get("agreement") is not None else "- (n=0)"
    return f"{r['agreement']:9.3f}  [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]  {healthy:>12}"


def flag_text(flags: dict) -> str:
    """"echo 0.60, loop 0.40": the flags some answers carry, with their share; "healthy" if none."""
    return ", ".join(f"{f} {v:.2f}" for f, v in flags.items() if v) or "healthy"

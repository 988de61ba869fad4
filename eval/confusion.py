"""`python -m eval confusion INPUT --out DIR`: the Language Confusion Benchmark's metrics (Marchisio et al. 2024)
over a CSV of completions in the benchmark's format (completion, task, source, language[, model]) or over an
`eval generate` run dir. Per (task, source, language): the line-level pass rate (LPR), the word-level pass rate
(WPR, ar/hi/ja/ko/ru/zh only), line accuracy and LCPR (harmonic mean of LPR and WPR), averaged per source, per
language and overall as the benchmark's compute_metrics.py averages them."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from core.answer_health import FLAGS, check_answer
from core.confusion import NOT_IDENTIFIABLE, Confusion, score, words_or_none
from core.errors import ConfigError, DataError
from core.languages import get_language, wilson
from eval.results import read_card, read_items, write_card

ALL = "all"
CSV_COLUMNS = ("completion", "task", "source", "language")


def _rate(hits: int, n: int) -> tuple[float | None, list[float] | None]:
    if n == 0:
        return None, None
    r = wilson(hits, n)
    return round(r.rate, 4), [round(r.low, 4), round(r.high, 4)]


def _hmean(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return round(2 * a * b / (a + b), 4) if a + b else 0.0


def cell(scored: list[Confusion], lang: str, flags: list[tuple[str, ...]] | None = None) -> dict:
    """One group's metrics as the benchmark computes them, with Wilson 95% intervals on LPR and WPR; `flags` adds
    each health flag's share. A group where no response has a line of 5 tokens gets no rates (upstream: 100%)."""
    n, kept = len(scored), [c for c in scored if c.scored]
    out: dict = {"n": n, "scored": len(kept)}
    if not get_language(lang).lid176:
        out |= {"lpr": None, "wpr": None, "acc": None, "lcpr": None, "note": NOT_IDENTIFIABLE}
    else:
        lpr, lpr_ci = _rate(sum(c.line_pass for c in kept), len(kept))
        out |= {"lpr": lpr, "lpr_ci95": lpr_ci,
                "acc": round(sum(c.line_acc for c in kept) / len(kept), 4) if kept else None, "wpr": None}
        if scored and scored[0].english is not None:
            clean = [c for c in kept if c.line_pass]
            out["wpr"], out["wpr_ci95"] = _rate(sum(c.word_pass for c in clean), len(clean))
        out["lcpr"] = _hmean(out["lpr"], out["wpr"])
    if flags is not None:
        out["flags"] = {f: round(sum(f in fl for fl in flags) / n, 4) if n else 0.0 for f in FLAGS}
    return out


def _average(cells: list[dict]) -> dict:
    """The mean of each metric over the cells that have it (WPR exists in six languages only)."""
    out: dict = {"n": sum(c["n"] for c in cells), "scored": sum(c["scored"] for c in cells)}
    for key in ("acc", "lpr", "wpr"):
        values = [c[key] for c in cells if c.get(key) is not None]
        out[key] = round(sum(values) / len(values), 4) if values else None
    out["lcpr"] = _hmean(out["lpr"], out["wpr"])
    return out


def confusion_scores(rows: Iterable[dict], words: frozenset[str] | None) -> list[dict]:
    """Flat rows {task, source, language, n, lpr, wpr, acc, lcpr, ...}: one per (task, source, language) group,
    then "all" rows: per source, per language (the mean of its sources) and overall (the mean of the languages)."""
    key = lambda r: (r["task"], r.get("model", ""))  # noqa: E731
    out = []
    for (task, model), group in itertools.groupby(sorted(rows, key=key), key=key):
        head = {"task": task, **({"model": model} if model else {})}
        cells: dict[tuple[str, str], dict] = {}
        group_key = lambda r: (r["source"], r["language"])  # noqa: E731
        for (source, lang), items in itertools.groupby(sorted(group, key=group_key), key=group_key):
            items = list(items)
            scored = [score(r["completion"], lang, words) for r in items]
            flags = [r["flags"] for r in items] if all("flags" in r for r in items) else None
            cells[(source, lang)] = cell(scored, lang, flags)
        by_source, by_lang = {}, {}
        for (source, lang), c in cells.items():
            by_source.setdefault(source, []).append(c)
            by_lang.setdefault(lang, []).append(c)
        per_lang = {lang: _average(cs) for lang, cs in by_lang.items()}
        out += [{**head, "source": s, "language": lang, **c} for (s, lang), c in cells.items()]
        out += [{**head, "source": s, "language": ALL, **_average(cs)} for s, cs in by_source.items()]
        out += [{**head, "source": ALL, "language": lang, **c} for lang, c in per_lang.items()]
        out.append({**head, "source": ALL, "language": ALL, **_average(list(per_lang.values()))})
    return out


def rows_from_csv(path: Path) -> list[dict]:
    """The completions of a CSV in the benchmark's output format; a missing column or language is named."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{path} has no column {', '.join(missing)}; the benchmark's output format has the "
                            f"columns {', '.join(CSV_COLUMNS)} (and optionally model).")
        rows = [{k: r.get(k) or "" for k in (*CSV_COLUMNS, "model")} for r in reader]
    for r in rows:
        r["language"] = get_language(r["language"]).code
    return rows


def rows_from_run(run: Path) -> list[dict]:
    """The first answers of an `eval generate` run, each with the echoed prompt removed and its health flags.
    The source is the prompt's own (LCB prompts name it) or the prompt set."""
    from eval.prompt_sets import SETS

    card = read_card(run)
    if card is None or "set" not in card:
        raise ConfigError(f"{run} holds no `eval generate` run (no card.json with a prompt set); give a run "
                          f"directory of `python -m eval generate`, or a CSV with {', '.join(CSV_COLUMNS)}.")
    name = Path(card["set"]).name
    by_source = card["set"] in SETS and SETS[card["set"]].by_source
    rows = []
    for r in read_items(run):
        health = check_answer(r["turns"][0], r["answers"][0], (r.get("tokens") or [None])[0], card.get("max_tokens"))
        rows.append({"task": name, "source": r["category"] if by_source else name, "language": r["lang"],
                     "completion": health.own_text, "flags": health.flags, "model": card.get("model", "")})
    return rows


def run_confusion(source: Path, out: Path, data_dir: Path | None = None) -> dict:
    """Score a CSV or a generate run dir and write `card.json` (flat `scores`) and a plot into `out`."""
    from core.versions import versions

    if not source.exists():
        raise ConfigError(f"{source} does not exist; give a CSV of completions or an `eval generate` run dir.")
    rows = rows_from_run(source) if source.is_dir() else rows_from_csv(source)
    if not rows:
        raise DataError(f"{source} holds no completions to score.")
    words = words_or_none(data_dir)
    card = {"input": str(source), "kind": "run" if source.is_dir() else "csv", "responses": len(rows),
            "word_level": "on" if words is not None else "off: no --data-dir with language_confusion_lcb/en_words.txt",
            "scores": confusion_scores(rows, words), "versions": versions(),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    out.mkdir(parents=True, exist_ok=True)
    write_card(out, card)
    card["plot"] = str(confusion_plot(card["scores"], out / "confusion.png"))
    write_card(out, card)
    return card


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def format_scores(scores: list[dict]) -> str:
    """The card's rows as text tables, one per task (and model): LPR, WPR, acc, LCPR in percent."""
    lines = []
    key = lambda r: (r["task"], r.get("model", ""))  # noqa: E731
    for (task, model), rows in itertools.groupby(scores, key=key):
        lines += ["", f"{task}{' · ' + model if model else ''}",
                  f"{'source':16} {'lang':5} {'n':>5} {'LPR':>7} {'WPR':>7} {'acc':>7} {'LCPR':>7}"]
        for r in rows:
            note = f"  {r['note']}" if r.get("note") else ""
            lines.append(f"{r['source']:16} {r['language']:5} {r['n']:5d} {_pct(r['lpr']):>7} {_pct(r['wpr']):>7} "
                         f"{_pct(r['acc']):>7} {_pct(r['lcpr']):>7}{note}")
    return "\n".join(lines).strip()


def confusion_plot(scores: list[dict], path: Path) -> Path:
    """Per task (and model): LPR and WPR (where it exists) per language, the means of its sources."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from eval.report import save_figure

    per_lang = [r for r in scores if r["source"] == ALL and r["language"] != ALL]
    groups = list(dict.fromkeys((r["task"], r.get("model", "")) for r in per_lang))
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 3 * len(groups)), squeeze=False)
    for ax, (task, model) in zip(axes[:, 0], groups):
        rows = [r for r in per_lang if (r["task"], r.get("model", "")) == (task, model)]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r["lpr"] if r["lpr"] is not None else np.nan for r in rows], 0.4, label="LPR")
        ax.bar(x + 0.2, [r["wpr"] if r["wpr"] is not None else np.nan for r in rows], 0.4, label="WPR")
        ax.set_xticks(x, [r["language"] for r in rows])
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{task}{' · ' + model if model else ''}: language confusion (higher is better)")
        ax.legend(fontsize="small", loc="lower left")
    return save_figure(fig, path)

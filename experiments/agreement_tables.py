"""What every experiment's agreement tables read from a run's generate stages: the answers checked as everywhere
agreement is shown (eval.answer_checks), agreement per (lang, id) for paired tests, the cards' agreement series
for bars, and the table of the answers' health and language confusion."""

from __future__ import annotations

from pathlib import Path

from core.answer_health import FLAGS
from core.languages import get_language
from experiments.report import footnotes, md_table, rate_cell, stage_card, stage_items


def checked_answers(run_dir: Path, arm: str) -> list:
    """The arm's first answers checked as everywhere agreement is shown (eval.answer_checks): health flags, the
    language of their own text (what they copied from the prompt removed), LCB line scoring."""
    from eval.answer_checks import check_records

    card = stage_card(run_dir, f"generate/{arm}")
    return check_records(stage_items(run_dir, f"generate/{arm}"), card.get("max_tokens"))


def agreement_hits(run_dir: Path, arm: str, checked: list | None = None) -> dict[tuple[str, str], bool]:
    """(lang, id) -> whether the first answer's own text was detected in the prompt's language (an echoed prompt
    does not count). Languages lid.176 cannot identify are left out: no answer could agree."""
    checked = checked_answers(run_dir, arm) if checked is None else checked
    return {(c.lang, c.id): c.agrees for c in checked if get_language(c.lang).lid176}


def generate_cards(run_dir: Path, arms: list[str]) -> dict[str, dict]:
    """arm -> its generate card; a card written before answers had health flags gets its agreement table
    recomputed from its answers (as `eval report` does)."""
    from eval.report import load_runs

    return {a: load_runs([run_dir / f"generate/{a}"])[0] for a in arms}


HEALTH_HEAD = ["lang", "arm", "n", "agreement, healthy answers [95%]", "LPR [95%]", "echo", "loop", "empty",
               "truncated"]


def health_table(exp, cards: dict[str, dict], arms: list[str], langs: list[str]) -> list[str]:
    """Markdown lines: per language and arm, agreement over the healthy answers (no echo, loop or empty), the
    Language Confusion Benchmark's line pass rate with its Wilson interval, and each health flag's share."""
    rows = []
    for lang in langs:
        for a in arms:
            r = cards[a]["agreement"].get(lang)
            if not r:
                continue
            h, lcb, flags = r.get("healthy") or {}, r.get("confusion") or {}, r.get("flags") or {}
            healthy = f"{rate_cell(h)} (n={h['n']})" if h else "-"
            lpr = rate_cell({"n": lcb.get("scored"), "agreement": lcb.get("lpr"), "ci95": lcb.get("lpr_ci95")})
            rows.append([lang, exp.label(a), r["n"], healthy, lpr,
                         *("-" if flags.get(f) is None else f"{flags[f]:.2f}" for f in FLAGS)])
    return ["### Answers' health and language confusion (agreement over healthy answers; LCB line pass rate over "
            "answers with a line to score; share of answers flagged)", "", md_table(HEALTH_HEAD, rows), "",
            *footnotes(rows)]


def agreement_series(cards: dict, arms: list[str]) -> tuple[dict, dict, dict, dict]:
    """Agreement and its 95% interval bounds, arm -> lang -> value, from the generate cards (for grouped_bars), and
    arm -> the languages without agreement (lid.176 cannot identify them)."""
    rows = {a: {lang: r for lang, r in cards[a]["agreement"].items() if r.get("agreement") is not None}
            for a in arms}
    return ({a: {lang: r["agreement"] for lang, r in rows[a].items()} for a in arms},
            {a: {lang: r["ci95"][0] for lang, r in rows[a].items()} for a in arms},
            {a: {lang: r["ci95"][1] for lang, r in rows[a].items()} for a in arms},
            {a: {lang for lang, r in cards[a]["agreement"].items() if r.get("n") and r.get("agreement") is None}
             for a in arms})

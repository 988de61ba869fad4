"""What a ladder's files do on a benchmark (`--bench xcopa`: accuracy change against f16, paired by item, with
its interval) and on a prompt set (`--prompts examples`: agreement, LCB line pass rate and answer health against
f16). Each file's run is an ordinary `eval bench` / `eval generate` run under the ladder's directory, so it
resumes the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats

from core.errors import ConfigError


def _langs_of(available: tuple[str, ...] | list[str], ladder_langs: list[str], what: str) -> list[str]:
    langs = [lang for lang in ladder_langs if lang in available]
    if not langs:
        raise ConfigError(f"{what} has none of the ladder's languages ({', '.join(ladder_langs)}); it has "
                          f"{', '.join(available)}. Add one of them to --langs.")
    return langs


def check_evals(tasks: list[str], prompt_set: str | None, langs: list[str]) -> None:
    """Refuse, before any work, a benchmark or prompt set that shares no language with the ladder."""
    from eval.prompt_sets import get_set
    from eval.tasks import get_task

    for task in tasks:
        _langs_of(get_task(task).langs, langs, f"Benchmark {task}")
    if prompt_set:
        _langs_of(tuple(get_set(prompt_set).langs), langs, f"Prompt set {prompt_set}")


def bench_cells(run_path: Path, card: dict, tasks: list[str], limit: int | None, data_dir: Path | None,
                log=print) -> dict:
    """{variant: {"task/lang": {acc, acc_ref, change_points, change_ci95_points, n}}}: each file's accuracy and
    its paired change from the reference's on the same items."""
    from eval.bench import run_bench
    from eval.results import read_items
    from eval.tasks import get_task

    reference = card["reference"]
    out: dict = {}
    per_file = {}
    for name, entry in card["files"].items():
        for task in tasks:
            langs = _langs_of(get_task(task).langs, card["langs"], f"Benchmark {task}")
            folder = run_path / "bench" / name.replace("@", "-") / task
            log(f"{name}: {task} on {', '.join(langs)}")
            run_bench(f"gguf:{run_path / entry['path']}", [task], folder, langs, limit, data_dir, log=log)
            per_file.setdefault(name, []).extend(read_items(folder))
    ref = {(r["task"], r["lang"], r["id"]): r["acc"] for r in per_file[reference]}
    for name, records in per_file.items():
        groups: dict = {}
        for r in records:
            key = (r["task"], r["lang"], r["id"])
            if key in ref:
                groups.setdefault(f"{r['task']}/{r['lang']}", []).append((r["acc"], ref[key]))
        for group, pairs in groups.items():
            acc, base = np.array(pairs).T
            diff = acc - base
            lo, hi = (stats.ttest_1samp(diff, 0).confidence_interval() if len(diff) > 1 and diff.std() > 0
                      else (diff.mean(), diff.mean()))
            out.setdefault(name, {})[group] = {
                "n": len(pairs), "acc": round(float(acc.mean()), 4), "acc_ref": round(float(base.mean()), 4),
                "change_points": round(100 * float(diff.mean()), 2),
                "change_ci95_points": [round(100 * float(lo), 2), round(100 * float(hi), 2)]}
    return out


def prompt_cells(run_path: Path, card: dict, prompt_set: str, limit: int | None, data_dir: Path | None,
                 max_tokens: int = 96, log=print) -> dict:
    """{variant: {lang: {agreement, healthy_agreement, lpr, echo, loop, ..., and each one's change from f16}}}."""
    from eval.generate import run_generate
    from eval.prompt_sets import get_set

    langs = _langs_of(tuple(get_set(prompt_set).langs), card["langs"], f"Prompt set {prompt_set}")
    rows: dict = {}
    for name, entry in card["files"].items():
        folder = run_path / "prompts" / name.replace("@", "-") / prompt_set
        log(f"{name}: {prompt_set} prompts in {', '.join(langs)}")
        answers = run_generate(f"gguf:{run_path / entry['path']}", prompt_set, folder, langs, limit, data_dir,
                               max_tokens=max_tokens)
        for lang, r in answers["agreement"].items():
            healthy = (r.get("healthy") or {}).get("agreement")
            rows.setdefault(name, {})[lang] = {"n": r["n"], "agreement": r["agreement"], "healthy_agreement": healthy,
                                               "lpr": (r.get("confusion") or {}).get("lpr"), **(r.get("flags") or {})}
    reference = rows[card["reference"]]
    for per in rows.values():
        for lang, row in per.items():
            for key in [k for k in row if k != "n"]:
                if row[key] is not None and reference[lang].get(key) is not None:
                    row[f"{key}_change"] = round(row[key] - reference[lang][key], 4)
    return rows

"""Build a mix from a recipe: load sources -> translate-and-distill -> LID filter -> mixture -> translation
demos -> shuffle -> stats. Writes `mix.jsonl`, `card.json`, `stats.txt` and `bad_rows.jsonl` to the out dir."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from core.config import to_dict
from core.engines.openai_api import public_url
from core.run_dir import RunDir, atomic_file
from core.versions import versions
from trainer.data.demos import mix_in, translation_demos
from trainer.data.lid_filter import lid_filter
from trainer.data.mixtures import build_pool, mix
from trainer.data.recipe import Recipe
from trainer.data.schema import BadRows, Row
from trainer.data.sources import load_sources
from trainer.data.stats import format_table, mix_stats
from trainer.data.translate import translate_and_distill


@dataclass
class BuildResult:
    rows: list[Row]
    card: dict
    table: str
    out: Path | None


def build(recipe: Recipe, out: Path | None, data_dir: Path, recipe_path: str = "", dry_run: bool = False,
          log=print) -> BuildResult:
    """Run the recipe. With `dry_run`, stop before any API call or write and report the plan and cost."""
    started = time.time()
    ledger = BadRows(max_fraction=recipe.max_bad_fraction)
    rng = random.Random(recipe.seed)
    card: dict = {"recipe": _redacted(to_dict(recipe)), "recipe_path": recipe_path, "data_dir": str(data_dir)}

    with tqdm(total=sum(len(s.langs or [1]) for s in recipe.sources.values()), desc="load", unit="input",
              disable=None) as bar:
        loaded = load_sources(recipe.sources, data_dir, ledger, progress=lambda _: bar.update())
    card["inputs"], card["bad_rows"] = loaded.inputs, ledger.summary()
    rows = loaded.rows
    if ledger.bad:
        log(f"warning: {len(ledger.bad)} malformed input row(s) skipped (listed in bad_rows.jsonl): "
            + "; ".join(f"{b.where}: {b.reason}" for b in ledger.bad[:3]))

    counts = _token_counter(recipe.stats.tokenizer) if not dry_run or not recipe.translate else None
    if recipe.translate:
        with tqdm(desc="translate", unit="row", disable=None) as bar:
            def progress(total):
                if total is not None:
                    bar.reset(total=total)
                else:
                    bar.update()
            new_rows, card["translate"] = translate_and_distill(rows, recipe.translate, recipe.seed, dry_run, progress)
        rows = rows + new_rows
        if dry_run:
            return BuildResult([], card, _describe_plan(card["translate"]), None)
        if card["translate"]["failed"]:
            log(f"warning: {card['translate']['failed']} translate job(s) failed (see card.json); rerun the same "
                f"command to retry them, finished calls are cached.")

    if recipe.lid_filter:
        f = recipe.lid_filter
        rows, card["lid_filter"] = lid_filter(rows, f.min_confidence, f.action, f.min_letters)

    wanted = set(recipe.mixture.sources or recipe.sources)
    pool = build_pool(r for r in rows if r.source.split("/")[0].removeprefix("translated:") in wanted)
    card["pool"] = {lang: len(ids) for lang, ids in sorted(pool.items())}
    mixed = mix(pool, recipe.mixture, rng)

    if recipe.demos:
        d = recipe.demos
        corpus = [s for s in loaded.segments if s.source.split("/")[0] in d.corpus]
        demos = translation_demos(corpus, d.base, d.languages, d.per_direction, rng)
        demos = mix_in(mixed, demos, d.ratio, rng)
        card["demos"] = {"built": 2 * d.per_direction * len(d.languages), "used": len(demos)}
        mixed = mixed + demos

    if recipe.shuffle:
        rng.shuffle(mixed)
    card["stats"] = mix_stats(mixed, counts, base=recipe.mixture.base)
    card["stats_tokenizer"] = recipe.stats.tokenizer
    table = format_table(card["stats"], base=recipe.mixture.base)
    card["rows"] = len(mixed)
    card["versions"] = versions()
    card["seconds"] = round(time.time() - started, 1)
    if dry_run:
        return BuildResult(mixed, card, table, None)
    _write(out, mixed, card, table, ledger)
    return BuildResult(mixed, card, table, out)


def _redacted(recipe: dict) -> dict:
    """The recipe for the card, with credentials and queries cut out of model URLs."""
    t = recipe.get("translate")
    if t:
        for key in ("translator", "teacher"):
            if t.get(key) and "@" in t[key]:
                head, _, url = t[key].partition("@")  # the first @ ends the model name; the URL may hold more
                t[key] = f"{head}@{public_url(url)}"
    return recipe


def _token_counter(spec: str | None):
    if not spec:
        return None
    from core.engines import load

    engine = load(spec)
    return engine.count_tokens


def _write(out: Path, rows: list[Row], card: dict, table: str, ledger: BadRows) -> None:
    """Write atomically, card last, so an interrupted build never leaves a half mix beside a card."""
    run_dir = RunDir(out)
    out.mkdir(parents=True, exist_ok=True)
    run_dir.card_path.unlink(missing_ok=True)  # no old card beside a new mix if we die in between
    with atomic_file(out / "mix.jsonl") as tmp, tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(row.to_json() + "\n")
    ledger.write(out / "bad_rows.jsonl")
    (out / "stats.txt").write_text(table + "\n", encoding="utf-8")
    run_dir.write_card(card)


def _describe_plan(report: dict) -> str:
    est = report["estimate"]
    lines = [f"translate: {report['source_rows']} source rows x {len(report['languages'])} languages = "
             f"{report['jobs']} jobs; skipped as code: {sum(report['skipped_code'].values())} "
             f"{report['skipped_code'] or ''}; skipped multi-turn: {report['skipped_multiturn']}; "
             f"already in the sources: {report['skipped_existing']}",
             f"requests to make: {est['requests']} (already cached: {est['cached']})"]
    for m in est["by_model"]["models"].values():
        usd = "unknown price" if m["usd"] is None else f"${m['usd']:.4f}"
        lines.append(f"  {m['model']} @ {m['endpoint']}: ~{m['prompt_tokens']:,} prompt + ~{m['completion_tokens']:,} "
                     f"completion tokens, {usd}")
    total = est["by_model"]["usd"]
    lines.append("estimated cost: " + ("unknown (add `translate.prices`)" if total is None else f"${total:.4f}"))
    return "\n".join(lines)

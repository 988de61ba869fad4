"""X-Instruction end to end: seeds -> reverse model -> candidate pairs from native text -> K iterations of
(rating set, evaluator, scores, cross-lingual model) -> diversification -> mix.jsonl in the common schema.

Every stage writes its files into the out dir and its stats into card.json; a rerun of the same command skips
finished stages and resumes a stopped one (appended records, trainer checkpoints)."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from core.config import to_dict
from core.errors import ConfigError
from core.languages import detect_batch, wilson
from core.records import read_jsonl, write_jsonl
from core.run_dir import RunDir
from core.versions import versions
from trainer.data.schema import Row
from trainer.data.stats import format_table, mix_stats
from trainer.xinstruct import diversify as div
from trainer.xinstruct.data import corpus_texts, seed_pairs
from trainer.xinstruct.models import engine_with, generate_each, rate_each, train_adapter
from trainer.xinstruct.ratings import rate_messages, reverse_messages, synthesize
from trainer.xinstruct.recipe import XInstructRecipe

MAX_INSTRUCTION_CHARS = 300


def _row(id_: str, lang: str, user: list[dict], answer: str, source: str, meta: dict | None = None) -> Row:
    return Row(id_, lang, [*user, {"role": "assistant", "content": answer}], source, meta or {})


def _write_once(path: Path, records: list[dict]) -> list[dict]:
    """`records` written to `path` unless it exists (then its content: a rerun sees exactly the same data)."""
    if not path.is_file():
        write_jsonl(path, records)
    return read_jsonl(path)


class Run:
    """The out dir and its card (a `RunDir`): which stages are done, with their stats."""

    def __init__(self, recipe: XInstructRecipe, out: Path, data_dir: Path, log=print):
        self.recipe, self.out, self.data_dir, self.log = recipe, out, data_dir, log
        out.mkdir(parents=True, exist_ok=True)
        identity = hashlib.sha256(json.dumps(to_dict(recipe), sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.run_dir = RunDir(out)
        self.run_dir.refuse_other_run({"identity": identity}, "an X-Instruction run of another recipe")
        self.card.update({"identity": identity, "recipe": to_dict(recipe), "versions": versions()})
        self.card.setdefault("stages", {})

    @property
    def card(self) -> dict:
        """The run's card, in memory (saved by the run dir at every stage change)."""
        return self.run_dir.card

    def stage(self, name: str, fn) -> dict:
        """Run `fn()` (returns the stage's stats) unless the card says `name` is done."""
        if self.run_dir.done(name):
            self.log(f"{name}: done before, skipped")
            return self.card["stages"][name]
        started = time.time()
        stats = fn()
        entry = self.run_dir.mark_done(name, {**stats, "seconds": round(time.time() - started, 1)})
        self.log(f"{name}: {json.dumps(stats, ensure_ascii=False)}")
        return entry


def run(recipe: XInstructRecipe, out: Path, data_dir: Path, log=print, until: str | None = None) -> dict:
    """Run (or resume) every stage; returns the card. `until` stops after the named stage."""
    if until is not None and until not in recipe.stage_names():
        raise ConfigError(f"--until {until!r} is not a stage of this recipe; the stages: "
                          f"{', '.join(recipe.stage_names())}.")
    r = Run(recipe, out, data_dir, log)
    rec, lang = recipe, recipe.lang
    pairs: list[dict] = []
    corpus: list[dict] = []

    def seeds():
        nonlocal pairs
        pairs = read_jsonl(out / "seeds.jsonl") if done("seeds") else _write_once(out / "seeds.jsonl",
                                                                                   seed_pairs(rec, data_dir))
        return dict(Counter(p["split"] for p in pairs))

    def texts():
        nonlocal corpus
        if done("corpus"):  # no second pass of fastText over the corpus on a resume
            corpus = read_jsonl(out / "corpus.jsonl")
            return r.card["stages"]["corpus"]
        found, stats = corpus_texts(rec, data_dir, {p["response"] for p in pairs})
        corpus = _write_once(out / "corpus.jsonl", found)
        return stats

    def done(name: str) -> bool:
        return r.run_dir.done(name) and (out / f"{name}.jsonl").is_file()

    def reverse_train():
        rows = [_row(f"rev-{p['id']}", lang, reverse_messages(p["response"]), p["instruction"], "xinstruct:reverse")
                for p in pairs if p["split"] == "train"]
        train_adapter(rec, "reverse", rows, out / "reverse", log)
        return {"rows": len(rows)}

    def candidates():
        engine = engine_with(rec, out / "reverse" / "train" / "adapter")
        made = generate_each(engine, corpus, lambda t: reverse_messages(t["text"]), out / "reverse_outputs.jsonl",
                             rec.reverse.max_tokens, "reverse instructions")
        engine.close()
        text_of = {t["id"]: t["text"] for t in corpus}
        firsts = [(m["output"].strip().splitlines() or [""])[0].strip() for m in made]
        langs = detect_batch(firsts)
        kept, why = [], Counter()
        for m, instr, (got, _) in zip(made, firsts, langs):
            reason = ("empty" if not instr else "too long" if len(instr) > MAX_INSTRUCTION_CHARS
                      else f"not English ({got})" if got != "en" and rec.reverse.require_english else None)
            if reason:
                why[reason] += 1
            else:
                kept.append({"id": m["id"], "instruction": instr, "response": text_of[m["id"]]})
        if not kept:
            raise ConfigError(f"The reverse model gave no usable English instruction for {len(made)} texts "
                              f"({dict(why)}): raise reverse.train.max_steps or reverse.max_tokens, or set "
                              f"reverse.require_english: false, in a new --out.")
        _write_once(out / "candidates.jsonl", kept)
        return {"texts": len(corpus), "candidates": len(kept), "dropped": dict(why)}

    for name, fn in (("seeds", seeds), ("corpus", texts)):  # the later stages need them in memory: a rerun
        r.run_dir.mark_done(name, fn())                      # reads the files written the first time
        if name == until:
            return r.card
    steps = [("reverse-train", reverse_train), ("candidates", candidates)]
    steps += [(f"iteration-{k}", lambda k=k: _iteration(r, k, pairs)) for k in range(1, rec.refine.iterations + 1)]
    steps += [("diversify", lambda: _diversify(r)), ("mix", lambda: _mix(r))]
    for name, fn in steps:
        r.stage(name, fn)
        if name == until:
            break
    return r.card


def _iteration(r: Run, k: int, pairs: list[dict]) -> dict:
    """Rating set, evaluator, its test accuracy, the candidates' ratings, and the next cross-lingual model."""
    rec, it = r.recipe, r.out / f"iter-{k}"
    it.mkdir(exist_ok=True)
    held = [p for p in pairs if p["split"] in ("rate", "test")]
    share = rec.refine.model_share
    outputs: dict[str, str] = {}
    if k > 1 and share > 0:  # the previous cross-lingual model's answers become rating-1 examples
        engine = engine_with(rec, r.out / f"iter-{k - 1}" / "model" / "train" / "adapter")
        made = generate_each(engine, held, lambda p: [{"role": "user", "content": p["instruction"]}],
                             it / "model_outputs.jsonl", rec.refine.model_max_tokens, f"iteration {k}: model answers")
        engine.close()
        outputs = {m["id"]: m["output"] for m in made}
    # Each split is its own rating set, so no test response is a training mismatch; the test draws are the same
    # in every round (only the model answers change), so the rounds' accuracies compare.
    sets = {"rate": synthesize([p for p in held if p["split"] == "rate"], random.Random(rec.seed * 1000 + k), outputs,
                               share),
            "test": synthesize([p for p in held if p["split"] == "test"], random.Random(rec.seed), outputs, share)}
    items = _write_once(it / "ratings.jsonl", [{**x.to_dict(), "id": f"{x.pair}:{x.kind}", "split": split}
                                               for split, xs in sets.items() for x in xs])
    rows = [_row(f"rate-{x['id']}", rec.lang, rate_messages(x["instruction"], x["response"]), str(x["rating"]),
                 "xinstruct:evaluator") for x in items if x["split"] == "rate"]
    adapter = train_adapter(rec, "evaluator", rows, it / "evaluator", r.log)

    engine = engine_with(rec, adapter)
    test = [x for x in items if x["split"] == "test"]
    scored = {s["id"]: s["rating"] for s in rate_each(engine, test, it / "test_scores.jsonl", f"iteration {k}: test")}
    candidates = read_jsonl(r.out / "candidates.jsonl")
    rated = rate_each(engine, candidates, it / "scores.jsonl", f"iteration {k}: candidates")
    engine.close()
    hits = sum(scored[x["id"]] == x["rating"] for x in test)
    acc = wilson(hits, len(test))
    confusion = Counter(f"{x['rating']}->{scored[x['id']]}" for x in test)
    rating = {s["id"]: s for s in rated}
    kept_ids = {s["id"] for s in rated if s["rating"] == 2}
    # the paper keeps only the 2s; a recipe may ask for a floor, filled by P(2) (a weak evaluator rates all 1)
    short = max(rec.refine.keep_at_least - len(kept_ids), 0)
    by_rank = sorted((s for s in rated if s["rating"] != 2), key=lambda s: -s["p"][2])[:short]
    kept_ids |= {s["id"] for s in by_rank}
    kept = [{**c, "rating": rating[c["id"]]["rating"]} for c in candidates if c["id"] in kept_ids]
    _write_once(it / "kept.jsonl", kept)
    stats = {"rating_set": dict(Counter(f"{x['rating']}:{x['kind']}" for x in items if x["split"] == "rate")),
             "evaluator_test": {"n": len(test), "accuracy": round(acc.rate, 4),
                                "ci95": [round(acc.low, 4), round(acc.high, 4)],
                                "confusion (gold->rated)": dict(sorted(confusion.items()))},
             "candidate_ratings": {str(n): sum(s["rating"] == n for s in rated) for n in range(3)},
             "kept": len(kept), "kept_by_rank": len(by_rank)}
    if (k < rec.refine.iterations and share > 0) or rec.refine.train_last_model:  # only its answers are used
        train_rows = [_row(f"seed-{p['id']}", rec.lang, [{"role": "user", "content": p["instruction"]}],
                           p["response"], "xinstruct:seed") for p in pairs if p["split"] == "train"]
        train_rows += [_row(f"cand-{c['id']}", rec.lang, [{"role": "user", "content": c["instruction"]}],
                            c["response"], "xinstruct:kept") for c in kept]
        train_adapter(rec, "model", train_rows, it / "model", r.log)
        stats["model_rows"] = len(train_rows)
    return stats


def _diversify(r: Run) -> dict:
    """Cluster the kept pairs' English instructions; the same number from every cluster."""
    rec = r.recipe
    kept = read_jsonl(r.out / f"iter-{rec.refine.iterations}" / "kept.jsonl")
    if not kept:
        raise ConfigError("The evaluator kept no candidate (rated 2) in the last iteration: nothing to diversify. "
                          "Train the evaluator longer (refine.evaluator_train.max_steps), add corpus text, or keep "
                          "the candidates it rates most likely 2 (refine.keep_at_least=N), in a new --out.")
    labels = div.cluster(div.embed([c["instruction"] for c in kept], rec.diversify.encoder),
                         rec.diversify.clusters, rec.seed)
    chosen = div.sample_per_cluster(labels, rec.diversify.per_cluster, random.Random(rec.seed))
    _write_once(r.out / "diversified.jsonl", [{**kept[i], "cluster": int(labels[i])} for i in chosen])
    sizes = Counter(int(c) for c in labels)
    return {"kept": len(kept), "clusters": len(sizes), "cluster_sizes": sorted(sizes.values(), reverse=True),
            "per_cluster": min(Counter(int(labels[i]) for i in chosen).values()), "selected": len(chosen)}


def _mix(r: Run) -> dict:
    """mix.jsonl in the common schema (lang = the response's, meta.instruction_lang = en) and its stats table."""
    rec = r.recipe
    rows = [_row(f"xi-{c['id']}", rec.lang, [{"role": "user", "content": c["instruction"]}], c["response"],
                 f"xinstruct:{rec.name}",
                 {"instruction_lang": "en", "cluster": c["cluster"], "rating": c.get("rating", 2)})
            for c in read_jsonl(r.out / "diversified.jsonl")]
    write_jsonl(r.out / "mix.jsonl", [asdict(row) for row in rows])
    stats = mix_stats(rows)
    (r.out / "stats.txt").write_text(format_table(stats) + "\n")
    return {"rows": len(rows), "languages": {lang: s["rows"] for lang, s in stats.items()
                                             if isinstance(s, dict) and "rows" in s}}


def summary(card: dict) -> str:
    """The stats of every finished stage, as lines a person reads (the CLI prints it; the card has it all)."""
    st = card["stages"]
    lines = []
    if "seeds" in st:
        lines.append(f"seeds: {st['seeds'].get('train', 0)} training pairs, {st['seeds'].get('rate', 0)} for rating "
                     f"sets, {st['seeds'].get('test', 0)} for the evaluator's test")
    if "corpus" in st:
        lines.append(f"corpus: {st['corpus']['kept']} of {st['corpus']['read']} texts kept; dropped "
                     f"{st['corpus']['dropped']}")
    if "candidates" in st:
        c = st["candidates"]
        lines.append(f"candidates: {c['candidates']} of {c['texts']} texts got an English instruction; dropped "
                     f"{c['dropped']}")
    for name in sorted(k for k in st if k.startswith("iteration-")):
        it, ev = st[name], st[name]["evaluator_test"]
        lines.append(f"{name}: rating set {it['rating_set']}; evaluator test accuracy {ev['accuracy']:.3f} "
                     f"[{ev['ci95'][0]:.3f}, {ev['ci95'][1]:.3f}] on {ev['n']} (gold->rated "
                     f"{ev['confusion (gold->rated)']}); candidates rated {it['candidate_ratings']}; kept {it['kept']}"
                     + (f" ({it['kept_by_rank']} of them by P(2), to keep_at_least)" if it.get("kept_by_rank") else ""))
    if "diversify" in st:
        d = st["diversify"]
        lines.append(f"diversify: {d['kept']} kept pairs in {d['clusters']} clusters (sizes {d['cluster_sizes']}); "
                     f"{d['per_cluster']} per cluster -> {d['selected']}")
    if "mix" in st:
        lines.append(f"mix: {st['mix']['rows']} rows")
    return "\n".join(lines)

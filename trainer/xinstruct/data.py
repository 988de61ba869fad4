"""The pipeline's inputs: seed pairs (English instruction, target-language response) joined by id and split into
training and held-out pairs, and the unlabeled native corpus (filtered by length and fastText language)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

from core.errors import DataError
from core.languages import detect_batch
from trainer.data.schema import BadRows
from trainer.data.sources import load_sources
from trainer.xinstruct.recipe import XInstructRecipe


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def seed_pairs(recipe: XInstructRecipe, data_dir: Path) -> list[dict]:
    """{id, instruction, response, split} per pair whose ids match in both sources; split is train, rate (the
    evaluator's training pairs) or test (its fixed test pairs), chosen by a hash of the id."""
    ledger = BadRows()
    s = recipe.seeds
    loaded = load_sources({"instructions": s.instructions, "responses": s.responses}, data_dir, ledger)
    english = {r.id: r for r in loaded.rows if r.lang == "en"}
    target = {r.id: r for r in loaded.rows if r.lang == recipe.lang}
    if not english or not target:
        raise DataError(f"The seed sources gave {len(english)} English and {len(target)} {recipe.lang} rows; "
                        f"seeds.instructions must be lang: en and seeds.responses lang: {recipe.lang}.")
    ids = [i for i in english if i in target]
    if len(ids) < s.held_out + 8:
        raise DataError(f"Only {len(ids)} seed ids appear in both seed sources (held_out is {s.held_out}); give "
                        f"row-aligned files the same id_prefix, or lower seeds.held_out.")
    ordered = sorted(ids, key=lambda i: _rank(recipe.seed, i))
    n_test = recipe.test_pairs
    split = {i: "test" if k < n_test else "rate" if k < s.held_out else "train" for k, i in enumerate(ordered)}
    return [{"id": i, "instruction": english[i].text("user"), "response": target[i].text("assistant"),
             "split": split[i]} for i in ids]


def corpus_texts(recipe: XInstructRecipe, data_dir: Path, exclude: set[str]) -> tuple[list[dict], dict]:
    """({id, text} per usable native text, counts of what was dropped and why). Rows give their assistant turns,
    text sources their segments; texts equal to a seed response are left out (they would leak the seeds)."""
    ledger = BadRows()
    loaded = load_sources(recipe.corpus, data_dir, ledger)
    found = [(f"{r.id}#{k}", m["content"]) for r in loaded.rows if r.lang == recipe.lang
             for k, m in enumerate(r.messages) if m["role"] == "assistant"]
    found += [(s.id, s.text) for s in loaded.segments if s.lang == recipe.lang]
    repeated = [key for key, n in Counter(key for key, _ in found).items() if n > 1]
    if repeated:  # one id for two texts would pair one text's instruction with the other's response
        raise DataError(f"Corpus id {repeated[0]!r} is given to {len(repeated)} or more texts; give each corpus "
                        f"source its own `id_prefix:`.")
    exclude = {t.strip() for t in exclude}
    dropped: Counter = Counter()
    seen, keep = set(exclude), []
    for key, text in found:
        text = text.strip()
        if not recipe.min_chars <= len(text) <= recipe.max_chars:
            dropped["length"] += 1
        elif text in seen:
            dropped["duplicate or seed"] += 1
        else:
            seen.add(text)
            keep.append({"id": key, "text": text})
    langs = detect_batch([t["text"] for t in keep])
    out = []
    for t, (lang, _) in zip(keep, langs):
        if lang != recipe.lang:
            dropped[f"language {lang}"] += 1
        else:
            out.append(t)
    if recipe.corpus_limit is not None:
        dropped["over corpus_limit"] += max(0, len(out) - recipe.corpus_limit)
        out = out[:recipe.corpus_limit]
    if not out:
        raise DataError(f"No usable {recipe.lang} text in the corpus ({dict(dropped)} dropped); check `corpus:` and "
                        f"min_chars/max_chars.")
    return out, {"read": len(found), "kept": len(out), "dropped": dict(dropped), "bad_rows": ledger.summary()}

"""Language mixtures over a pool of rows keyed by (language, id); rows with the same id are translations.

- `all`: every row of the chosen languages.
- `mono`: one language.
- `parallel`: every language for every id they all share (the ENDEFRITES mix of the parallel multi-turn study).
- `sampled`: the same shared ids, each in exactly one language, spread evenly: the size of one language.
- `multi_i`: N base-language ids; for each added language in order, k of them are swapped for their
  translation (Polyglots' Multi-2..Multi-6). Nested: Multi-3 keeps Multi-2's choices.
- `weighted`: `size` rows drawn per language with p(lang) ~ n_lang^(1/T) (T=1 natural, T->inf uniform),
  or with explicit weights; a language short of its quota is repeated (`meta.repeat`).

Every choice goes through one seeded `random.Random`, so a recipe rebuilds the same mix.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from core.errors import DataError
from trainer.data.recipe import Mixture
from trainer.data.schema import Row

Pool = dict[str, dict[str, Row]]


def build_pool(rows: Iterable[Row]) -> Pool:
    """Rows keyed by language then id; two sources giving the same (language, id) is an error."""
    pool: Pool = {}
    for row in rows:
        by_id = pool.setdefault(row.lang, {})
        if row.id in by_id:
            raise DataError(f"Sources {by_id[row.id].source!r} and {row.source!r} both give id {row.id!r} in "
                            f"language {row.lang!r}; set `id_prefix:` on one of them so their ids differ.")
        by_id[row.id] = row
    return pool


def mix(pool: Pool, m: Mixture, rng: random.Random) -> list[Row]:
    """Apply mixture `m` to the pool."""
    langs = _languages(pool, m)
    if m.kind == "all":
        return [row for lang in langs for _, row in sorted(pool[lang].items())]
    if m.kind == "mono":
        return [pool[langs[0]][i] for i in _pick(sorted(pool[langs[0]]), m.size, rng, f"language {langs[0]}")]
    if m.kind == "parallel":
        ids = _pick(shared_ids(pool, langs), m.size, rng, f"ids shared by {', '.join(langs)}")
        return [pool[lang][i] for i in ids for lang in langs]
    if m.kind == "sampled":
        return sampled(pool, langs, m.size, rng)
    if m.kind == "multi_i":
        return multi_i(pool, langs, m.size, m.per_language, rng)
    return weighted(pool, langs, m.size, rng, temperature=m.temperature, weights=m.weights)


def _languages(pool: Pool, m: Mixture) -> list[str]:
    langs = m.languages or sorted(pool, key=lambda x: (x != m.base, x))
    missing = [x for x in langs if not pool.get(x)]
    if missing:
        raise DataError(f"The mixture asks for language(s) {missing} but the sources have no rows in them; "
                        f"the pool has {', '.join(f'{x} ({len(v)})' for x, v in sorted(pool.items())) or 'nothing'}.")
    return langs


def shared_ids(pool: Pool, langs: list[str]) -> list[str]:
    """Ids present in every language, sorted."""
    common = set(pool[langs[0]])
    for lang in langs[1:]:
        common &= set(pool[lang])
    if not common:
        raise DataError(f"No id is present in all of {', '.join(langs)}: parallel mixes need the same ids "
                        f"across languages (row-aligned files, or `id_field:`/`id_prefix:` that match).")
    return sorted(common)


def _pick(ids: list[str], size: int | None, rng: random.Random, what: str) -> list[str]:
    if size is None:
        return ids
    if size > len(ids):
        raise DataError(f"The mixture asks for {size} rows but there are only {len(ids)} {what}; "
                        f"lower `mixture.size` or add data.")
    return sorted(rng.sample(ids, size))


def sampled(pool: Pool, langs: list[str], size: int | None, rng: random.Random) -> list[Row]:
    ids = _pick(shared_ids(pool, langs), size, rng, f"ids shared by {', '.join(langs)}")
    order = ids[:]
    rng.shuffle(order)
    return [pool[langs[k % len(langs)]][i] for k, i in enumerate(order)]


def multi_i(pool: Pool, langs: list[str], size: int, per_language: int | None, rng: random.Random) -> list[Row]:
    base, added = langs[0], langs[1:]
    k = per_language if per_language is not None else size // len(langs)
    if k * len(added) > size:
        raise DataError(f"multi_i: {len(added)} added languages x {k} substituted = {k * len(added)} is more than "
                        f"the mix size {size}; lower `per_language` or raise `size`.")
    chosen = _pick(sorted(pool[base]), size, rng, f"rows in the base language {base}")
    order = chosen[:]
    rng.shuffle(order)
    taken: dict[str, str] = {}  # id -> language it is swapped into
    for lang in added:
        candidates = [i for i in order if i not in taken and i in pool[lang]]
        if len(candidates) < k:
            raise DataError(f"multi_i: only {len(candidates)} of the {size} chosen {base} examples have a "
                            f"{lang} translation not already used, need {k}; lower `per_language`, or add "
                            f"{lang} rows with the same ids.")
        taken.update(dict.fromkeys(candidates[:k], lang))
    return [pool[taken.get(i, base)][i] for i in chosen]


def language_quotas(counts: dict[str, int], size: int, temperature: float | None = None,
                    weights: dict[str, float] | None = None) -> dict[str, int]:
    """Rows per language for `size` draws: p ~ n^(1/T) or given weights, rounded by largest remainder."""
    if weights is not None:
        unknown = set(weights) - set(counts)
        if unknown:
            raise DataError(f"mixture.weights names language(s) {sorted(unknown)} outside the mixture languages "
                            f"{sorted(counts)}.")
        raw = {lang: float(weights.get(lang, 0.0)) for lang in counts}
    else:
        raw = {lang: n ** (1.0 / temperature) for lang, n in counts.items()}
    total = sum(raw.values())
    if total <= 0:
        raise DataError("mixture.weights are all zero.")
    exact = {lang: size * w / total for lang, w in raw.items()}
    quotas = {lang: int(x) for lang, x in exact.items()}
    for lang in sorted(exact, key=lambda x: (quotas[x] - exact[x], x))[: size - sum(quotas.values())]:
        quotas[lang] += 1
    return quotas


def weighted(pool: Pool, langs: list[str], size: int, rng: random.Random, temperature: float | None = None,
             weights: dict[str, float] | None = None) -> list[Row]:
    quotas = language_quotas({x: len(pool[x]) for x in langs}, size, temperature, weights)
    out = []
    for lang in langs:
        ids, quota = sorted(pool[lang]), quotas[lang]
        full, rest = divmod(quota, len(ids))
        for repeat in range(full):
            out += [_repeat(pool[lang][i], repeat) for i in ids]
        out += [_repeat(pool[lang][i], full) for i in sorted(rng.sample(ids, rest))]
    return out


def _repeat(row: Row, repeat: int) -> Row:
    if repeat == 0:
        return row
    return Row(id=row.id, lang=row.lang, messages=row.messages, source=row.source, meta={**row.meta, "repeat": repeat})

"""Translation-following demonstrations (CrossAlpaca): aligned text becomes Alpaca-style tasks in English,
"Translate the following text from English to German.", in both directions."""

from __future__ import annotations

import random
from collections.abc import Iterable

from core.errors import DataError
from core.languages import get_language
from trainer.data.schema import Row, Segment


def instruction(src: str, tgt: str) -> str:
    return f"Translate the following text from {get_language(src).name} to {get_language(tgt).name}."


def translation_demos(segments: Iterable[Segment], base: str, languages: list[str], per_direction: int,
                      rng: random.Random) -> list[Row]:
    """`per_direction` base->x and x->base demonstrations for every x, on distinct aligned ids."""
    by_lang: dict[str, dict[str, Segment]] = {}
    for seg in segments:
        same = by_lang.setdefault(seg.lang, {}).get(seg.id)
        if same is not None:
            raise DataError(f"Corpus sources {same.source!r} and {seg.source!r} both give segment {seg.id!r} in "
                            f"{seg.lang}; set `id_prefix:` on one of them so their ids differ.")
        by_lang[seg.lang][seg.id] = seg
    if base not in by_lang:
        raise DataError(f"The demonstration corpus has no {base} text; add a `{base}` source to `demos.corpus`.")
    rows = []
    for lang in languages:
        shared = sorted(set(by_lang.get(lang, {})) & set(by_lang[base]))
        if len(shared) < 2 * per_direction:
            raise DataError(f"Demonstrations {base}<->{lang}: {len(shared)} aligned {base}/{lang} segments, need "
                            f"{2 * per_direction} (per_direction={per_direction} each way, no segment reused); "
                            f"lower `demos.per_direction` or add aligned text.")
        ids = rng.sample(shared, 2 * per_direction)
        for k, seg_id in enumerate(ids):
            src, tgt = (base, lang) if k < per_direction else (lang, base)
            source_seg, target_seg = by_lang[src][seg_id], by_lang[tgt][seg_id]
            rows.append(Row(
                id=f"translate-{src}-{tgt}-{seg_id}", lang=tgt, source=source_seg.source,
                messages=[{"role": "user", "content": f"{instruction(src, tgt)}\n\n{source_seg.text}"},
                          {"role": "assistant", "content": target_seg.text}],
                meta={"task": "translation", "src": src, "tgt": tgt, "segment": seg_id}))
    return rows


def mix_in(instructions: list[Row], demos: list[Row], ratio: float | None, rng: random.Random) -> list[Row]:
    """Demos to add so that len(demos) = ratio x len(instructions), spread evenly over directions."""
    if ratio is None:
        return demos
    want = round(ratio * len(instructions))
    if want > len(demos):
        raise DataError(f"demos.ratio={ratio} asks for {want} demonstrations but {len(demos)} were built; raise "
                        f"`demos.per_direction` or lower `demos.ratio`.")
    groups: dict[tuple, list[Row]] = {}
    for row in demos:
        groups.setdefault((row.meta["src"], row.meta["tgt"]), []).append(row)
    keys = sorted(groups)
    picked = []
    for k, key in enumerate(keys):
        share = want // len(keys) + (1 if k < want % len(keys) else 0)
        picked += rng.sample(groups[key], share)
    return picked

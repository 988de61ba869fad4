"""Training examples from a mix: a per-language held-out split, encoding, and a deterministic batch order
that depends only on (seed, step), so a resumed run sees exactly the batches the crashed one would have."""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from core.errors import DataError
from trainer.encode import IGNORE, Encoded, encode


@dataclass
class Example:
    lang: str
    enc: Encoded


def read_mix(path: Path, languages: list[str] | None = None) -> list[dict]:
    """Rows of a mix.jsonl (optionally only some languages)."""
    if not path.is_file():
        raise DataError(f"Training data {path} not found; build a mix with `python -m trainer data RECIPE --out DIR` "
                        f"and set `data:` to DIR or DIR/mix.jsonl.")
    rows = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{i}: not a JSON line ({exc.msg}); rebuild the mix.") from exc
    bad = next((i for i, r in enumerate(rows, 1) if not {"id", "lang", "messages"} <= set(r)), None)
    if bad:
        raise DataError(f"{path}: row {bad} lacks id, lang or messages; build the mix with `python -m trainer data`.")
    if languages:
        rows = [r for r in rows if r["lang"] in languages]
    if not rows:
        raise DataError(f"{path} has no rows" + (f" in {', '.join(languages)}" if languages else "") + ".")
    return rows


def split(rows: list[dict], eval_fraction: float, eval_max_rows: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out `eval_fraction` of each language (at most `eval_max_rows` in all), chosen by a hash of the id
    so the split does not move when rows are added."""
    def rank(r):
        return hashlib.sha256(f"{seed}:{r['lang']}:{r['id']}".encode()).hexdigest()

    by_lang = defaultdict(list)
    for r in rows:
        by_lang[r["lang"]].append(r)
    per_lang = max(1, eval_max_rows // max(len(by_lang), 1))
    train, held = [], []
    for lang_rows in by_lang.values():
        n = min(int(len(lang_rows) * eval_fraction), per_lang) if eval_fraction > 0 else 0
        ordered = sorted(lang_rows, key=rank)
        held += ordered[:n]
        train += ordered[n:]
    return train, held


def encode_rows(rows: list[dict], tokenizer, fmt, max_length: int) -> tuple[list[Example], int]:
    """Encoded examples, and how many rows had no trainable token left after truncation (dropped)."""
    out, dropped = [], 0
    for r in rows:
        enc = encode(tokenizer, fmt, r["messages"], max_length)
        if enc.trained_tokens == 0:
            dropped += 1
            continue
        out.append(Example(r["lang"], enc))
    return out, dropped


GROUP = 32  # batches per length-sorted chunk when grouping by length


@functools.lru_cache(maxsize=4)
def order(lengths: tuple[int, ...], seed: int, epoch: int, per_batch: int, group: bool) -> tuple[int, ...]:
    """The example order of one epoch: full (global) batches of `per_batch` first, the remainder last.

    With `group`, each chunk of GROUP batches is sorted by length before it is cut into batches, and the
    batches are shuffled: batches hold examples of similar length, so little compute goes to padding.
    """
    rng = random.Random(f"{seed}:{epoch}")
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    if not group:
        return tuple(idx)
    full = len(idx) - len(idx) % per_batch
    batches = []
    for start in range(0, full, per_batch * GROUP):
        chunk = sorted(idx[start:min(start + per_batch * GROUP, full)], key=lambda i: -lengths[i])
        batches += [chunk[k:k + per_batch] for k in range(0, len(chunk), per_batch)]
    rng.shuffle(batches)
    return tuple(i for b in batches for i in b) + tuple(idx[full:])


def micro_batch(examples: list[Example], micro_step: int, batch_size: int, seed: int, world: int = 1,
                rank: int = 0, group_by_length: bool = False) -> list[Example]:
    """The examples of this process's micro-batch number `micro_step` (all processes share one order).

    Each epoch holds len(examples) // (batch_size * world) global batches (the shuffled remainder waits for
    a later epoch), so batches never straddle two epochs' orders.
    """
    per_step = batch_size * world
    lengths = tuple(len(ex.enc.input_ids) for ex in examples)
    per_epoch = max(1, len(examples) // per_step)
    epoch, b = divmod(micro_step, per_epoch)
    idx = order(lengths, seed, epoch, per_step, group_by_length)
    start = b * per_step + rank * batch_size
    return [examples[idx[(start + k) % len(idx)]] for k in range(batch_size)]


def pack(batch: list[Example], max_length: int) -> list[list[Example]]:
    """Rows of at most `max_length` tokens holding whole examples (first fit, longest first): no example is cut,
    so no token is lost; a batch never needs more rows than it has examples."""
    rows: list[list[Example]] = []
    room: list[int] = []
    for ex in sorted(batch, key=lambda e: -len(e.enc.input_ids)):
        n = len(ex.enc.input_ids)
        if n > max_length:
            raise ValueError(f"an example of {n} tokens does not fit a packed row of max_length={max_length}")
        k = next((k for k, free in enumerate(room) if free >= n), None)
        if k is None:
            rows.append([])
            room.append(max_length)
            k = len(rows) - 1
        rows[k].append(ex)
        room[k] -= n
    return rows


def collate(batch: list[Example], pad_id: int, packing: bool = False, max_length: int = 0):
    """Tensors for a batch: right-padded (labels IGNORE on padding), or packed.

    Packed rows carry `position_ids` that restart at 0 for each example and no attention mask: transformers
    then attends block-diagonally (each example sees only itself), and the padding at a row's end is a
    segment of its own that no example sees.
    """
    import torch

    if not packing:
        width = max(len(ex.enc.input_ids) for ex in batch)
        ids = [ex.enc.input_ids + [pad_id] * (width - len(ex.enc.input_ids)) for ex in batch]
        labels = [ex.enc.labels + [IGNORE] * (width - len(ex.enc.labels)) for ex in batch]
        mask = [[1] * len(ex.enc.input_ids) + [0] * (width - len(ex.enc.input_ids)) for ex in batch]
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
                "attention_mask": torch.tensor(mask)}
    rows = pack(batch, max_length)
    width = max(sum(len(ex.enc.input_ids) for ex in row) for row in rows)
    ids, labels, positions = [], [], []
    for row in rows:
        r_ids, r_labels, r_pos = [], [], []
        for ex in row:
            r_ids += ex.enc.input_ids
            # An example's first token is no target: unpacked, nothing predicts it either.
            r_labels += [IGNORE, *ex.enc.labels[1:]]
            r_pos += range(len(ex.enc.input_ids))
        pad = width - len(r_ids)
        ids.append(r_ids + [pad_id] * pad)
        labels.append(r_labels + [IGNORE] * pad)
        positions.append(r_pos + list(range(pad)))
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "position_ids": torch.tensor(positions)}


def real_tokens(batch: list[Example]) -> int:
    """The batch's tokens, padding excluded (what throughput counts)."""
    return sum(len(ex.enc.input_ids) for ex in batch)

"""Load a recipe's sources into the common schema: conversations as `Row`s, aligned text as `Segment`s.

A local `path` (resolved under --data-dir) wins when the file exists; otherwise the `hub` dataset is loaded
with `datasets`. Malformed records go to the `BadRows` ledger with file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import DataError, UnknownLanguageError
from core.languages import get_language
from core.readers import Unparsable, file_sha256, read_hub, read_json_document, read_local
from trainer.data import formats
from trainer.data.recipe import Source
from trainer.data.schema import BadRowError, BadRows, Row, Segment, conversation_problem


@dataclass
class Loaded:
    """Everything read from the sources, plus where it came from (for the card)."""

    rows: list[Row] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)


@dataclass
class _Input:
    name: str
    lang: str | None
    path: Path | None
    hub_config: str | None
    answers: Path | None


def expand(name: str, src: Source, data_dir: Path) -> list[_Input]:
    """One input per language for `langs:` sources, else one."""
    langs = src.langs or [src.lang]
    out = []
    for lang in langs:
        def fill(s: str | None, lang=lang) -> str | None:
            return s.replace("{lang}", lang) if s and lang else s

        path = _resolve(data_dir, fill(src.path)) if src.path else None
        answers = _resolve(data_dir, fill(src.answers)) if src.answers else None
        out.append(_Input(name if len(langs) == 1 else f"{name}/{lang}", lang, path, fill(src.config), answers))
    return out


def _resolve(data_dir: Path, path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else data_dir / p


def load_sources(sources: dict[str, Source], data_dir: Path, ledger: BadRows, progress=None) -> Loaded:
    """Read every source; `progress(name)` is called per input (the CLI advances a bar)."""
    loaded = Loaded()
    for name, src in sources.items():
        for inp in expand(name, src, data_dir):
            if progress:
                progress(inp.name)
            records, origin = _records(inp, src)
            loaded.inputs.append({"source": inp.name, "format": src.format, "lang": inp.lang, **origin})
            if src.format in ("text", "squad"):
                loaded.segments += _segments(inp, src, records, ledger)
            else:
                loaded.rows += _rows(inp, src, records, ledger)
            ledger.check(inp.name)
    return loaded


def _records(inp: _Input, src: Source) -> tuple[Iterator[tuple[str, Any]], dict]:
    if inp.path is not None and inp.path.is_file():
        origin = {"path": str(inp.path), "sha256": file_sha256(inp.path)}
        if src.format == "squad":
            doc = read_json_document(inp.path)
            if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
                raise DataError(f"Source {inp.name!r}: {inp.path} is not a SQuAD-style file "
                                f"({{\"data\": [{{\"paragraphs\": ...}}]}}); check `format:`.")
            return iter([(f"{inp.path.name} paragraph {i}", p)
                         for i, p in enumerate(formats.squad_paragraphs(doc))]), origin
        return read_local(inp.path), origin
    if src.hub:
        records, fingerprint = read_hub(src.hub, inp.hub_config, src.split, src.revision)
        return records, {"hub": src.hub, "config": inp.hub_config, "split": src.split, "revision": src.revision,
                         "fingerprint": fingerprint}
    raise DataError(f"Source {inp.name!r}: file {inp.path} not found. Pass --data-dir with the directory that "
                    f"holds it, fix `path:`, or add `hub:` to load the dataset from the Hugging Face hub.")


def _row_lang(inp: _Input, src: Source, record: Any) -> str:
    if src.lang_field:
        value = record.get(src.lang_field) if isinstance(record, dict) else None
        if not value:
            raise BadRowError(f"missing language field {src.lang_field!r}")
        try:
            return get_language(str(value)).code
        except UnknownLanguageError as exc:
            raise BadRowError(f"unknown language {value!r}") from exc
    return inp.lang


def _row_id(src: Source, inp: _Input, record: Any, index: int) -> str:
    """The record's id field, else its position. Positions are namespaced by source ("lima-17") unless the
    recipe sets `id_prefix`, which declares row-aligned files (Alpaca and its translations)."""
    id_field = src.id_field or formats.DEFAULT_ID_FIELD.get(src.format)
    if id_field and isinstance(record, dict) and record.get(id_field) not in (None, ""):
        return f"{src.id_prefix}{record[id_field]}"
    if src.id_field:
        raise BadRowError(f"missing id field {src.id_field!r}")
    return f"{src.id_prefix or inp.name.split('/')[0] + '-'}{index}"


def _rows(inp: _Input, src: Source, records, ledger: BadRows) -> list[Row]:
    answers = None
    if src.format == "mt_bench" and inp.answers is not None:
        if not inp.answers.is_file():
            raise DataError(f"Source {inp.name!r}: answers file {inp.answers} not found.")
        answers = formats.mt_bench_answers(read_local(inp.answers))
    records = list(records)
    per_record = src.format != "oasst"
    if not per_record:  # messages are counted and checked here; threads are built from the good ones
        for where, rec in records:
            ledger.count(inp.name)
            if isinstance(rec, Unparsable):
                ledger.add(inp.name, where, rec.reason)
            elif not isinstance(rec, dict) or "message_id" not in rec:
                ledger.add(inp.name, where, "not an OpenAssistant message (no message_id)")
        records = formats.oasst_threads(records)
    convert = formats.PER_RECORD.get(src.format, formats.messages)
    rows, seen = [], set()
    for index, (where, record) in enumerate(records):
        if src.limit is not None and index >= src.limit:
            break
        if per_record:
            ledger.count(inp.name)
        try:
            if isinstance(record, Unparsable):
                raise BadRowError(record.reason)
            msgs, meta = convert(record, answers) if src.format == "mt_bench" else convert(record)
            problem = conversation_problem(msgs)
            if problem:
                raise BadRowError(problem)
            lang, row_id = _row_lang(inp, src, record), _row_id(src, inp, record, index)
            if (lang, row_id) in seen:
                raise BadRowError(f"duplicate id {row_id!r} for language {lang}")
        except BadRowError as exc:
            ledger.add(inp.name, where, str(exc))
            continue
        seen.add((lang, row_id))
        meta = {k: v for k, v in meta.items() if v not in (None, "")}
        rows.append(Row(id=row_id, lang=lang, messages=msgs, source=inp.name, meta={**meta, "where": where}))
    return rows


def _segments(inp: _Input, src: Source, records, ledger: BadRows) -> list[Segment]:
    out = []
    for index, (where, record) in enumerate(records):
        if src.limit is not None and index >= src.limit:
            break
        ledger.count(inp.name)
        try:
            if isinstance(record, Unparsable):
                raise BadRowError(record.reason)
            if isinstance(record, tuple):  # squad: (paragraph id, context)
                seg_id, text = record
            elif isinstance(record, str):
                seg_id, text = _row_id(src, inp, None, index), record
            elif isinstance(record, dict) and src.text_field and isinstance(record.get(src.text_field), str):
                seg_id, text = _row_id(src, inp, record, index), record[src.text_field]
            else:
                raise BadRowError(f"no text (set `text_field:`; got {type(record).__name__})")
        except BadRowError as exc:  # e.g. a record without the recipe's `id_field`
            ledger.add(inp.name, where, str(exc))
            continue
        if not text.strip():
            ledger.add(inp.name, where, "empty text")
            continue
        out.append(Segment(id=seg_id, lang=inp.lang, text=text.strip(), source=inp.name))
    return out

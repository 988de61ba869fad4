"""Benchmark rows -> Items: from the local copy under --data-dir when the task has one, else from the hub
through `datasets`; a row that lacks a field the task reads is one clear error with its file:line."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.errors import DataError
from core.readers import Unparsable, file_sha256, read_hub
from eval.tasks import Item, Task


def _sha256(path: Path) -> str:
    """A file's sha256; for a directory of files (one per subject), the sha256 of their names and hashes."""
    if path.is_file():
        return file_sha256(path)
    listing = "".join(f"{p.name} {file_sha256(p)}\n" for p in sorted(path.iterdir()) if p.is_file())
    return hashlib.sha256(listing.encode()).hexdigest()


def load_items(task: Task, lang: str, data_dir: Path | None = None, limit: int | None = None
               ) -> tuple[list[Item], dict]:
    """The first `limit` items of `task` in `lang` (all when None), and where they came from."""
    local = task.local(data_dir, lang) if data_dir is not None and task.local else None
    missing = None
    if local is not None and not local[0].exists():
        missing = local[0]
        if not task.hub_of(lang)[0]:
            raise DataError(f"{missing} not found: {task.name} reads its {lang} rows from there under --data-dir "
                            f"({data_dir}); point --data-dir at the directory that holds {task.name}'s files.")
        local = None  # no local copy of this language: the hub has one
    if local is not None:
        path, rows = local
        source = {"path": str(path), "sha256": _sha256(path), "split": task.split, "note": task.local_note}
    else:
        hub, config, split = task.hub_of(lang)
        if not hub:
            raise DataError(f"{task.name} is not on the Hugging Face hub: pass --data-dir, the directory holding "
                            f"its files ({task.local_note or 'see python -m eval tasks'}).")
        if missing:
            hint = f"put it at {missing} (not found under --data-dir)"
        elif task.local:
            hint = f"pass --data-dir, the directory holding {task.name}'s files"
        else:
            hint = f"load it where the hub is reachable ({task.name} has no local reader yet)"
        rows, fingerprint = read_hub(hub, config, split, None, hint, class_names=task.class_names)
        source = {"hub": hub, "config": config, "split": split, "fingerprint": fingerprint}
    items, seen, skipped = [], set(), 0
    for n, (where, row) in enumerate(rows):
        if isinstance(row, Unparsable):
            raise DataError(f"{where}: {row.reason}")
        missing = [f for f in task.fields if row.get(f) is None]
        if missing:
            raise DataError(f"{where}: a {task.name} row needs the field(s) {', '.join(missing)} (it has "
                            f"{', '.join(row) or 'none'}); fix the file or use the original dataset.")
        id = str(row[task.id_field]) if task.id_field and row.get(task.id_field) is not None else str(n)
        try:
            item = task.to_item(row, lang, id)
        except (KeyError, ValueError, IndexError) as exc:
            raise DataError(f"{where}: this {task.name} row cannot be read ({type(exc).__name__}: {exc}).") from exc
        if item is None:
            skipped += 1  # rows lm-eval filters out (e.g. empty PAWS-X sentences)
            continue
        if item.id in seen:
            raise DataError(f"{where}: id {item.id!r} appears twice in {task.name}/{lang}; ids must be unique "
                            f"so a resumed run knows what it has scored.")
        seen.add(item.id)
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    source["skipped"] = skipped
    return items, source

"""The text a quantization ladder reads: FLORES-200 devtest sentences to measure on (line i is the same sentence
in every language, so languages are comparable), and calibration text for an importance matrix from the FLORES
dev sentences that SIB-200 carries (never a devtest sentence, so calibration and measurement stay apart)."""

from __future__ import annotations

import functools
from pathlib import Path

from core.errors import ConfigError
from core.languages import from_flores, get_language
from core.readers import read_local

FLORES = "flores200_devtest/devtest"
SIB200 = "sib200"


@functools.cache
def flores_files(data_dir: Path) -> dict[str, Path]:
    """Our language code -> its FLORES devtest file, for every file under `data_dir`."""
    folder = Path(data_dir) / FLORES
    if not folder.is_dir():
        raise ConfigError(f"No FLORES-200 devtest under {folder}; pass --data-dir pointing at the shared data folder "
                          f"(the one holding flores200_devtest/).")
    return {from_flores(p.name.split(".")[0]): p for p in sorted(folder.glob("*.devtest.txt"))}


def resolve_langs(langs: list[str], data_dir: Path) -> list[str]:
    """Our codes for `langs` (codes, FLORES codes or names); a language without FLORES text is refused."""
    files = flores_files(data_dir)
    codes = [get_language(lang).code for lang in langs]
    missing = [lang for lang, code in zip(langs, codes) if code not in files]
    if missing:
        raise ConfigError(f"No FLORES-200 text for {', '.join(map(repr, missing))} in {Path(data_dir) / FLORES}; "
                          f"languages with text: {', '.join(sorted(files))}.")
    return list(dict.fromkeys(codes))


def sentences(lang: str, data_dir: Path, n: int) -> list[str]:
    """The first `n` devtest sentences in `lang` (the same n sentences in every language)."""
    lines = flores_files(data_dir)[lang].read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines[:n]]


def calibration_text(langs: list[str], data_dir: Path) -> str:
    """FLORES dev sentences (from SIB-200's files, minus any devtest sentence) in `langs`, interleaved sentence
    by sentence so a calibration cut short still covers every language."""
    per_lang = []
    for lang in langs:
        flores_code = flores_files(data_dir)[lang].name.split(".")[0]
        folder = Path(data_dir) / SIB200 / flores_code
        if not folder.is_dir():
            raise ConfigError(f"No calibration text for {lang}: {folder} is missing. Calibrate on other languages "
                              f"or give a text file (--calib-text).")
        devtest = set(flores_files(data_dir)[lang].read_text(encoding="utf-8").splitlines())
        rows = [row for split in ("train", "dev", "test") for _, row in read_local(folder / f"{split}.tsv")
                if isinstance(row, dict)]  # a broken line (core.readers.Unparsable) is no calibration text
        rows.sort(key=lambda r: int(r["index_id"]))
        per_lang.append([r["text"].strip() for r in rows if r["text"] not in devtest])
    lines = [text for group in zip(*per_lang) for text in group]
    return "\n".join(lines) + "\n"

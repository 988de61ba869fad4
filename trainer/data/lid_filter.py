"""Keep (or flag) rows whose assistant text fastText lid.176 identifies as the declared language with enough
confidence, as the seed recipes do with fastText / OpenLID at >= 0.8."""

from __future__ import annotations

from collections import Counter

from core.languages import UNDETERMINED, detect_batch, get_language
from trainer.data.schema import Row


def lid_filter(rows: list[Row], min_confidence: float = 0.8, action: str = "drop",
               min_letters: int = 10) -> tuple[list[Row], dict]:
    """Return (kept rows, report per language).

    Not judged, kept and counted as `unchecked`: languages lid.176 cannot identify, answers with fewer than
    `min_letters` letters ("4", "Positive.": fastText is unreliable on them) and answers with no language
    at all (code, numbers).
    """
    checkable = [r for r in rows if get_language(r.lang).lid176 and _letters(r.text("assistant")) >= min_letters]
    found = dict(zip((id(r) for r in checkable), detect_batch([r.text("assistant") for r in checkable])))
    found = {k: v for k, v in found.items() if v[0] != UNDETERMINED}
    report: dict[str, dict] = {}
    kept = []
    for row in rows:
        stats = report.setdefault(row.lang, {"rows": 0, "kept": 0, "failed": 0, "unchecked": 0, "found": Counter()})
        stats["rows"] += 1
        if id(row) not in found:
            stats["unchecked"] += 1
            stats["kept"] += 1
            kept.append(row)
            continue
        code, conf = found[id(row)]
        ok = code == row.lang and conf >= min_confidence
        if not ok:
            stats["failed"] += 1
            stats["found"][code if code != row.lang else f"{code} (conf < {min_confidence})"] += 1
        if ok or action == "flag":
            if not ok:
                row.meta["lid"] = {"found": code, "confidence": round(conf, 3)}
            stats["kept"] += 1
            kept.append(row)
    for stats in report.values():
        stats["found"] = dict(stats["found"].most_common(5))  # the most frequent wrong (or low-confidence) labels
    return kept, report


def _letters(text: str) -> int:
    return sum(c.isalpha() for c in text)

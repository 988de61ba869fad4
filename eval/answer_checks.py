"""The checks every generated answer gets, wherever agreement is shown: health flags (echo, loop, empty,
truncated), the language of the answer's own text (the echoed prompt removed), and the LCB line/word scoring of
that text. One definition for the generate card, `eval report`, `eval confusion`, the app and the experiments."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from core.answer_health import FLAGS, Health, check_answer
from core.confusion import NOT_IDENTIFIABLE, Confusion, score
from core.languages import detect_batch, get_language, wilson


@dataclass(frozen=True)
class CheckedAnswer:
    """One record's first answer, checked."""

    lang: str
    id: str
    prompt: str
    answer: str
    health: Health
    detected: tuple[str, float]  # language of the answer's own text, and lid.176's confidence
    confusion: Confusion

    @property
    def agrees(self) -> bool:
        return self.detected[0] == self.lang


def check_records(records: Iterable[dict], max_tokens: int | None = None,
                  words: frozenset[str] | None = None) -> list[CheckedAnswer]:
    """Check the first answer of each `eval generate` record (turns, answers, tokens)."""
    records = list(records)
    health = [check_answer(r["turns"][0], r["answers"][0], (r.get("tokens") or [None])[0], max_tokens)
              for r in records]
    detected = detect_batch([h.own_text for h in health])
    return [CheckedAnswer(r["lang"], str(r["id"]), r["turns"][0], r["answers"][0], h, tuple(d),
                          score(h.own_text, r["lang"], words))
            for r, h, d in zip(records, health, detected)]


def _rate(hits: int, n: int) -> dict:
    r = wilson(hits, n)
    return {"n": n, "agreement": round(r.rate, 4) if n else None,
            "ci95": [round(r.low, 4), round(r.high, 4)] if n else None}


def language_summary(checked: list[CheckedAnswer], lang: str) -> dict:
    """One language's row: agreement over all answers and over healthy ones (95% Wilson intervals), what it
    answered in, each health flag's share, and the LCB line/word pass rates. A language lid.176 cannot identify
    gets no agreement, and a note saying so."""
    from eval.confusion import cell

    mine = [c for c in checked if c.lang == lang]
    healthy = [c for c in mine if c.health.healthy]
    out = _rate(sum(c.agrees for c in mine), len(mine))
    out["healthy"] = _rate(sum(c.agrees for c in healthy), len(healthy))
    if not get_language(lang).lid176:
        out |= {"agreement": None, "ci95": None, "healthy": {"n": len(healthy), "agreement": None, "ci95": None},
                "note": NOT_IDENTIFIABLE}
    out["answered_in"] = dict(Counter(c.detected[0] for c in mine).most_common())
    out["flags"] = {f: round(sum(f in c.health.flags for c in mine) / len(mine), 4) if mine else 0.0
                    for f in FLAGS}
    out["confusion"] = {k: v for k, v in cell([c.confusion for c in mine], lang).items() if k != "n"}
    return out

"""Reading a judge's verdict out of its reply, per verdict format, and never guessing: a reply with no verdict, two
different verdicts or a value out of range is `Parsed(None, problem)`, counted and listed by the reports.

Only the judge's own words are read: blocks the judge echoes between the prompt's answer delimiters are cut
out first, and `neutralize` defuses verdict tokens inside the candidates' answers before they are sent."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Parsed:
    """A verdict (`value`), or None and the reason it could not be read."""

    value: object = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None


_NUMBER = r"(-?\d+(?:[.,]\d+)?)"
_AB = re.compile(r"\[\[\s*([A-Da-d])\s*\]\]")
_RATING = re.compile(rf"\[\[\s*{_NUMBER}\s*(?:/\s*10\s*)?\]\]")
_SCORE = {k: re.compile(rf"<score{k}>\s*{_NUMBER}\s*(?:/\s*10\s*)?</score{k}>", re.I) for k in (1, 2)}


def neutralize(answer: str) -> str:
    """A candidate's answer with the tokens a verdict is made of broken up ("[[A]]" -> "[ [A] ]", "<score1>" ->
    "< score1>", a JSON "score" key -> 'score'), so an answer cannot hand the judge, or the parser, a verdict."""
    text = answer.replace("[[", "[ [").replace("]]", "] ]")
    text = re.sub(r"<(\s*/?\s*score)", r"< \1", text, flags=re.I)
    return re.sub(r'"(\s*score\s*)"', r"'\1'", text, flags=re.I)


def judge_part(reply: str, delimiters: list[tuple[str, str]] = ()) -> str:
    """The reply without any block the judge copied from the prompt between a (start, end) answer delimiter."""
    for start, end in delimiters:
        reply = re.sub(re.escape(start) + r".*?" + re.escape(end), " ", reply, flags=re.S)
    return reply


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _one(values: list, what: str, form: str = "") -> Parsed:
    distinct = list(dict.fromkeys(values))
    if not distinct:
        return Parsed(None, f"no {what}{form}")
    if len(distinct) > 1:
        return Parsed(None, f"{len(distinct)} different {what}s: {', '.join(map(str, distinct))}")
    return Parsed(distinct[0])


def parse_ab(reply: str, allowed: str = "ABC", delimiters=()) -> Parsed:
    """MT-Bench pairwise: "[[A]]", "[[B]]", "[[C]]" (tie) and, where allowed, MT-Bench-X's "[[D]]" (both bad)."""
    found = [m.upper() for m in _AB.findall(judge_part(reply, delimiters))]
    out = _one(found, "verdict", " (" + ", ".join(f"[[{x}]]" for x in allowed) + ")")
    if out.ok and out.value not in allowed:
        return Parsed(None, f"verdict [[{out.value}]] is not one of {', '.join(allowed)}")
    return out


def parse_rating(reply: str, low: float = 1, high: float = 10, delimiters=()) -> Parsed:
    """MT-Bench single: "Rating: [[7]]", a number from `low` to `high`."""
    out = _one([_number(x) for x in _RATING.findall(judge_part(reply, delimiters))], "rating", " [[n]]")
    if out.ok and not low <= out.value <= high:
        return Parsed(None, f"rating {out.value:g} is outside {low:g}-{high:g}")
    return out


def parse_pair_scores(reply: str, low: float = 0, high: float = 10, delimiters=()) -> Parsed:
    """Vicuna / Bactrian-X: "<score1>8</score1>" and "<score2>6</score2>" -> (8.0, 6.0)."""
    text = judge_part(reply, delimiters)
    scores = []
    for k in (1, 2):
        one = _one([_number(x) for x in _SCORE[k].findall(text)], f"<score{k}>")
        if not one.ok:
            return one
        if not low <= one.value <= high:
            return Parsed(None, f"<score{k}> {one.value:g} is outside {low:g}-{high:g}")
        scores.append(one.value)
    return Parsed(tuple(scores))


def _json_objects(text: str):
    """Every JSON object in `text` (fenced, inline or the whole reply), last first."""
    decoder, found = json.JSONDecoder(), []
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(obj, dict):
            found.append(obj)
    return reversed(found)


def parse_likert(reply: str, low: int = 1, high: int = 6, delimiters=()) -> Parsed:
    """Polyglots' helpfulness: a JSON object {"reasoning": ..., "score": n}, n an integer from `low` to `high`;
    the value is (score, reasoning)."""
    objects = [o for o in _json_objects(judge_part(reply, delimiters)) if "score" in o]
    if not objects:
        return Parsed(None, 'no JSON object with a "score"')
    scores = []
    for obj in objects:
        try:
            scores.append(_number(str(obj["score"]).strip()))
        except ValueError:
            return Parsed(None, f'"score" {str(obj["score"])[:40]!r} is not a number')
    out = _one(scores, '"score"')
    if not out.ok:
        return out
    if not math.isfinite(out.value) or out.value != int(out.value) or not low <= out.value <= high:
        return Parsed(None, f'"score" {out.value:g} is not an integer from {low} to {high}')
    return Parsed((int(out.value), str(objects[0].get("reasoning") or "")))


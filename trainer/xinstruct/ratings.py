"""The evaluator's synthetic rating set (X-Instruction's refinement stage) and the prompts of the three models.

From held-out seed pairs (English instruction, target-language response): the pair itself is rated 2, the
response with parts deleted or duplicated (or the previous cross-lingual model's answer) is rated 1, and the
response of another pair is rated 0."""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass

REVERSE_PROMPT = ("Write the English instruction that the following text answers or carries out. Reply with the "
                  "instruction only.\n\nText:\n{text}")
RATE_PROMPT = ("Rate the response to the instruction.\n2 = a complete, fitting response\n1 = fitting, but with "
               "parts missing or repeated\n0 = a response to a different instruction\n\nInstruction:\n{instruction}"
               "\n\nResponse:\n{response}\n\nRating (0, 1 or 2):")
LABELS = ("0", "1", "2")
# A piece runs to a sentence end (CJK or Latin; a "." before a digit is a decimal point) and keeps the
# whitespace after it, so that pieces join back to the text and none is whitespace alone.
_PIECE = re.compile(r".*?(?:[。！？；!?;\n]|\.(?!\d)|$)\s*", re.S)


@dataclass(frozen=True)
class Rating:
    """One evaluator example: a pair id, the instruction, a response and its rating with how it was made."""

    pair: str
    instruction: str
    response: str
    rating: int
    kind: str  # original | deleted | duplicated | model | mismatched

    def to_dict(self) -> dict:
        return asdict(self)


def pieces(text: str) -> list[str]:
    """`text` split after each sentence end (the pieces join back to `text`)."""
    return [m.group() for m in _PIECE.finditer(text) if m.group()]


def _visible(text: str) -> str:
    return "".join(text.split())


def _span(text: str, rng: random.Random, repeat: bool) -> str:
    n = max(1, round(len(text) * rng.uniform(0.3, 0.6)))
    start = rng.randint(0, len(text) - n)
    return text[:start + n] + text[start:start + n] + text[start + n:] if repeat else text[:start] + text[start + n:]


def perturb(text: str, rng: random.Random) -> tuple[str, str]:
    """(a broken copy of `text`, "deleted" | "duplicated"): sentences (or, in one sentence, a span of 30-60% of
    its characters) left out or repeated. Never the same text up to whitespace, never empty."""
    parts = pieces(text)
    real = [i for i, p in enumerate(parts) if p.strip()]
    if len(_visible(text)) < 2:
        return text + text, "duplicated"
    if rng.random() < 0.5:
        for _ in range(10):  # a span of whitespace alone changes nothing visible: draw again
            if len(real) >= 2:
                drop = set(rng.sample(real, rng.randint(1, max(1, len(real) // 2))))
                out = "".join(p for i, p in enumerate(parts) if i not in drop)
            else:
                out = _span(text, rng, repeat=False)
            if _visible(out) and _visible(out) != _visible(text):
                return out, "deleted"
    for _ in range(10):
        if len(real) >= 2:
            i = rng.choice(real)
            out = "".join(parts[:i + 1] + [parts[i]] + parts[i + 1:])
        else:
            out = _span(text, rng, repeat=True)
        if _visible(out) != _visible(text):
            return out, "duplicated"
    return text + text, "duplicated"


def synthesize(pairs: list[dict], rng: random.Random, model_outputs: dict[str, str] | None = None,
               model_share: float = 0.5) -> list[Rating]:
    """Three ratings per pair ({id, instruction, response}): 2 for the pair, 1 for a perturbed response or (with
    probability `model_share`, where `model_outputs` has the pair's id) the model's own answer, 0 for another
    pair's response (a shuffled cycle, so every response is used once as a mismatch)."""
    if len(pairs) < 2:
        raise ValueError("A rating set needs at least 2 held-out pairs (a mismatch comes from another pair).")
    order = list(range(len(pairs)))
    rng.shuffle(order)
    other = {order[k]: order[(k + 1) % len(order)] for k in range(len(order))}  # a derangement
    out = []
    for i, p in enumerate(pairs):
        out.append(Rating(p["id"], p["instruction"], p["response"], 2, "original"))
        answer = (model_outputs or {}).get(p["id"], "").strip()
        if answer and answer != p["response"] and rng.random() < model_share:
            out.append(Rating(p["id"], p["instruction"], answer, 1, "model"))
        else:
            broken, kind = perturb(p["response"], rng)
            out.append(Rating(p["id"], p["instruction"], broken, 1, kind))
        wrong = pairs[other[i]]["response"]
        if wrong != p["response"]:
            out.append(Rating(p["id"], p["instruction"], wrong, 0, "mismatched"))
    return out


def rate_messages(instruction: str, response: str) -> list[dict]:
    """The evaluator's prompt for one (instruction, response)."""
    return [{"role": "user", "content": RATE_PROMPT.format(instruction=instruction, response=response)}]


def reverse_messages(text: str) -> list[dict]:
    """The reverse model's prompt: target-language text in, its English instruction out."""
    return [{"role": "user", "content": REVERSE_PROMPT.format(text=text)}]

"""Health flags of a generated answer, so that garbage does not pass as an answer in the right language:

- echo: it starts with the prompt, or most of it is copied from the prompt;
- loop: a repeated n-gram (rep-n, Welleck et al. 2020) or a repeated line dominates it;
- empty: no letters at all;
- truncated: it stopped at max_tokens.

`own_text` is the answer without the spans copied from the prompt: language agreement is measured on it, so an
echoed prompt no longer counts as the answer's language."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from core.languages import has_letters

FLAGS = ("echo", "loop", "empty", "truncated")
UNHEALTHY = frozenset({"echo", "loop", "empty"})  # a truncated answer still shows its language
ECHO_NGRAM = 10  # non-space characters: a copied span is one the prompt holds this long or longer
ECHO_SHARE = 0.5  # an answer with this share or more of its characters copied from the prompt is an echo
ECHO_START = 40  # or one that opens with the prompt's first 40 characters (80% of a shorter prompt)
LOOP_WORD_N, LOOP_CHAR_N = 4, 8  # rep-n over words, or over characters in scripts written without spaces
# rep-n at or above this is a loop: none of Command R's 6,586 LCB completions reaches it (their highest: 0.23),
# while a small model's "которая старая, которая старая, ..." does
LOOP_SHARE = 0.3
LOOP_MIN_NGRAMS = 8


@dataclass(frozen=True)
class Health:
    """An answer's flags and its own text (the answer without what it copied from the prompt)."""

    flags: tuple[str, ...]
    own_text: str
    copied: float  # share of the answer's non-space characters copied from the prompt

    @property
    def healthy(self) -> bool:
        return not UNHEALTHY & set(self.flags)


def _copied_mask(prompt: str, answer: str) -> list[bool]:
    """Per non-space character of `answer`: whether it lies in a run of ECHO_NGRAM characters the prompt holds
    (spacing and case ignored)."""
    p = "".join(prompt.split()).casefold()
    a = "".join(answer.split()).casefold()
    grams = {p[i:i + ECHO_NGRAM] for i in range(len(p) - ECHO_NGRAM + 1)}
    mask = [False] * len(a)
    for i in range(len(a) - ECHO_NGRAM + 1):
        if a[i:i + ECHO_NGRAM] in grams:
            mask[i:i + ECHO_NGRAM] = [True] * ECHO_NGRAM
    return mask


def _without_copied(answer: str, mask: list[bool]) -> str:
    """`answer` with its copied characters removed, keeping its line breaks."""
    kept, k = [], 0
    for ch in answer:
        if ch.isspace():
            kept.append(ch)
            continue
        kept.append("" if mask[k] else ch)
        k += 1
    lines = (" ".join(line.split()) for line in "".join(kept).split("\n"))
    return "\n".join(line for line in lines if line).strip()


def rep_n(answer: str) -> float:
    """The share of repeated n-grams, 1 - unique/total (Welleck et al. 2020): over words, or over characters
    where the text has few spaces (Chinese, Japanese, Thai); 0.0 for text too short to tell."""
    words = answer.split()
    chars = "".join(words)
    spaced = len(words) > 1 and len(chars) / len(words) <= 12
    units, n = (words, LOOP_WORD_N) if spaced else (list(chars), LOOP_CHAR_N)
    grams = [tuple(units[i:i + n]) for i in range(len(units) - n + 1)]
    if len(grams) < LOOP_MIN_NGRAMS:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def _line_loop(answer: str) -> bool:
    lines = [" ".join(line.split()) for line in answer.split("\n") if line.strip()]
    if len(lines) < 4:
        return False
    _, top = Counter(lines).most_common(1)[0]
    return top >= 4 and top / len(lines) >= 0.5  # 3 alike can be a form (a metre written out, a refrain)


def check_answer(prompt: str, answer: str, tokens: int | None = None, max_tokens: int | None = None) -> Health:
    """The flags of `answer` to `prompt`; `tokens` and `max_tokens` tell truncation (unknown when None)."""
    answer = answer or ""
    mask = _copied_mask(prompt or "", answer)
    copied = sum(mask) / len(mask) if mask else 0.0
    p_len = len("".join((prompt or "").split()))
    opening = next((i for i, hit in enumerate(mask) if not hit), len(mask))
    starts_with_prompt = p_len >= ECHO_NGRAM and opening >= min(ECHO_START, 0.8 * p_len)
    flags = []
    if starts_with_prompt or copied >= ECHO_SHARE:
        flags.append("echo")
    own = _without_copied(answer, mask)
    # the answer's own part may loop under an echo that dilutes it, or the echo itself may repeat
    if max(rep_n(answer), rep_n(own)) >= LOOP_SHARE or _line_loop(answer):
        flags.append("loop")
    if not has_letters(answer):
        flags.append("empty")
    if tokens is not None and max_tokens and tokens >= max_tokens:
        flags.append("truncated")
    if "echo" in flags and len("".join(own.split())) < ECHO_NGRAM:
        own = ""  # a few letters left between copies ("Ís" of "Íslands") are the echo's, too short to identify
    return Health(tuple(flags), own, round(copied, 4))

"""Probability-weighted verdicts (G-Eval style): what the judge's log-probabilities say at the verdict position.

A judge call asked with `logprobs` returns, for every token it wrote, the top-N alternatives. At the token where
the verdict starts we read the probability of each allowed verdict ("A"/"B"/"C"[/"D"] for pairs, "1".."10" for
ratings, "1".."6" for Likert) and renormalize over them. llama-server reports these from the raw logits, before
any sampler or grammar (`post_sampling_probs` off), so a grammar-constrained judge still shows the model's own
preference among the verdicts. Ratings then become an expected score, Σ p·s; pairs become P(first) − P(second),
mapped to model A's side and averaged over both orders, so a judge that always prefers a position scores 0.

"10" is two tokens ("1", "0") for SmolLM2 and Gemma: the mass on a bare "1" is split by the next token's
probabilities ("0" -> 10, anything else -> 1), read from the reply itself when it went through "1", else from
one more call that prefills the assistant's reply up to "1" (llama-server continues a final assistant message)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable

import numpy as np

from core.errors import ConfigError

MODES = ("pairwise", "single", "likert")
TOP_OPENAI = 20  # OpenAI's largest top_logprobs
TOP_LLAMA = 100  # llama-server has no cap; a constrained judge writes ~7 tokens, so 100 alternatives are cheap
_WHERE = {"pairwise": re.compile(r"\[\[\s*([A-Da-d])\s*\]\]"),  # as eval.verdicts reads each mode
          "single": re.compile(r"\[\[\s*(\d+)\s*(?:/\s*10\s*)?\]\]"),
          "likert": re.compile(r"\"score\"\s*:\s*\"?(\d+)")}

Ask = Callable[[list[dict], dict], Awaitable[list[dict]]]  # (messages, params) -> the reply's token logprobs


def check_mode(mode: str) -> None:
    """Refuse --weighted for a protocol without one verdict per call (pair-scores writes two numbers)."""
    if mode not in MODES:
        raise ConfigError(f"--weighted reads one verdict per call: modes {', '.join(MODES)}; {mode!r} writes two "
                          f"scores, the second conditioned on the first. Judge pairs with --mode pairwise.")


def request_params(constrain: bool) -> dict:
    """The logprobs fields of a weighted judge call (a grammar means llama.cpp, which allows a longer list)."""
    return {"logprobs": True, "top_logprobs": TOP_LLAMA if constrain else TOP_OPENAI}


def classes(mode: str, allowed: str) -> list[str]:
    """The verdicts a distribution is over: the prompt's letters for pairs, the scale's numbers otherwise."""
    return list(allowed) if mode == "pairwise" else [str(s) for s in range(1, 11 if mode == "single" else 7)]


def tokens_of(logprobs) -> list[dict]:
    """An OpenAI chat response's `choices[0].logprobs` as [{"token", "top": [(token, logprob), ...]}]."""
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return []
    return [{"token": t.token, "top": [(x.token, x.logprob) for x in (t.top_logprobs or [])]} for t in content]


def _classify(rest: str, verdicts: list[str], mode: str) -> str | None:
    """Which verdict a token's text (after the prefix the reply had before the verdict) starts, if any: the
    longest verdict not followed by a letter or digit ("A]]" is A, "And" is nothing, "10" is 10)."""
    probe = rest.upper() if mode == "pairwise" else rest
    for v in sorted(verdicts, key=len, reverse=True):
        if probe.startswith(v) and not probe[len(v):len(v) + 1].isalnum():
            return v
    return None


def read_position(top: list[tuple[str, float]], prefix: str, verdicts: list[str], mode: str) -> dict[str, float]:
    """Raw probability of each verdict among one position's alternatives (summed over tokens that spell it)."""
    out: dict[str, float] = defaultdict(float)
    for token, logprob in top:
        if token.startswith(prefix) and (v := _classify(token[len(prefix):], verdicts, mode)):
            out[v] += math.exp(logprob)
    return dict(out)


def ten_share(top: list[tuple[str, float]]) -> float | None:
    """P("0" next | "1"), renormalized over a digit 0 (-> 10) and a non-digit (-> 1, e.g. "]]"); None: no data."""
    ten = sum(math.exp(lp) for t, lp in top if t.startswith("0"))
    # "1.5" or "11" are neither rating: left out of the split
    one = sum(math.exp(lp) for t, lp in top if t and not t[0].isdigit() and t[0] not in ".,")
    return ten / (ten + one) if ten + one > 0 else None


def verdict_index(mode: str, text: str, value) -> int | None:
    """Where in `text` (the reply as its tokens spell it) the verdict that was parsed starts: the last match."""
    want = str(value[0] if isinstance(value, list | tuple) else value).upper()
    if want.endswith(".0"):
        want = want[:-2]
    hits = [m.start(1) for m in _WHERE[mode].finditer(text) if m.group(1).upper() == want]
    return hits[-1] if hits else None


async def distribution(mode: str, allowed: str, messages: list[dict], tokens: list[dict], value,
                       ask: Ask) -> dict:
    """The verdict distribution of one judged reply: {"dist": {verdict: p}, "mass", "missing", "ten_from"} or
    {"problem": why}. `ask` makes the extra call a bare "1" needs when the reply did not go through it."""
    if value is None:
        return {"problem": "no verdict parsed"}
    text = "".join(t["token"] for t in tokens)
    at = verdict_index(mode, text, value)
    if at is None:
        return {"problem": "the verdict is not in the reply's tokens"}
    i, start = 0, 0  # the token that covers the verdict's first character, and where it starts
    while start + len(tokens[i]["token"]) <= at:
        start += len(tokens[i]["token"])
        i += 1
    prefix = text[start:at]  # a token that also spells what comes before the verdict, e.g. "[[A"
    verdicts = classes(mode, allowed)
    raw = read_position(tokens[i]["top"], prefix, verdicts, mode)
    ten_from = None
    if mode == "single" and raw.get("1") and "10" not in raw:  # a bare "1" may be the start of "10"
        if tokens[i]["token"][len(prefix):] == "1" and i + 1 < len(tokens):
            share, ten_from = ten_share(tokens[i + 1]["top"]), "reply"
        else:
            cont = await ask(messages + [{"role": "assistant", "content": text[:at] + "1"}],
                             {"max_tokens": 1, "temperature": 0.0})
            share, ten_from = (ten_share(cont[0]["top"]) if cont else None), "prefill"
        share = share or 0.0
        raw["10"], raw["1"] = raw["1"] * share, raw["1"] * (1 - share)
    mass = sum(raw.values())
    if mass <= 0:
        return {"problem": "no allowed verdict among the top alternatives"}
    return {"dist": {v: round(raw.get(v, 0.0) / mass, 6) for v in verdicts}, "mass": round(mass, 6),
            "missing": [v for v in verdicts if v not in raw], "ten_from": ten_from}


def forced(value) -> dict:
    """A verdict decided without a call (Likert's wrong language) as a point mass."""
    v = str(value[0] if isinstance(value, list | tuple) else value)
    return {"dist": {v: 1.0}, "mass": 1.0, "missing": [], "ten_from": None}


def expected(dist: dict[str, float]) -> float:
    """The expected score Σ p·s of a rating distribution."""
    return sum(p * int(v) for v, p in dist.items())


def first_minus_second(dist: dict[str, float]) -> float:
    """P(A) − P(B) of a pair's distribution: the first-shown answer's margin (ties and both-bad count for neither)."""
    return dist.get("A", 0.0) - dist.get("B", 0.0)


def stats(values: list[float], test: bool = True) -> dict:
    """n, mean, sd and a 95% t-interval; with `test`, a t-test and a sign test of the values against 0."""
    from scipy import stats as st

    x = np.asarray(values, dtype=float)
    out: dict = {"n": len(x), "mean": None, "sd": None, "ci95": None}
    if not len(x):
        return out
    out |= {"mean": round(float(x.mean()), 4), "sd": round(float(x.std(ddof=1)), 4) if len(x) > 1 else None}
    if len(x) > 1:
        half = float(st.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
        out["ci95"] = [round(float(x.mean()) - half, 4), round(float(x.mean()) + half, 4)]
    if test:
        pos, neg = int((x > 1e-9).sum()), int((x < -1e-9).sum())
        p_t = float(st.ttest_1samp(x, 0.0).pvalue) if len(x) > 1 and x.std() > 1e-9 else None  # all equal: no test
        out |= {"t_p": None if p_t is None or math.isnan(p_t) else float(f"{p_t:.3g}"), "positive": pos,
                "negative": neg, "sign_p": float(f"{st.binomtest(pos, pos + neg).pvalue:.3g}") if pos + neg else None}
    return out


def _ok(records: list[dict]) -> list[dict]:
    return [r for r in records if (r.get("weighted") or {}).get("dist")]


def _pair_table(rows: list[tuple]) -> dict:
    """rows: (lang, margin ab, margin ba, P(tie) mean, mass mean) per question and turn."""
    return {"a_minus_b": stats([(ab - ba) / 2 for _, ab, ba, _, _ in rows]),  # model A's side, orders averaged
            "first_minus_second": stats([(ab + ba) / 2 for _, ab, ba, _, _ in rows]),  # the position bias
            "p_tie": round(float(np.mean([t for *_, t, _ in rows])), 4) if rows else None,
            "mass": round(float(np.mean([m for *_, m in rows])), 4) if rows else None}


def summarize_pairs(records: list[dict]) -> dict:
    """Per language and overall: model A's margin P(A wins) − P(B wins) over both orders (t-interval, t and sign
    tests against 0) and the judge's preference for the first position."""
    by_q: dict = defaultdict(dict)
    for r in _ok(records):
        by_q[r["lang"], r["id"], r["turn"]][r["side"]] = r["weighted"]
    rows = []
    for (lang, *_), sides in sorted(by_q.items(), key=lambda kv: tuple(map(str, kv[0]))):
        if "ab" in sides and "ba" in sides:
            ab, ba = sides["ab"], sides["ba"]
            tie = (ab["dist"].get("C", 0.0) + ba["dist"].get("C", 0.0)) / 2
            rows.append((lang, first_minus_second(ab["dist"]), first_minus_second(ba["dist"]), tie,
                         (ab["mass"] + ba["mass"]) / 2))
    return {"overall": _pair_table(rows),
            "by_lang": {lang: _pair_table([r for r in rows if r[0] == lang]) for lang in sorted({r[0] for r in rows})},
            "pairs": len(rows), "without_distribution": len(records) - len(_ok(records))}


def _rating_table(scores: dict[str, dict], sides: list[str]) -> dict:
    """Each side's expected scores, and the paired difference of the first two sides on the items both have."""
    table = {side: stats(list(scores[side].values()), test=False) for side in sides}
    if len(sides) == 2:
        both = sorted(set(scores[sides[0]]) & set(scores[sides[1]]), key=lambda k: tuple(map(str, k)))
        table[f"{sides[0]}_minus_{sides[1]}"] = stats([scores[sides[0]][k] - scores[sides[1]][k] for k in both])
    return table


def summarize_ratings(records: list[dict]) -> dict:
    """Per language and overall: each side's mean expected score Σ p·s with a t-interval, and with two sides
    (a run given --b) the paired difference a − b with t and sign tests against 0."""
    ok = _ok(records)
    sides = sorted({r["side"] for r in records})

    def scores(subset):
        out: dict = {side: {} for side in sides}
        for r in subset:
            out[r["side"]][r["lang"], r["id"], r["turn"]] = expected(r["weighted"]["dist"])
        return out

    langs = sorted({r["lang"] for r in ok})
    return {"overall": _rating_table(scores(ok), sides),
            "by_lang": {lang: _rating_table(scores([r for r in ok if r["lang"] == lang]), sides) for lang in langs},
            "mass": round(float(np.mean([r["weighted"]["mass"] for r in ok if not r["forced"]])), 4)
            if any(not r["forced"] for r in ok) else None,
            "ten_from_prefill": sum((r["weighted"].get("ten_from") == "prefill") for r in ok),
            "without_distribution": len(records) - len(ok)}


def summarize(mode: str, records: list[dict]) -> dict:
    """The card's `weighted` results block for judge mode `mode`."""
    return summarize_pairs(records) if mode == "pairwise" else summarize_ratings(records)


def format_stats(s: dict) -> str:
    """One `stats` block as text: mean, 95% t-interval where n > 1, n, and its tests where it has them."""
    if not s or s["mean"] is None:
        return "n/a"
    f = "+.3f" if "t_p" in s else ".3f"  # a difference is signed, a mean score is not
    ci = f" [{s['ci95'][0]:{f}}, {s['ci95'][1]:{f}}]" if s["ci95"] else ""
    tests = [f"t p={s['t_p']}"] if s.get("t_p") is not None else []  # none over one value, or all equal
    if s.get("sign_p") is not None:
        tests.append(f"sign {s['positive']}+/{s['negative']}- p={s['sign_p']}")
    return f"{s['mean']:{f}}{ci} (n={s['n']})" + (" " + ", ".join(tests) if tests else "")


def format_weighted(mode: str, w: dict) -> str:
    """The weighted block as terminal lines, per language then overall."""
    rows = [*w["by_lang"].items(), ("all", w["overall"])]
    if mode == "pairwise":
        lines = ["weighted (logprobs): P(A wins) - P(B wins), both orders averaged; first-position preference"]
        lines += [f"{name:8} {format_stats(t['a_minus_b'])}   first-second {format_stats(t['first_minus_second'])}"
                  for name, t in rows]
        return "\n".join(lines + [f"mean verdict mass {w['overall']['mass']}, P(tie) {w['overall']['p_tie']}"])
    lines = ["weighted (logprobs): mean expected score per side, and the paired difference"]
    lines += [f"{name:8} " + "  ".join(f"{k.replace('_minus_', '-').upper()} {format_stats(s)}" for k, s in t.items())
              for name, t in rows]
    return "\n".join(lines + [f"mean verdict mass {w['mass']}"])

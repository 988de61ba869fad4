"""Probability-weighted verdicts (eval.judge_weighted): the math on fixed log-probabilities, the summaries, a clear
error from an endpoint without logprobs, and a real llama-server judge (smollm2-135m, constrained): distributions
that sum to 1, a pair score that flips sign when A and B swap, and expected scores equal to a hand computation."""

from __future__ import annotations

import asyncio
import http.server
import json
import math
import threading

import pytest

from core.errors import ConfigError
from eval import judge_weighted as jw
from eval.judge import run_judge
from eval.results import append_items, read_items, write_card
from tests.servers import SECRET


def _tok(token: str, **probs: float) -> dict:
    return {"token": token, "top": [(t, math.log(p)) for t, p in probs.items()]}


def _run(coro):
    return asyncio.run(coro)


async def _no_call(messages, params):
    raise AssertionError("no extra call expected")


def test_pair_distribution_renormalizes_over_the_allowed_letters():
    tokens = [_tok("["), _tok("["), {"token": "A", "top": [("A", math.log(.4)), ("D", math.log(.2)),
                                                            ("B", math.log(.2)), ("C", math.log(.1)),
                                                            ("And", math.log(.05))]}, _tok("]]")]
    out = _run(jw.distribution("pairwise", "ABC", [], tokens, "A", _no_call))
    # D is not offered by this prompt and "And" is a word, not a verdict: both left out, the rest renormalized
    assert out["dist"] == pytest.approx({"A": .4 / .7, "B": .2 / .7, "C": .1 / .7}, abs=1e-6)
    assert out["mass"] == pytest.approx(.7) and out["missing"] == [] and out["ten_from"] is None
    # a token that also spells what precedes the verdict ("[[A") counts for its letter
    merged = [{"token": "[[B", "top": [("[[A", math.log(.3)), ("[[B", math.log(.5)), ("[", math.log(.2))]},
              _tok("]]")]
    out = _run(jw.distribution("pairwise", "ABCD", [], merged, "B", _no_call))
    assert out["dist"] == pytest.approx({"A": .375, "B": .625, "C": 0, "D": 0}) and out["missing"] == ["C", "D"]


def test_ten_is_split_from_the_next_token_or_a_prefilled_call():
    # the reply went through "1": P(10 | "1") is read from the next position ("0" vs "]]")
    tokens = [_tok("Rating: [["), {"token": "1", "top": [("1", math.log(.5)), ("5", math.log(.3)),
                                                          ("9", math.log(.2))]},
              {"token": "0", "top": [("0", math.log(.6)), ("]]", math.log(.2)), ("5", math.log(.2))]}, _tok("]]")]
    out = _run(jw.distribution("single", "", [], tokens, 10.0, _no_call))
    p10, p1 = .5 * .6 / .8, .5 * .2 / .8  # "5" after "1" (a 15) is no rating: left out of the split
    assert out["dist"]["10"] == pytest.approx(p10) and out["dist"]["1"] == pytest.approx(p1)
    assert jw.expected(out["dist"]) == pytest.approx(10 * p10 + p1 + 5 * .3 + 9 * .2) and out["ten_from"] == "reply"
    # the reply said 5: one more call continues "Rating: [[1" to split the "1"
    asked = []

    async def ask(messages, params):
        asked.append((messages, params))
        return [_tok("]", **{"]]": .75, "0": .25})]

    tokens = [_tok("Rating: [["), {"token": "5", "top": [("5", math.log(.6)), ("1", math.log(.4))]}, _tok("]]")]
    msgs = [{"role": "user", "content": "rate"}]
    out = _run(jw.distribution("single", "", msgs, tokens, 5.0, ask))
    assert asked[0][0][-1] == {"role": "assistant", "content": "Rating: [[1"} and asked[0][1]["max_tokens"] == 1
    assert out["dist"] == pytest.approx({**{str(s): 0 for s in range(1, 11)}, "5": .6, "1": .3, "10": .1})
    assert out["ten_from"] == "prefill" and sum(out["dist"].values()) == pytest.approx(1)


def test_likert_reads_the_json_score_and_a_missing_verdict_is_a_problem():
    tokens = [_tok('{"'), _tok("score"), _tok('":'), _tok(" "), _tok("4", **{"4": .5, "2": .25, "6": .25}), _tok("}")]
    out = _run(jw.distribution("likert", "", [], tokens, [4, ""], _no_call))
    assert jw.expected(out["dist"]) == pytest.approx(4 * .5 + 2 * .25 + 6 * .25) and out["missing"] == list("135")
    assert _run(jw.distribution("likert", "", [], tokens, None, _no_call)) == {"problem": "no verdict parsed"}
    assert "problem" in _run(jw.distribution("likert", "", [], [_tok("no verdict")], [4, ""], _no_call))


def _pair(lang, qid, side, a, b, c=0.0):
    return {"lang": lang, "id": qid, "turn": 1, "side": side, "forced": False,
            "weighted": {"dist": {"A": a, "B": b, "C": c}, "mass": 1.0}}


def test_a_judge_that_follows_the_position_scores_zero():
    # always 0.9 for the first answer shown: model A's margin is 0, the first position's is 0.8
    records = [_pair("fr", q, side, .9, .1) for q in "123" for side in ("ab", "ba")]
    w = jw.summarize("pairwise", records)["overall"]
    assert w["a_minus_b"]["mean"] == 0 and w["first_minus_second"]["mean"] == pytest.approx(.8)
    # a judge that prefers model A in both orders: A's margin is the mean of both, swapping A and B flips it
    rec = [_pair("fr", "1", "ab", .7, .2, .1), _pair("fr", "1", "ba", .1, .6, .3),
           _pair("zh", "2", "ab", .5, .5), _pair("zh", "2", "ba", .3, .7)]
    swapped = [r | {"side": "ba" if r["side"] == "ab" else "ab"} for r in rec]
    w, ws = jw.summarize("pairwise", rec), jw.summarize("pairwise", swapped)
    assert w["by_lang"]["fr"]["a_minus_b"]["mean"] == pytest.approx(.5)  # ((.7-.2) + (.6-.1)) / 2
    assert w["overall"]["a_minus_b"]["mean"] == pytest.approx(-ws["overall"]["a_minus_b"]["mean"])
    assert w["overall"]["a_minus_b"]["positive"] == 2 and w["overall"]["a_minus_b"]["sign_p"] == 0.5


def test_ratings_summary_gives_intervals_and_the_paired_difference():
    from scipy import stats

    def rec(side, qid, dist):
        return {"lang": "fr", "id": qid, "turn": 1, "side": side, "forced": False,
                "weighted": {"dist": dist, "mass": .8}}

    records = [rec("a", "1", {"5": 1.0}), rec("a", "2", {"6": .5, "4": .5}), rec("a", "3", {"7": 1.0}),
               rec("b", "1", {"4": 1.0}), rec("b", "2", {"5": 1.0}), rec("b", "3", {"5": .5, "6": .5})]
    w = jw.summarize("single", records)["overall"]
    assert w["a"]["mean"] == pytest.approx(5.6667, abs=1e-4) and w["b"]["mean"] == pytest.approx(4.8333, abs=1e-4)
    diff = [1, 0, 1.5]
    lo, hi = stats.t.interval(.95, 2, loc=sum(diff) / 3, scale=stats.sem(diff))
    assert w["a_minus_b"]["ci95"] == pytest.approx([lo, hi], abs=1e-4)
    assert w["a_minus_b"]["t_p"] == pytest.approx(stats.ttest_1samp(diff, 0).pvalue, rel=1e-2)  # 3 digits kept
    assert "a" in jw.format_weighted("single", jw.summarize("single", records)).lower()


def test_scores_mode_is_refused():
    with pytest.raises(ConfigError, match="pairwise"):
        jw.check_mode("scores")


def _answers(shared_data, tmp_path, name: str, answer: str):
    """A `generate` run dir with one answer to MT-Bench-X German question 81 (one turn)."""
    from eval.prompt_sets import get_set, load_prompts

    p = {p.id: p for p in load_prompts(get_set("mt_bench_x"), "de", shared_data)}["81_DE"]
    out = tmp_path / name
    out.mkdir()
    write_card(out, {"model": name, "set": "mt_bench_x", "langs": ["de"], "limit": None, "turns": 1})
    append_items(out, [{"set": "mt_bench_x", "lang": "de", "id": p.id, "category": p.category,
                        "turns": list(p.turns[:1]), "answers": [answer], "detected": [["de", 0.99]]}])
    return out


GOOD = ("Hawaii ist wunderschön: Ich habe den Vulkan Kīlauea besucht, am Strand von Waikīkī gebadet und auf einem "
        "Luau die Kultur der Inseln kennengelernt. Eine Reise, die ich jedem empfehle.")
BAD = "Hawaii."


class _Stub:
    """An OpenAI-compatible endpoint that answers "[[A]]" without logprobs, or refuses them with a 400."""

    def __init__(self, refuse: bool):
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if refuse:
                    status, body = 400, {"error": {"message": "logprobs is not supported for this model",
                                                   "type": "invalid_request_error"}}
                else:
                    status, body = 200, {"id": "x", "object": "chat.completion", "created": 0, "model": "stub",
                                         "choices": [{"index": 0, "finish_reason": "stop",
                                                      "message": {"role": "assistant", "content": "[[A]]"}}],
                                         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("refuse, said", [(False, "returned none"), (True, "refused them")])
def test_an_endpoint_without_logprobs_is_a_clear_error(refuse, said, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    a, b = _answers(shared_data, tmp_path, "a", GOOD), _answers(shared_data, tmp_path, "b", BAD)
    stub = _Stub(refuse)
    try:
        with pytest.raises(ConfigError, match=f"--weighted .*{said}.*served:MODEL.*leave out --weighted"):
            run_judge("pairwise", a, f"openai:stub@{stub.url}", tmp_path / "j", b=b, data_dir=shared_data,
                      turns=1, max_retries=0, concurrency=1, log=lambda m: None, weighted=True)
    finally:
        stub.close()


@pytest.mark.slow
def test_a_served_judge_gives_distributions_antisymmetric_pairs_and_expected_scores(smollm2_server, shared_data,
                                                                                    tmp_path, monkeypatch, report):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    good, bad = _answers(shared_data, tmp_path, "good", GOOD), _answers(shared_data, tmp_path, "bad", BAD)
    judge = f"openai:smollm2@{smollm2_server}"

    def run(mode, a, b, out):
        return run_judge(mode, a, judge, tmp_path / out, b=b, data_dir=shared_data, turns=1, max_tokens=16,
                         concurrency=1, constrain=True, weighted=True, log=lambda m: None)

    ab, ba = run("pairwise", good, bad, "ab"), run("pairwise", bad, good, "ba")  # 2 calls each
    items = read_items(tmp_path / "ab")
    for r in items:
        dist = r["weighted"]["dist"]
        assert sum(dist.values()) == pytest.approx(1, abs=1e-5) and set(dist) <= set("ABCD")
    w, ws = ab["results"]["weighted"]["overall"], ba["results"]["weighted"]["overall"]
    margin = {r["side"]: jw.first_minus_second(r["weighted"]["dist"]) for r in items}
    assert w["a_minus_b"]["mean"] == pytest.approx((margin["ab"] - margin["ba"]) / 2, abs=1e-4)
    # swapping A and B flips model A's margin and keeps the judge's position preference
    assert ws["a_minus_b"]["mean"] == pytest.approx(-w["a_minus_b"]["mean"], abs=2e-3)
    assert ws["first_minus_second"]["mean"] == pytest.approx(w["first_minus_second"]["mean"], abs=2e-3)

    # Likert, good and bad rated (2 calls): the expected score is the hand computation over the digits' returned
    # probabilities (the reply's tokens as the judge saw them, caught on their way in)
    seen = {}
    real = jw.distribution

    async def spy(mode, allowed, messages, tokens, value, ask):
        out = await real(mode, allowed, messages, tokens, value, ask)
        seen[json.dumps(out["dist"], sort_keys=True)] = tokens
        return out

    monkeypatch.setattr(jw, "distribution", spy)
    run("likert", good, bad, "likert")
    for r in read_items(tmp_path / "likert"):
        digit = next(t for t in seen[json.dumps(r["weighted"]["dist"], sort_keys=True)] if t["token"] in list("123456"))
        p = {int(tok): math.exp(lp) for tok, lp in digit["top"] if tok in list("123456")}
        by_hand = sum(s * q for s, q in p.items()) / sum(p.values())
        assert jw.expected(r["weighted"]["dist"]) == pytest.approx(by_hand, abs=1e-5)
    # MT-Bench single, 1-10 (1 call + 1 that continues "Rating: [[1" unless the reply went through it): the
    # distribution covers all ten ratings, sums to 1, and the mass of a bare "1" was split into 1 and 10
    single = run("single", good, None, "single")["results"]["weighted"]
    (r,) = read_items(tmp_path / "single")
    dist = r["weighted"]["dist"]
    assert sum(dist.values()) == pytest.approx(1, abs=1e-5) and set(dist) == {str(s) for s in range(1, 11)}
    assert r["weighted"]["ten_from"] in ("reply", "prefill") and dist["10"] > 0
    report(f"weighted judge (smollm2-135m, 1 question): pair margin A-B {w['a_minus_b']['mean']:+.3f}, swapped "
           f"{ws['a_minus_b']['mean']:+.3f}, first-second {w['first_minus_second']['mean']:+.3f}; single E[score] "
           f"{single['overall']['a']['mean']} (P(10) {dist['10']:.3f}, P(1) {dist['1']:.3f})")

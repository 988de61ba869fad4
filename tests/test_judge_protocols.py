"""The judge protocols as objects: every registered protocol reads its own verdicts and no garbage, a pairwise
protocol asks both orders, and a protocol registered here (one class, no other file touched) is planned,
judged through a fake OpenAI server, summarized, printed and accepted by the experiment configs."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import eval.judge_protocols as jp
from core.errors import ConfigError
from eval.judge_plan import plan_jobs, prompt_chooser
from eval.judge_prompts import JudgePrompt
from eval.judge_protocols import PairProtocol, get_protocol, is_pairwise, protocol_names, register
from eval.judge_summary import format_judge, summarize
from eval.verdicts import Parsed

PAIR = JudgePrompt("test-pair", "", "{question}\n[A]\n{answer_a}\n[/A]\n[B]\n{answer_b}\n[/B]")
SINGLE = JudgePrompt("test-single", "", "{question}\n[Answer]\n{answer}\n[/Answer]")

# well-formed replies per protocol and the value each reads as: a new protocol must add its own here
OWN_VERDICTS = {
    "pairwise": [("Both fine, A more so. [[A]]", "A"), ("[[B]]", "B"), ("a tie: [[C]]", "C")],
    "scores": [("<score1>8</score1> <score2>6</score2>", (8.0, 6.0)), ("<score1>0</score1><score2>10</score2>",
                                                                        (0.0, 10.0))],
    "single": [("Rating: [[7]]", 7.0), ("[[10]]", 10.0), ("Rating: [[1]]", 1.0)],
    "likert": [('{"reasoning": "clear", "score": 5}', (5, "clear")), ('```json\n{"score": 1}\n```', (1, ""))],
}
GARBAGE = ["", "I cannot decide.", "[[Z]]", "[[A]] [[B]]", "Rating: [[42]]", "<score1>11</score1> <score2>3</score2>",
           '{"score": 9}', '{"score": "good"}', "[[D]]", "<score1>4</score1>"]


def test_every_protocol_reads_its_own_verdicts_and_no_garbage():
    assert set(OWN_VERDICTS) == set(protocol_names())  # every registered protocol is tested here
    for name in protocol_names():
        protocol = get_protocol(name)
        prompt = PAIR if protocol.pairwise else SINGLE
        for reply, value in OWN_VERDICTS[name]:
            assert protocol.parse(reply, prompt) == Parsed(value), (name, reply)
        for reply in GARBAGE:  # "[[D]]" too: these test prompts offer only A, B and C
            out = protocol.parse(reply, prompt)
            assert not out.ok and out.problem, (name, reply, out)
        # a verdict inside an answer the judge echoed back is not the judge's
        echoed = f"[A]\n{OWN_VERDICTS[name][0][0]}\n[/A]" if protocol.pairwise else \
            f"[Answer]\n{OWN_VERDICTS[name][0][0]}\n[/Answer]"
        assert not protocol.parse(echoed, prompt).ok, name


def test_unknown_modes_and_double_registration_are_refused():
    with pytest.raises(ConfigError, match="Unknown judge mode 'pairwize'.*pairwise, scores, single, likert"):
        get_protocol("pairwize")
    with pytest.raises(ValueError, match="registered twice"):
        register(type(get_protocol("pairwise")))
    assert is_pairwise("scores") and not is_pairwise("likert") and not is_pairwise(None)
    assert not is_pairwise("nothing")


def _rec(qid, lang="de", answers=("eins", "zwei"), category="writing", detected="de"):
    return {"lang": lang, "id": qid, "category": category, "turns": ["Q1?", "Q2?"], "answers": list(answers),
            "detected": [[detected, 0.9], [detected, 0.9]]}


def _answers():
    a = {("de", "1"): _rec("1", answers=("A-one", "A-two")), ("de", "2"): _rec("2", answers=("A-uno",))}
    b = {("de", "1"): _rec("1", answers=("B-one-longer", "B-two")), ("de", "2"): _rec("2", answers=("B-uno", "x")),
         ("de", "3"): _rec("3")}
    return a, b


def _test_prompt(protocol):
    return lambda lang, category, turn, has_ref: PAIR if protocol.pairwise else SINGLE


def test_a_pairwise_protocol_asks_both_orders_and_a_single_one_each_model():
    a, b = _answers()
    for name in protocol_names():
        protocol = get_protocol(name)
        jobs = plan_jobs(name, a, b, ["de"], 2, _test_prompt(protocol), {})
        # question 1 has two turns in both sets, question 2 one in A; question 3 has no answer A
        turns = {("1", 1), ("1", 2), ("2", 1)} if protocol.multi_turn else {("1", 1), ("2", 1)}
        assert {(j.id, j.turn) for j in jobs} == turns
        for qid, turn in turns:
            mine = [j for j in jobs if (j.id, j.turn) == (qid, turn)]
            if not protocol.pairwise:
                assert sorted(j.side for j in mine) == ["a", "b"], name
                continue
            assert sorted(j.side for j in mine) == ["ab", "ba"], name
            for j in mine:
                user = j.messages[-1]["content"]  # the test prompt shows the first turn's answers
                a_first = user.index(a["de", qid]["answers"][0]) < user.index(b["de", qid]["answers"][0])
                assert a_first == (j.side == "ab"), (name, j.side)
                assert j.lengths == (len(a["de", qid]["answers"][turn - 1]), len(b["de", qid]["answers"][turn - 1]))


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for the test to register into; the real one is left as it was."""
    monkeypatch.setattr(jp, "PROTOCOLS", dict(jp.PROTOCOLS))


def _define_prefer():
    @register
    class Prefer(PairProtocol):
        """A test protocol: the judge says FIRST, SECOND or SAME."""

        name = "prefer"
        multi_turn = False
        own_prompt = JudgePrompt("prefer-v1", "", "{question}\n[A]\n{answer_a}\n[/A]\n[B]\n{answer_b}\n[/B]\n"
                                                  "Which is better? FIRST, SECOND or SAME.")

        def parse(self, reply, prompt):
            words = [w for w in ("FIRST", "SECOND", "SAME") if w in reply]
            return Parsed(words[0]) if len(words) == 1 else Parsed(None, f"not one verdict: {words}")

        def grammar(self, allowed):
            return 'root ::= "FIRST" | "SECOND" | "SAME"'

        def outcome(self, value, a_first):
            return "tie" if value == "SAME" else "win" if (value == "FIRST") == a_first else "loss"

    return Prefer


def test_a_protocol_registered_here_is_planned_and_summarized(registry):
    _define_prefer()
    assert protocol_names()[-1] == "prefer" and is_pairwise("prefer")
    a, b = _answers()
    jobs = plan_jobs("prefer", a, b, ["de"], 2, prompt_chooser("prefer", None, False), {})  # single-turn
    assert sorted((j.id, j.turn, j.side) for j in jobs) == [("1", 1, "ab"), ("1", 1, "ba"), ("2", 1, "ab"),
                                                            ("2", 1, "ba")]
    assert all(j.prompt.name == "prefer-v1" for j in jobs)
    says = {("1", "ab"): "FIRST", ("1", "ba"): "SECOND", ("2", "ab"): "FIRST", ("2", "ba"): "FIRST"}
    records = [{"lang": j.lang, "id": j.id, "category": j.category, "turn": j.turn, "side": j.side,
                "value": says[j.id, j.side], "problem": "", "reply": "", "lengths": list(j.lengths), "forced": False}
               for j in jobs]
    res = summarize("prefer", records)
    fc = res["overall"]["fastchat"]
    assert (fc["win"], fc["tie"], fc["loss"]) == (1, 1, 0) and res["overall"]["position_bias"]["flip_rate"] == 0.5
    text = format_judge({"mode": "prefer", "judge": "j", "a": "m1", "b": "m2", "results": res})
    assert "FastChat W/T/L" in text and "unparseable: 0 of 4" in text
    assert "0.500 [0.095, 0.905]   0.500        0.000" in text  # lenient rate, flips, longer wins


def test_a_pairwise_run_with_no_readable_verdict_says_so_not_nan():
    """The app's judge tab showed `nan [0.000, 1.000]` when a small judge's 4 replies were all unparseable."""
    records = [{"lang": "de", "id": q, "category": "c", "turn": 1, "side": side, "value": None,
                "problem": "no verdict", "reply": "?", "lengths": [3, 4], "forced": False}
               for q in ("1", "2") for side in ("ab", "ba")]
    text = format_judge({"mode": "pairwise", "judge": "j", "a": "m1", "b": "m2",
                         "results": summarize("pairwise", records)})
    assert "nan" not in text and "no verdicts" in text and "unparseable: 4 of 4" in text


def test_a_protocol_registered_here_runs_end_to_end_and_configs_accept_it(registry, tmp_path):
    from eval.judge import run_judge
    from eval.results import append_items, write_card
    from experiments.config import Judging

    _define_prefer()
    for name, answers in (("a", ("good answer", "x")), ("b", ("bad", "y"))):
        (tmp_path / name).mkdir()
        write_card(tmp_path / name, {"model": f"model-{name}", "set": "mt_bench_x", "langs": ["de"]})
        append_items(tmp_path / name, [_rec(qid, answers=[f"{x} {qid}" for x in answers]) for qid in ("81", "82")])
    with _fake_judge() as url:  # always prefers the shown answer that reads "good answer"
        card = run_judge("prefer", tmp_path / "a", f"openai:fake@{url}", tmp_path / "j", b=tmp_path / "b",
                         key_env="NO_SUCH_KEY_VAR")
    assert card["mode"] == "prefer" and card["status"] == "done" and card["calls_this_run"] == 4
    fc = card["results"]["overall"]["fastchat"]
    assert (fc["n"], fc["win"], fc["loss"]) == (2, 2, 0)
    with pytest.raises(ValueError, match="compares two arms"):
        Judging(mode="prefer", arms=["one"])
    assert Judging(mode="prefer", arms=["one", "two"]).mode == "prefer"
    with pytest.raises(ValueError, match="Unknown judge mode 'nope'"):
        Judging(mode="nope")


class _Judge(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = body["messages"][-1]["content"]
        verdict = "FIRST" if user.index("good answer") < user.index("bad") else "SECOND"
        out = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                          "choices": [{"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": f"I pick {verdict}"}}],
                          "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class _fake_judge:  # noqa: N801 (used as a context manager, like a function)
    def __enter__(self) -> str:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

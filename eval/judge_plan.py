"""Every judge call a run needs: each question's turn (a `Question`) goes to the protocol, which makes its jobs
from it (a pair in both orders, or one job per model). Answers, questions and reference answers are defused
(`neutralize`) before they reach a prompt: they are text from files, and must not carry a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.languages import get_language
from eval.judge_prompts import JudgePrompt, fastchat_prompts
from eval.judge_protocols import get_protocol
from eval.verdicts import neutralize


@dataclass(frozen=True)
class Job:
    """One judge call: which question, turn and side (order "ab"/"ba" for pairs, model "a"/"b" otherwise)."""

    lang: str
    id: str
    category: str
    turn: int
    side: str
    prompt: JudgePrompt
    messages: list = field(hash=False)
    lengths: tuple[int, int] = (0, 0)  # answer lengths (A, B) in characters, for the length-bias statistic
    forced: dict | None = field(default=None, hash=False)  # a verdict decided without calling (wrong language)


@dataclass(frozen=True)
class Question:
    """One turn of one question to judge: model A's answer record, B's (None when rating A alone), the
    reference answers and the prompt the protocol chose."""

    lang: str
    id: str
    category: str
    turn: int
    a: dict
    b: dict | None
    refs: list[str]
    prompt: JudgePrompt

    @property
    def sides(self) -> tuple[str, ...]:
        """The models answering: "a", and "b" when there are answers B."""
        return ("a", "b") if self.b is not None else ("a",)

    def detected(self, side: str) -> str | None:
        """The language detected in `side`'s answer to this turn (None when the answers were not checked)."""
        return self._record(side).get("detected", [[None]])[self.turn - 1][0]

    def pair_job(self, side: str) -> Job:
        """The call showing both answers, A's first for side "ab" and B's first for "ba"."""
        lengths = (len(self.a["answers"][self.turn - 1]), len(self.b["answers"][self.turn - 1]))
        return self._job(side, _pair_fields(self.a, self.b, self.turn, side == "ab", self.refs), lengths)

    def rating_job(self, side: str, forced: dict | None = None) -> Job:
        """The call showing `side`'s answer alone; `forced`: its verdict, decided without a call."""
        answers = [neutralize(x) for x in self._record(side)["answers"]]
        fields = {"answer": answers[0], "answer_1": answers[0], **({"answer_2": answers[1]} if self.turn == 2 else {}),
                  **_question_fields(self._record(side), self.turn, self.refs)}
        return self._job(side, fields, forced=forced)

    def _record(self, side: str) -> dict:
        return self.a if side == "a" else self.b

    def _job(self, side: str, fields: dict, lengths=(0, 0), forced: dict | None = None) -> Job:
        messages = self.prompt.messages(get_language(self.lang).name, **fields)
        return Job(self.lang, self.id, self.category, self.turn, side, self.prompt, messages, lengths, forced)


def _pair_fields(rec_a: dict, rec_b: dict, turn: int, a_first: bool, refs: list[str]) -> dict:
    first, second = (rec_a, rec_b) if a_first else (rec_b, rec_a)
    ans = lambda rec, t: neutralize(rec["answers"][t - 1])  # noqa: E731
    fields = {"answer_a": ans(first, 1), "answer_b": ans(second, 1), "answer_a_1": ans(first, 1),
              "answer_b_1": ans(second, 1)}
    if turn == 2:
        fields |= {"answer_a_2": ans(first, 2), "answer_b_2": ans(second, 2)}
    return fields | _question_fields(rec_a, turn, refs)


def _question_fields(rec: dict, turn: int, refs: list[str]) -> dict:
    """The question(s) and reference answers, defused like the answers (they are text from a file too)."""
    q = [neutralize(t) for t in rec["turns"]]
    return {"question": q[0], "question_1": q[0], **({"question_2": q[1]} if turn == 2 else {}),
            **{f"ref_answer_{i + 1}": neutralize(r) for i, r in enumerate(refs)}}


def prompt_chooser(mode: str, data_dir: Path | None, english_prompts: bool):
    """`choose(lang, category, turn, has_ref)`: protocol `mode`'s prompt, FastChat's files read once a language."""
    protocol, cache = get_protocol(mode), {}

    def fastchat(lang: str) -> dict[str, JudgePrompt]:
        if lang not in cache:
            cache[lang] = fastchat_prompts(data_dir, lang, english_prompts)
        return cache[lang]

    def choose(lang: str, category: str, turn: int, has_ref: bool) -> JudgePrompt:
        return protocol.prompt(fastchat, lang, category, turn, has_ref)

    return choose


def plan_jobs(mode: str, a: dict, b: dict | None, langs: list[str], turns: int, prompt_for, refs: dict) -> list[Job]:
    """Every judge call the run needs, in a stable order."""
    protocol = get_protocol(mode)
    turns = turns if protocol.multi_turn else 1
    jobs = []
    for (lang, qid), rec_a in sorted(a.items()):
        if lang not in langs or (b is not None and (lang, qid) not in b):
            continue
        rec_b = b[lang, qid] if b is not None else None
        category = rec_a.get("category", "")
        for turn in range(1, min(turns, len(rec_a["answers"]), len(rec_b["answers"]) if rec_b else 9) + 1):
            ref = refs.get(lang, {}).get(qid, [])
            prompt = prompt_for(lang, category, turn, bool(ref))
            jobs += protocol.jobs(Question(lang, qid, category, turn, rec_a, rec_b, ref, prompt))
    return jobs

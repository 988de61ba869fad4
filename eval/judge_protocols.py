"""The judge protocols, one class each, registered by name: the only place that knows what a mode means.

A protocol says which prompt a question gets, how a reply is read (`eval.verdicts`), what a judge call is (a
pair shown in both orders, or one model's answer: FastChat's MatchPair and MatchSingle) and which statistics
its judgments make (`eval.judge_results`). The rest of the code asks `get_protocol(mode)`; a new protocol is
one class here with `@register`, and the CLI, the app and the experiment configs list it from `protocol_names`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from core.errors import ConfigError, DataError
from eval.judge_prompts import LIKERT, PAIR_SCORES, JudgePrompt, fastchat_name
from eval.judge_results import mean, pair_results, rating_results
from eval.judge_stats import ab_outcome, score_outcome
from eval.verdicts import Parsed, parse_ab, parse_likert, parse_pair_scores, parse_rating

if TYPE_CHECKING:  # the plan imports the protocols; the protocols only call what a Question offers
    from eval.judge_plan import Job, Question

PROTOCOLS: dict[str, Protocol] = {}


def register(cls: type[Protocol]) -> type[Protocol]:
    """Class decorator: make protocol `cls` available under its `name` (a name is registered once)."""
    if cls.name in PROTOCOLS:
        raise ValueError(f"judge protocol {cls.name!r} is registered twice")
    PROTOCOLS[cls.name] = cls()
    return cls


def protocol_names() -> tuple[str, ...]:
    """Every registered protocol's name, in the order they were registered (the CLI's and the app's choices)."""
    return tuple(PROTOCOLS)


def get_protocol(mode: str) -> Protocol:
    """The protocol named `mode`; an unknown name is a ConfigError listing the known ones."""
    if mode not in PROTOCOLS:
        raise ConfigError(f"Unknown judge mode {mode!r}; the modes are: {', '.join(PROTOCOLS)}.")
    return PROTOCOLS[mode]


def is_pairwise(mode: object) -> bool:
    """Whether `mode` (a card's, maybe missing) names a registered protocol that compares two models."""
    return isinstance(mode, str) and mode in PROTOCOLS and PROTOCOLS[mode].pairwise


class Protocol:
    """What every protocol answers. Subclass `PairProtocol` or `SingleProtocol`, not this."""

    name: ClassVar[str]
    pairwise: ClassVar[bool]  # two models' answers in one call, in both orders; needs answers B
    multi_turn: ClassVar[bool] = True  # judges every turn; False: only the first (Vicuna, Polyglots)
    reply_tokens: ClassVar[int] = 250  # a typical reply, for --dry-run estimates
    own_prompt: ClassVar[JudgePrompt | None] = None  # one prompt of ours for every question
    fastchat_family: ClassVar[str] = ""  # else FastChat's prompt family, by category and turn

    def prompt(self, fastchat: Callable[[str], dict[str, JudgePrompt]], lang: str, category: str, turn: int,
               has_ref: bool) -> JudgePrompt:
        """The prompt of one question's turn; `fastchat(lang)` gives FastChat's prompts, read only if needed."""
        if self.own_prompt is not None:
            return self.own_prompt
        prompts = fastchat(lang)
        name = fastchat_name(self.fastchat_family, category if has_ref else "", turn)  # no reference: general
        if name not in prompts:
            raise DataError(f"the judge prompts for {lang} have no {name!r}; they have {', '.join(prompts)}.")
        return prompts[name]

    def parse(self, reply: str, prompt: JudgePrompt) -> Parsed:
        """The verdict in `reply`, reading only the judge's own words (never a block it echoed)."""
        raise NotImplementedError

    def grammar(self, allowed: str) -> str:
        """A llama.cpp GBNF grammar that lets the judge write only a verdict `parse` reads: a small local judge
        rarely keeps to the format on its own (a served 135M model: ~90% unparseable replies)."""
        raise NotImplementedError

    def jobs(self, question: Question) -> list[Job]:
        """The judge calls one question's turn needs."""
        raise NotImplementedError

    def summarize(self, records: list[dict]) -> dict:
        """The results block of a judge card from this protocol's judgments."""
        raise NotImplementedError


class PairProtocol(Protocol):
    """Two models' answers in one prompt, asked in both orders so the judge's position bias cancels and shows."""

    pairwise = True

    def outcome(self, value, a_first: bool) -> str:
        """One verdict as model A's outcome ("win", "tie", "loss", "both_bad"), given the side A was shown on."""
        raise NotImplementedError

    def jobs(self, question: Question) -> list[Job]:
        return [question.pair_job("ab"), question.pair_job("ba")]

    def summarize(self, records: list[dict]) -> dict:
        return pair_results(records, self.outcome) | self.extra_results(records)

    def extra_results(self, records: list[dict]) -> dict:
        """Results this protocol adds to the card's outcomes, win rates and biases."""
        return {}


class SingleProtocol(Protocol):
    """One model's answer per call, rated on a scale; with answers B, each model is rated on its own."""

    pairwise = False
    scale: ClassVar[str] = ""  # the plots' axis, e.g. "mean rating (1-10)"

    def score(self, value) -> float:
        """The number a verdict rates the answer with."""
        return value

    def forced(self, question: Question, side: str) -> dict | None:
        """A verdict decided without calling the judge for `side`'s answer, or None to ask the judge."""
        return None

    def jobs(self, question: Question) -> list[Job]:
        return [question.rating_job(side, self.forced(question, side)) for side in question.sides]

    def summarize(self, records: list[dict]) -> dict:
        return rating_results(records, self.score) | self.extra_results(records)

    def extra_results(self, records: list[dict]) -> dict:
        """Results this protocol adds to the card's mean scores."""
        return {}


@register
class MTBenchPair(PairProtocol):
    """MT-Bench pairwise: [[A]]/[[B]]/[[C]] and MT-Bench-X's [[D]] (both bad), both turns, both orders."""

    name = "pairwise"
    reply_tokens = 300
    fastchat_family = "pairwise"

    def parse(self, reply: str, prompt: JudgePrompt) -> Parsed:
        return parse_ab(reply, prompt.verdicts, delimiters=prompt.delimiters())

    def grammar(self, allowed: str) -> str:
        return f'root ::= "[[" [{allowed}] "]]"'

    def outcome(self, value, a_first: bool) -> str:
        return ab_outcome(value, a_first)


@register
class PairScores(PairProtocol):
    """Vicuna / Bactrian-X: a 0-10 score for each answer (<score1>, <score2>), first turn, both orders."""

    name = "scores"
    multi_turn = False
    own_prompt = PAIR_SCORES

    def parse(self, reply: str, prompt: JudgePrompt) -> Parsed:
        return parse_pair_scores(reply, delimiters=prompt.delimiters())

    def grammar(self, allowed: str) -> str:
        digit10 = '("10" | [0-9])'
        return f'root ::= "<score1>" {digit10} "</score1> <score2>" {digit10} "</score2>"'

    def outcome(self, value, a_first: bool) -> str:
        first, second = value
        return score_outcome(first, second, a_first)

    def extra_results(self, records: list[dict]) -> dict:
        """Each model's mean 0-10 score over both orders."""
        ok = [r for r in records if r["value"] is not None]
        a_scores = [r["value"][0 if r["side"] == "ab" else 1] for r in ok]
        b_scores = [r["value"][1 if r["side"] == "ab" else 0] for r in ok]
        return {"mean_scores": {"a": mean(a_scores), "b": mean(b_scores)}}


@register
class MTBenchSingle(SingleProtocol):
    """MT-Bench single: "Rating: [[n]]" from 1 to 10 per answer and turn."""

    name = "single"
    fastchat_family = "single"
    scale = "mean rating (1-10)"

    def parse(self, reply: str, prompt: JudgePrompt) -> Parsed:
        return parse_rating(reply, delimiters=prompt.delimiters())

    def grammar(self, allowed: str) -> str:
        return 'root ::= "Rating: [[" ("10" | [1-9]) "]]"'


@register
class Likert(SingleProtocol):
    """Polyglots' helpfulness: JSON {"reasoning", "score"} from 1 to 6, first turn; an answer in another
    language gets 1 without a call."""

    name = "likert"
    multi_turn = False
    reply_tokens = 80
    own_prompt = LIKERT
    scale = "mean helpfulness (1-6)"

    def parse(self, reply: str, prompt: JudgePrompt) -> Parsed:
        return parse_likert(reply, delimiters=prompt.delimiters())

    def grammar(self, allowed: str) -> str:
        return 'root ::= "{\\"score\\": " [1-6] "}"'

    def score(self, value) -> float:
        return value[0]  # (score, reasoning)

    def forced(self, question: Question, side: str) -> dict | None:
        detected = question.detected(side)
        # only a real other language: "und" (code, numbers, no letters) is left to the judge
        if detected in (question.lang, "und", None):
            return None
        return {"value": [1, f"answer detected as {detected}, not {question.lang}"], "problem": ""}

    def extra_results(self, records: list[dict]) -> dict:
        sides = sorted({r["side"] for r in records})
        return {"forced_wrong_language": {side: sum(r["forced"] for r in records if r["side"] == side)
                                          for side in sides}}

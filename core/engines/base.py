"""The Engine protocol every backend implements, and the small types it speaks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import EngineError

Prompt = str | Sequence[dict]  # raw text for completion, or chat messages


@dataclass(frozen=True)
class LoglikelihoodResult:
    """Sum of log-probabilities of a continuation, and whether greedy decoding would produce it."""

    logprob: float
    is_greedy: bool


class Engine(Protocol):
    """One way to run a model. Sampling parameters are named as in the OpenAI API."""

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.7,
                 top_p: float = 1.0, stop: Sequence[str] | None = None,
                 seed: int | None = None) -> Iterator[str]:
        """Stream the reply; chat messages go through the model's chat format, a string is continued."""
        ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LoglikelihoodResult]:
        """Score each (context, continuation) pair."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` under the model's tokenizer, without special tokens."""
        ...

    def info(self) -> dict[str, Any]:
        """What is loaded: backend, model, source, sizes, chat format. Never secrets."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


def complete(engine: Engine, prompt: Prompt, **params: Any) -> str:
    """The whole reply: one non-streamed request where the engine offers it (servers), else `generate` joined."""
    whole = getattr(engine, "complete_text", None)
    return whole(prompt, **params) if whole else "".join(engine.generate(prompt, **params))


def check_sampling(max_tokens: int, temperature: float, top_p: float) -> None:
    """Reject sampling parameters outside the ranges the OpenAI API accepts."""
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise EngineError(f"max_tokens must be a positive integer, got {max_tokens!r}.")
    if not 0 <= temperature <= 2:
        raise EngineError(f"temperature must be between 0 and 2, got {temperature!r}.")
    if not 0 < top_p <= 1:
        raise EngineError(f"top_p must be in (0, 1], got {top_p!r}.")


def check_requests(requests: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Validate loglikelihood requests; lm-eval style, trailing context spaces move to the continuation."""
    out = []
    for i, pair in enumerate(requests):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise EngineError(f"Request {i} must be a (context, continuation) pair of strings, got {pair!r}.")
        ctx, cont = pair
        if not cont:
            raise EngineError(f"Request {i} has an empty continuation; there is nothing to score.")
        stripped = ctx.rstrip(" ")
        out.append((stripped, ctx[len(stripped):] + cont))
    return out


def encode_pair(encode: Callable[[str], list[int]], ctx: str, cont: str, prefix: list[int],
                start: int) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) as lm-eval cuts them: the whole text is encoded and the continuation is
    what follows the context's tokens (its own tokens if the tokenizer merged it into the context). `encode`
    adds no BOS; `prefix` is [BOS] for models that start every text with it; an empty context is [`start`]."""
    if not ctx:
        return [start], encode(cont)
    ctx_ids = prefix + encode(ctx)
    return ctx_ids, (prefix + encode(ctx + cont))[len(ctx_ids):] or encode(cont)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens two id sequences share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n

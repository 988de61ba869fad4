"""One chat-completion call to an OpenAI-compatible endpoint, as the translate step and the judge make it:
at most N in flight (a semaphore), the openai client's own retries with backoff on 429 / 5xx / timeouts, the
reply text and its token usage, and the errors no retry fixes raised as `ApiRefused`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from core.engines.openai_api import public_url
from core.errors import EngineError


class ApiRefused(EngineError):
    """The endpoint refused the request for a reason no retry fixes (bad key, no access, unknown model)."""


class EmptyReply(EngineError):
    """The call succeeded but the reply has no text: not worth keeping, so a rerun asks again. The tokens it
    cost are in `usage` (prompt, completion)."""

    def __init__(self, message: str, usage: tuple[int, int] = (0, 0)):
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: object = None  # choices[0].logprobs when the call asked for them (eval.judge_weighted reads it)


def async_client(base_url: str | None, api_key: str, timeout: float, max_retries: int):
    """An openai.AsyncOpenAI for `base_url` (None: api.openai.com) that retries with backoff itself."""
    import openai

    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "no-key", timeout=timeout,
                              max_retries=max_retries)


async def chat(client, model: str, messages: list[dict], params: dict, slots: asyncio.Semaphore,
               key_env: str = "OPENAI_API_KEY") -> Reply:
    """One call under `slots`; an empty reply raises EmptyReply (so nobody caches it)."""
    import openai

    async with slots:
        try:
            resp = await client.chat.completions.create(model=model, messages=messages, **params)
        except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
            raise ApiRefused(f"{public_url(str(client.base_url))} refused the request ({exc.status_code}): check "
                             f"the model name {model!r} and ${key_env}.") from exc
    text = (resp.choices[0].message.content or "").strip() if resp.choices else ""
    usage = resp.usage
    reply = Reply(text, (usage.prompt_tokens or 0) if usage else 0, (usage.completion_tokens or 0) if usage else 0,
                  resp.choices[0].logprobs if resp.choices else None)
    if not text:
        raise EmptyReply(f"{model} returned an empty reply", (reply.prompt_tokens, reply.completion_tokens))
    return reply

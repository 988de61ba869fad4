"""The `openai` backend: any OpenAI-compatible server (OpenAI, vLLM, llama_cpp.server, ...).

The API key is read from the environment at load time and lives only inside the client:
it is never logged, never returned by `info()` and never part of `repr()`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core.chat import check_prompt
from core.engines.base import LoglikelihoodResult, Prompt, check_requests, check_sampling
from core.engines.spec import ModelSpec
from core.errors import EngineError, ScoringUnsupported


class OpenAIEngine:
    """A model behind an OpenAI-compatible HTTP API."""

    backend = "openai"

    def __init__(self, spec: ModelSpec, *, api_key_env: str = "OPENAI_API_KEY", timeout: float = 120.0,
                 max_retries: int = 1):
        import openai

        start = time.perf_counter()
        self.spec = spec
        self.api_key_env = api_key_env
        self.timeout, self.max_retries = timeout, max_retries
        # Local servers accept any key; a placeholder keeps the client from refusing to start.
        key = os.environ.get(api_key_env) or "no-key"
        # The client retries timeouts, 429 and 5xx itself, with exponential backoff.
        self._client = openai.OpenAI(base_url=spec.base_url, api_key=key, timeout=timeout, max_retries=max_retries)
        self.load_seconds = time.perf_counter() - start

        self.url = public_url(spec.base_url or "")

    def __repr__(self) -> str:
        return f"OpenAIEngine(openai:{self.spec.model}@{self.url})"

    @contextlib.contextmanager
    def _errors(self):
        """Turn the client's errors (also those raised mid-stream) into messages that name the fix."""
        import openai

        try:
            yield
        except openai.APITimeoutError as exc:
            raise EngineError(f"{self.url} did not answer within {self.timeout:g} s, {self.max_retries + 1} times "
                              f"(retried with backoff); lower the concurrency or raise the timeout.") from exc
        except openai.APIConnectionError as exc:
            raise EngineError(f"Cannot reach {self.url}: is the server running and the URL right?") from exc
        except openai.AuthenticationError as exc:
            raise EngineError(f"{self.url} rejected the API key; set ${self.api_key_env}.") from exc
        except openai.APIStatusError as exc:
            raise EngineError(f"{self.url} answered HTTP {exc.status_code}: {_short(exc)}") from exc

    def _call(self, fn, **kwargs):
        with self._errors():
            return fn(model=self.spec.model, **kwargs)

    def _stream(self, fn, **kwargs):
        with self._errors():
            yield from fn(model=self.spec.model, **kwargs)

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.7, top_p: float = 1.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]:
        prompt = check_prompt(prompt)
        check_sampling(max_tokens, temperature, top_p)
        params = dict(max_tokens=max_tokens, temperature=temperature, top_p=top_p, stream=True, seed=seed,
                      stop=list(stop) if stop else None)
        if isinstance(prompt, str):
            for chunk in self._stream(self._client.completions.create, prompt=prompt, **params):
                if chunk.choices and chunk.choices[0].text:
                    yield chunk.choices[0].text
        else:
            for chunk in self._stream(self._client.chat.completions.create, messages=prompt, **params):
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    def complete_text(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.7, top_p: float = 1.0,
                      stop: Sequence[str] | None = None, seed: int | None = None) -> str:
        """The whole reply in one response: no per-token events, which cost both sides CPU under load."""
        prompt = check_prompt(prompt)
        check_sampling(max_tokens, temperature, top_p)
        params = dict(max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed,
                      stop=list(stop) if stop else None)
        if isinstance(prompt, str):
            resp = self._call(self._client.completions.create, prompt=prompt, **params)
            return resp.choices[0].text or "" if resp.choices else ""
        resp = self._call(self._client.chat.completions.create, messages=prompt, **params)
        return resp.choices[0].message.content or "" if resp.choices else ""

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LoglikelihoodResult]:
        """Scores through the completions endpoint with echo=True and logprobs (vLLM, llama.cpp with logits_all)."""
        import openai

        out = []
        for ctx, cont in check_requests(requests):
            try:
                resp = self._call(self._client.completions.create, prompt=ctx + cont, max_tokens=1,
                                  temperature=0.0, echo=True, logprobs=1)
            except EngineError as exc:
                if isinstance(exc.__cause__, openai.BadRequestError | openai.NotFoundError):
                    raise ScoringUnsupported(f"{self.url} cannot score log-likelihoods for {self.spec.model} (its "
                                             f"completions endpoint refused echo + logprobs: {exc}).") from exc
                raise
            lp = resp.choices[0].logprobs
            if not lp or not lp.token_logprobs or not lp.text_offset:
                raise ScoringUnsupported(f"{self.url} returned no prompt logprobs; this server cannot score "
                                         f"log-likelihoods (llama_cpp.server needs --logits_all true).")
            end = len(ctx) + len(cont)
            # Tokens that overlap the continuation, including one straddling the boundary.
            span = [i for i, (off, tok) in enumerate(zip(lp.text_offset, lp.tokens))
                    if off < end and off + max(len(tok), 1) > len(ctx)]
            if not span:
                raise EngineError(f"{self.url} returned no tokens for the continuation {cont!r}; cannot score it.")
            total = sum(lp.token_logprobs[i] or 0.0 for i in span)
            greedy = all(lp.top_logprobs and lp.top_logprobs[i]
                         and max(lp.top_logprobs[i], key=lp.top_logprobs[i].get) == lp.tokens[i] for i in span)
            out.append(LoglikelihoodResult(float(total), bool(greedy)))
        return out

    def count_tokens(self, text: str) -> int:
        """Prompt tokens the server counts for `text` (its tokenizer, incl. any BOS it adds)."""
        resp = self._call(self._client.completions.create, prompt=text, max_tokens=1, temperature=0.0)
        return int(resp.usage.prompt_tokens)

    def info(self) -> dict[str, Any]:
        return {"backend": "openai", "spec": f"openai:{self.spec.model}@{self.url}", "model": self.spec.model,
                "base_url": self.url, "api_key_env": self.api_key_env,
                "api_key_set": bool(os.environ.get(self.api_key_env)),
                "load_seconds": round(self.load_seconds, 2)}

    def close(self) -> None:
        self._client.close()


def public_url(url: str) -> str:
    """The URL without credentials or query (keys sometimes travel in either)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."

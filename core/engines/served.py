"""The `served` backend: a packaged model or .gguf in a managed llama.cpp `llama-server` that batches every
request in flight (continuous batching over `+parallel=N` slots), spoken to through the `openai` engine.

Prompts are rendered and tokenized here exactly as the in-process `gguf` engine does (the GGUF's vocabulary is
loaded alone, without weights), so `served:X` and `X` see the same tokens. The server is started on first
load, restarted once if it dies, and stopped with its owner. `$POLYGLOT_SERVED` (JSON: spec -> /v1 URL) lets a
process use a server another one already runs (the app hands its servers to its jobs this way).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.chat import check_prompt
from core.engines.base import LoglikelihoodResult, Prompt, check_sampling
from core.engines.gguf import LlamaPrompts
from core.engines.openai_api import OpenAIEngine
from core.engines.spec import ModelSpec
from core.errors import ConfigError, EngineError, ModelFileError, ScoringUnsupported
from core.models import PACKAGED, check_gguf_header, damaged_gguf_error, packaged_gguf

SHARED_ENV = "POLYGLOT_SERVED"
DEFAULTS = {"parallel": 8, "ctx": 4096, "timeout": 600, "cache": 1}  # what a served: spec leaves out


def setting(spec: ModelSpec, key: str) -> int:
    """A served spec's +key=N option, else its default."""
    return spec.option(key, DEFAULTS[key])


class ServerRestarted(EngineError):
    """The server died while this answer was streaming; it was restarted and the request can be sent again."""


def shared_url(spec: str) -> str | None:
    """The /v1 URL of a server another process runs for `spec` ($POLYGLOT_SERVED), if it answers."""
    try:
        url = json.loads(os.environ.get(SHARED_ENV) or "{}").get(spec)
    except json.JSONDecodeError:
        return None
    if not url:
        return None
    try:
        with urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=2) as resp:
            return url if resp.status == 200 else None
    except OSError:
        return None


def gguf_of(spec: ModelSpec) -> Path:
    """The GGUF file a served spec names (a packaged model, or a path)."""
    return packaged_gguf(spec.model) if spec.model in PACKAGED else check_gguf_header(spec.model)


def server_options(spec: ModelSpec):
    """The llama-server settings a served spec asks for (defaults: 8 slots of 4096 tokens)."""
    from core.llama_server import ServerOptions

    return ServerOptions(parallel=setting(spec, "parallel"), ctx=setting(spec, "ctx"), adapters=spec.adapters,
                         cache_prompt=bool(setting(spec, "cache")))


class ServedEngine(LlamaPrompts, OpenAIEngine):
    """A GGUF served by llama-server on 127.0.0.1, owned by this engine (or shared through $POLYGLOT_SERVED)."""

    backend = "served"

    def __init__(self, spec: ModelSpec, *, log: Path | None = None, chat_format: str | None = None,
                 timeout: float | None = None, port: int | None = None):
        from llama_cpp import Llama

        from core.llama_server import LlamaServer

        self.served_spec = spec
        self.path = gguf_of(spec)
        alias = Path(spec.model).stem
        url = shared_url(str(spec))
        self.server = None
        if url is None:  # started first: a file it rejects gets llama.cpp's own reason
            self.server = LlamaServer(self.path, alias, server_options(spec), log=log, port=port).start()
            url = self.server.url
        try:
            # Weights stay in the server; the vocabulary alone renders and tokenizes prompts like the gguf engine.
            self.vocab = Llama(model_path=str(self.path), vocab_only=True, verbose=False)
        except ValueError as exc:
            if self.server:
                self.server.stop()
            raise damaged_gguf_error(self.path) or ModelFileError(f"Cannot read the vocabulary of {self.path}.") \
                from exc
        self._use_vocab(self.vocab, chat_format, spec.model)
        self.adapter: str | None = None
        self._adapter_ids = {name: i for i, (name, _) in enumerate(spec.adapters)}
        self._recover_lock = threading.Lock()
        self._restarted_unanswered = False  # a second death before any answer is not restarted again
        super().__init__(ModelSpec("openai", alias, base_url=url),
                         timeout=timeout or setting(spec, "timeout"), max_retries=2)

    def __repr__(self) -> str:
        return f"ServedEngine({self.served_spec} @ {self.url})"

    def prompt_tokens(self, prompt: str | list[dict]) -> list[int]:
        """The token ids sent for `prompt`: the same as the in-process gguf engine's."""
        return self._prompt_tokens(prompt)

    def set_adapter(self, name: str | None) -> None:
        """Answer with LoRA adapter `name` from now on (None: the base); each request carries its choice."""
        if name is not None and name not in self._adapter_ids:
            raise EngineError(f"No adapter named {name!r}; this model has: {', '.join(self._adapter_ids) or 'none'}.")
        self.adapter = name

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.7, top_p: float = 1.0,
                 stop: Sequence[str] | None = None, seed: int | None = None,
                 grammar: str | None = None) -> Iterator[str]:
        """Stream the reply; `grammar` (GBNF) constrains what the model may write."""
        params = self._request(prompt, max_tokens, temperature, top_p, stop, seed, grammar)
        for chunk in self._stream(self._client.completions.create, stream=True, **params):
            if chunk.choices and chunk.choices[0].text:
                yield chunk.choices[0].text

    def complete_text(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.7, top_p: float = 1.0,
                      stop: Sequence[str] | None = None, seed: int | None = None, grammar: str | None = None) -> str:
        """The whole reply in one response (no per-token events); a dead server is restarted once."""
        params = self._request(prompt, max_tokens, temperature, top_p, stop, seed, grammar)
        seen = self.server.restarts if self.server else 0
        try:
            resp = self._call(self._client.completions.create, **params)
        except EngineError as exc:
            if not self._recover(seen, exc):
                raise
            resp = self._call(self._client.completions.create, **params)
        self._restarted_unanswered = False
        return resp.choices[0].text or "" if resp.choices else ""

    def _request(self, prompt, max_tokens, temperature, top_p, stop, seed, grammar) -> dict:
        """The completions request for `prompt`: its token ids, OpenAI sampling, stops, grammar, LoRA scales."""
        self._check_open()  # a closed engine's stopped server must not be "recovered" by a late request
        prompt = check_prompt(prompt)
        check_sampling(max_tokens, temperature, top_p)
        tokens = self.prompt_tokens(prompt)
        ctx = setting(self.served_spec, "ctx")
        if len(tokens) >= ctx:
            raise EngineError(f"The prompt has {len(tokens)} tokens but a slot holds {ctx}; shorten it or serve "
                              f"the model with +ctx=N.")
        stops = list(stop or ()) + ([] if isinstance(prompt, str) else [s for s in self.format.stop])
        # top_k=0, min_p=0, no repeat penalty: only temperature and top_p shape sampling, as in the OpenAI API
        # and the in-process gguf engine. Greedy asks for top_k=1, the same argmax without sorting the whole
        # vocabulary for every token (measured: 8 concurrent greedy requests 71 -> 82 tokens/s on SmolLM2).
        # The server stops at end-of-generation tokens itself.
        extra: dict[str, Any] = {"top_k": 1 if temperature == 0 else 0, "min_p": 0.0, "repeat_penalty": 1.0,
                                 "cache_prompt": bool(setting(self.served_spec, "cache"))}
        if grammar:
            extra["grammar"] = grammar
        if self._adapter_ids:
            extra["lora"] = [{"id": i, "scale": 1.0 if name == self.adapter else 0.0}
                             for name, i in self._adapter_ids.items()]
        return dict(prompt=tokens, max_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed,
                    stop=stops or None, extra_body=extra)

    def _stream(self, fn, **kwargs):
        """The parent's stream, with one restart of a dead server: sent again if nothing had arrived yet."""
        seen = self.server.restarts if self.server else 0
        yielded = False
        try:
            for chunk in super()._stream(fn, **kwargs):
                yielded = True
                yield chunk
        except EngineError as exc:
            if not self._recover(seen, exc):
                raise
            if yielded:
                raise ServerRestarted(f"llama-server for {self.served_spec} died mid-answer and was restarted; "
                                      f"send the request again.") from exc
            yield from super()._stream(fn, **kwargs)
        self._restarted_unanswered = False

    def _recover(self, seen: int, exc: EngineError) -> bool:
        """True if the server was (or just now got) restarted after dying; False if it is up or gave up."""
        if self.server is None or self._closed:
            return False
        with self._recover_lock:
            if self.server.restarts > seen:
                return True  # another request already restarted it
            if self.server.healthy():
                return False  # a real error, not a crash
            if self._restarted_unanswered:
                raise EngineError(f"llama-server for {self.served_spec} died again right after a restart; its log "
                                  f"{self.server.log} ends with:\n{self.server._tail()[-1500:]}") from exc
            self._restarted_unanswered = True
            print(f"llama-server for {self.served_spec} died; restarted it (log: {self.server.log})", file=sys.stderr)
            self.server.restart()
            self._client = self._client.with_options(base_url=self.server.url)
            self.url = self.server.url
            return True

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LoglikelihoodResult]:
        raise ScoringUnsupported("llama-server does not return prompt log-probabilities (it refuses echo); score "
                                 f"with the in-process gguf backend: {self.served_spec.model}.")

    def info(self) -> dict[str, Any]:
        return {"backend": "served", "spec": str(self.served_spec), "source": str(self.path), "base_url": self.url,
               "chat_format": self.format.name, "parallel": setting(self.served_spec, "parallel"),
               "ctx": setting(self.served_spec, "ctx"), "shared": self.server is None,
               "restarts": self.server.restarts if self.server else 0,
               "adapters": [name for name, _ in self.served_spec.adapters]}

    def close(self) -> None:
        self._closed = True
        super().close()
        if self.server is not None:
            self.server.stop()
        self.vocab.close()


@contextlib.contextmanager
def openai_endpoint(spec_text: str, start: bool = True, log: Path | None = None) -> Iterator[str]:
    """`spec_text` as an `openai:MODEL@URL` spec for the async callers (judge, translate): an openai spec as it
    is; for `served:MODEL` a llama-server started for the block (a placeholder URL when `start` is False, for
    estimates that call nothing). Anything else is refused with the forms that work."""
    from core.engines.spec import parse_spec

    spec = parse_spec(spec_text)
    if spec.backend == "openai":
        yield spec_text
        return
    if spec.backend != "served":
        raise ConfigError(f"{spec_text!r} is not a server; use openai:MODEL[@URL] or served:MODEL (a packaged model "
                          f"or .gguf that llama-server serves here, batched).")
    alias = Path(spec.model).stem
    if not start:
        yield f"openai:{alias}@http://127.0.0.1/v1"
        return
    from core.llama_server import LlamaServer

    url = shared_url(spec_text)
    if url:
        yield f"openai:{alias}@{url}"
        return
    with LlamaServer(gguf_of(spec), alias, server_options(spec), log=log) as server:
        yield f"openai:{alias}@{server.url}"

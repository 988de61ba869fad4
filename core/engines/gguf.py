"""The `gguf` backend: llama.cpp through llama-cpp-python, with the GGUF's own chat template."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from core.chat import check_prompt, render, resolve_format, stop_strings
from core.engines.base import LoglikelihoodResult, Prompt, check_requests, check_sampling, common_prefix, encode_pair
from core.engines.spec import ModelSpec
from core.errors import EngineError, ModelFileError
from core.models import PACKAGED, chat_fallback, check_gguf_header, damaged_gguf_error, packaged_gguf

LOCK_WAIT_S = 120.0  # how long a call waits for another thread's stream before it says the model is busy


class LlamaPrompts:
    """Chat rendering and tokenization as llama.cpp sees a prompt (the GGUF's template or a named fallback, BOS
    once, special tokens parsed); shared by the in-process gguf engine and the served one, so both send the
    same tokens. `_use_vocab` sets it up from a llama-cpp-python `Llama` (full or vocab-only)."""

    _closed = False  # set by close(): the vocabulary is freed with the model, and a freed one crashes

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError(f"This engine ({self}) was closed; load the model again with core.engines.load.")

    def _use_vocab(self, llama, chat_format: str | None, model: str) -> None:
        self._llama = llama
        self.format = resolve_format(llama.metadata.get("tokenizer.chat_template"), chat_format, chat_fallback(model))
        self._add_bos = llama._model.add_bos_token()
        self._bos = self._token_text(llama.token_bos())
        self._eos = self._token_text(llama.token_eos())

    def _token_text(self, token: int) -> str:
        return self._llama.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""

    def _tokens(self, text: str, bos: bool) -> list[int]:
        self._check_open()
        return self._llama.tokenize(text.encode("utf-8"), add_bos=bos and self._add_bos, special=True)

    def _prompt_tokens(self, prompt: str | list[dict]) -> list[int]:
        if isinstance(prompt, str):
            return self._tokens(prompt, bos=True)
        text = render(self.format, prompt, self._bos, self._eos)
        return self._tokens(text, bos=not (self._bos and text.startswith(self._bos)))

    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text, bos=False))


class GGUFEngine(LlamaPrompts):
    """A GGUF model in llama.cpp."""

    backend = "gguf"

    def __init__(self, spec: ModelSpec, *, n_ctx: int = 4096, n_threads: int | None = None,
                 chat_format: str | None = None, n_gpu_layers: int = -1):
        from llama_cpp import Llama

        start = time.perf_counter()
        self.spec = spec
        self.path = packaged_gguf(spec.model) if spec.model in PACKAGED else check_gguf_header(spec.model)
        try:
            self.llm = Llama(model_path=str(self.path), n_ctx=n_ctx, n_batch=min(n_ctx, 512),
                             n_threads=n_threads or os.cpu_count(), n_gpu_layers=n_gpu_layers, verbose=False)
        except ValueError as exc:  # llama.cpp only says "Failed to load model from file"
            raise damaged_gguf_error(self.path) or ModelFileError(
                f"Cannot load {self.path}: llama.cpp rejected it (unsupported architecture or version?). "
                f"Re-export it with a current converter.") from exc
        meta = self.llm.metadata
        self._use_vocab(self.llm, chat_format, spec.model)
        self._lock = threading.Lock()  # llama.cpp's one KV cache: one stream or scoring call at a time
        self._owner: int | None = None  # the thread holding _lock, so a nested call fails instead of hanging
        self._scored_ids: list[int] = []  # tokens whose KV cache loglikelihood left behind
        # Partly clearing a sliding-window (iSWA) cache, as Gemma 3 has, changed scores by up to 0.3 nats
        # here; reuse the prefix cache only for models with full attention.
        self._reuse_kv = f"{meta.get('general.architecture')}.attention.sliding_window" not in meta
        self.load_seconds = time.perf_counter() - start

    @contextmanager
    def _hold(self, what: str) -> Iterator[None]:
        """The model to this thread for one call; a bounded wait, and an error at once for a nested call."""
        if self._owner == threading.get_ident():
            raise EngineError(f"{what} was called while this thread still has a stream of {self.spec} open; "
                              f"finish or close() the first stream before starting another.")
        if not self._lock.acquire(timeout=LOCK_WAIT_S):
            raise EngineError(f"{self.spec} is busy: another stream held it for {LOCK_WAIT_S:.0f} s. Try again, "
                              f"close streams you abandoned, or serve the model (served:{self.spec.model}) to "
                              f"answer several requests at once.")
        try:
            self._check_open()
            self._owner = threading.get_ident()
            yield
        finally:
            self._owner = None
            self._lock.release()

    def __repr__(self) -> str:
        return f"GGUFEngine({self.spec})"

    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.7, top_p: float = 1.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]:
        from llama_cpp import StoppingCriteriaList

        self._check_open()  # the vocabulary is freed with the model
        prompt = check_prompt(prompt)
        check_sampling(max_tokens, temperature, top_p)
        stops = stop_strings(self.format, prompt, stop)
        # llama.cpp drops special tokens from the text it streams, so stops that are special tokens
        # (<start_of_turn>, <|im_start|>) must end generation by id.
        stop_ids = {ids[0] for ids in (self._tokens(s, bos=False) for s in stops) if len(ids) == 1}
        tokens = self._prompt_tokens(prompt)
        if len(tokens) >= self.llm.n_ctx():
            raise EngineError(f"The prompt has {len(tokens)} tokens but the context holds {self.llm.n_ctx()}; "
                              f"shorten it or load the model with a larger n_ctx.")
        with self._hold("generate"):
            self._scored_ids = []  # generation overwrites the KV cache
            # top_k=0 and min_p=0 so that only temperature and top_p shape sampling, as in the OpenAI API.
            for chunk in self.llm.create_completion(
                tokens, max_tokens=max_tokens, temperature=temperature, top_p=top_p, top_k=0, min_p=0.0,
                stop=stops, seed=seed, stream=True,
                stopping_criteria=StoppingCriteriaList([lambda ids, _: int(ids[-1]) in stop_ids]) if stop_ids else None,
            ):
                text = chunk["choices"][0]["text"]
                if text:
                    yield text

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LoglikelihoodResult]:
        self._check_open()
        return [self._score(ctx, cont) for ctx, cont in check_requests(requests)]

    def _score(self, ctx: str, cont: str) -> LoglikelihoodResult:
        llm = self.llm
        bos = llm.token_bos()
        prefix = [bos] if self._add_bos and bos >= 0 else []
        ctx_ids, cont_ids = encode_pair(lambda text: self._tokens(text, bos=False), ctx, cont, prefix,
                                        bos if bos >= 0 else llm.token_eos())
        if len(cont_ids) >= llm.n_ctx():
            raise EngineError(f"A continuation of {len(cont_ids)} tokens does not fit the {llm.n_ctx()}-token "
                              f"context; load the model with a larger n_ctx.")
        ids = (ctx_ids + cont_ids)[-llm.n_ctx():]
        first = len(ids) - len(cont_ids) - 1  # position whose logits predict the first continuation token
        total, greedy = 0.0, True
        with self._hold("loglikelihood"):
            # Keep the KV cache of the prefix shared with the previous request (choices share a context),
            # but recompute from `first` on, whose logits are needed again.
            keep = min(common_prefix(self._scored_ids, ids), first) if self._reuse_kv else 0
            if keep == 0 or not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
                keep = 0
                llm._ctx.kv_cache_clear()
            batch = llm._batch
            for lo in range(keep, len(ids) - 1, llm.n_batch):
                chunk = ids[lo:min(len(ids) - 1, lo + llm.n_batch)]
                batch.set_batch(chunk, n_past=lo, logits_all=False)
                for j in range(len(chunk)):
                    batch.batch.logits[j] = lo + j >= first
                llm._ctx.decode(batch)
                for j in range(max(0, first - lo), len(chunk)):
                    row = np.ctypeslib.as_array(llm._ctx.get_logits_ith(j), shape=(llm.n_vocab(),)).astype(np.float64)
                    target = ids[lo + j + 1]
                    top = row.max()
                    total += float(row[target] - top - np.log(np.exp(row - top).sum()))
                    greedy &= int(row.argmax()) == target
            self._scored_ids = ids[:-1]
            llm.reset()  # generate() must not trust llama-cpp-python's own prefix cache after this
        return LoglikelihoodResult(total, greedy)

    def info(self) -> dict[str, Any]:
        meta = self.llm.metadata
        arch = meta.get("general.architecture", "?")
        return {
            "backend": "gguf", "spec": str(self.spec), "source": str(self.path), "architecture": arch,
            "name": meta.get("general.name"), "parameters": self.llm._model.n_params(),
            "file_type": self.llm._model.desc(), "context_length": self.llm.n_ctx(),
            "trained_context_length": int(meta.get(f"{arch}.context_length", 0)),
            "chat_format": self.format.name, "load_seconds": round(self.load_seconds, 2),
        }

    def close(self) -> None:
        """Free the model once no stream uses it (freeing it under a running decode would crash llama.cpp)."""
        if self._closed:
            return
        with self._hold("close"):
            self._closed = True
            self.llm.close()

"""The `hf` backend: transformers (+ PEFT adapters, switchable by name), on CPU or CUDA."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.chat import check_prompt, cut_at_stop, render, resolve_format, stop_strings
from core.engines.base import LoglikelihoodResult, Prompt, check_requests, check_sampling, encode_pair
from core.engines.hf_convert import converted_dir
from core.engines.hf_scoring import score
from core.engines.spec import ModelSpec
from core.errors import EngineError, ModelFileError
from core.models import PACKAGED, chat_fallback, packaged_gguf

_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def resolve_source(model: str) -> str:
    """Where transformers loads `model` from (a packaged or other GGUF goes through the conversion cache)."""
    if model in PACKAGED:
        return str(converted_dir(packaged_gguf(model)))
    path = Path(model).expanduser()
    if model.endswith(".gguf"):
        return str(converted_dir(path))
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelFileError(f"{path} has no config.json, so it is not a transformers model directory. "
                                 f"Point hf: at the directory that holds config.json and the weights.")
        return str(path)
    if model.startswith(("/", ".", "~")) or not _HUB_ID.match(model):
        raise ModelFileError(f"Model directory not found: {path}. Check the path, or use a packaged model "
                             f"(hf:{next(iter(PACKAGED))}).")
    return model  # a hub id


class HFEngine:
    """A transformers causal LM, optionally with PEFT adapters."""

    backend = "hf"

    def __init__(self, spec: ModelSpec, *, device: str | None = None, chat_format: str | None = None,
                 batch_size: int = 8, max_length: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        start = time.perf_counter()
        self.spec = spec
        self.source = resolve_source(spec.model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.source)
            model = AutoModelForCausalLM.from_pretrained(self.source, dtype=dtype)
        except (OSError, ValueError) as exc:  # missing files; unknown model_type or broken config
            raise ModelFileError(f"Cannot load {self.source!r} with transformers: {str(exc).rstrip('.')}. "
                                 f"Check the path, or, for "
                                 f"a hub id, that the hub is reachable (HF_HUB_OFFLINE unset).") from exc
        self.adapters = [name for name, _ in spec.adapters]
        if spec.adapters:
            model = _attach_adapters(model, spec.adapters)
        self.model = model.to(self.device).eval()
        self.format = resolve_format(self.tokenizer.chat_template, chat_format, chat_fallback(spec.model))
        self.batch_size = batch_size
        self.max_length = max_length or min(getattr(model.config, "max_position_embeddings", 2048) or 2048, 8192)
        self.active_adapter = self.adapters[0] if self.adapters else None
        self._bos: list[int] | None = None
        self._lock = threading.Lock()  # one forward pass at a time; adapters switch between them
        self.load_seconds = time.perf_counter() - start

    # -- adapters ---------------------------------------------------------------
    def set_adapter(self, name: str | None) -> None:
        """Switch to the adapter called `name`, or to the bare base model with None."""
        if name is not None and name not in self.adapters:
            raise EngineError(f"No adapter named {name!r}; loaded adapters: {', '.join(self.adapters) or 'none'}.")
        self.active_adapter = name

    def _adapter_context(self):
        import contextlib

        if not self.adapters:
            return contextlib.nullcontext()
        if self.active_adapter is None:
            return self.model.disable_adapter()
        self.model.set_adapter(self.active_adapter)
        return contextlib.nullcontext()

    # -- tokens -------------------------------------------------------------------
    def _bos_ids(self) -> list[int]:
        """[BOS] if the tokenizer starts every text with it (Gemma), else [] (SmolLM2)."""
        if self._bos is None:
            tok = self.tokenizer
            probe = tok("a", add_special_tokens=True).input_ids
            self._bos = [tok.bos_token_id] if tok.bos_token_id is not None and probe[:1] == [tok.bos_token_id] else []
        return self._bos

    def _prompt_ids(self, prompt: str | list[dict]) -> list[int]:
        tok = self.tokenizer
        if isinstance(prompt, str):
            return self._bos_ids() + tok.encode(prompt, add_special_tokens=False)
        text = render(self.format, prompt, tok.bos_token or "", tok.eos_token or "")
        # Templates that write the BOS themselves must not get a second one.
        bos = [] if tok.bos_token and text.startswith(tok.bos_token) else self._bos_ids()
        return bos + tok.encode(text, add_special_tokens=False)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    # -- generation ---------------------------------------------------------------
    def generate(self, prompt: Prompt, *, max_tokens: int = 256, temperature: float = 0.7, top_p: float = 1.0,
                 stop: Sequence[str] | None = None, seed: int | None = None) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        prompt = check_prompt(prompt)
        check_sampling(max_tokens, temperature, top_p)
        stops = stop_strings(self.format, prompt, stop)
        ids = self._prompt_ids(prompt)
        vocab = self.tokenizer.get_vocab()
        # Stop strings that are special tokens never reach the decoded text: end on their ids.
        eos = [i for i in _as_list(self.model.generation_config.eos_token_id)] + [vocab[s] for s in stops if s in vocab]
        cancel = threading.Event()

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0) if temperature > 0 else dict(
            do_sample=False, temperature=None, top_p=None, top_k=None)
        kwargs = dict(input_ids=torch.tensor([ids], device=self.device), max_new_tokens=max_tokens,
                      eos_token_id=eos or None, pad_token_id=self.tokenizer.pad_token_id or (eos or [0])[0],
                      streamer=streamer, stopping_criteria=StoppingCriteriaList([Cancelled()]), **sampling)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with self._lock, torch.inference_mode(), self._adapter_context():
                    if seed is not None:
                        torch.manual_seed(seed)
                    self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            yield from cut_at_stop(streamer, stops)
        finally:
            cancel.set()  # also when the caller stops reading early
            worker.join()
        if failure:
            raise failure[0]

    def generate_batch(self, prompts: Sequence[Prompt], *, max_tokens: int = 256, temperature: float = 0.7,
                       top_p: float = 1.0, stop: Sequence[str] | None = None, seed: int | None = None) -> list[str]:
        """Answer several prompts in one left-padded `model.generate` call (no streaming)."""
        import torch

        prompts = [check_prompt(p) for p in prompts]
        check_sampling(max_tokens, temperature, top_p)
        rows = [self._prompt_ids(p) for p in prompts]
        stops = [stop_strings(self.format, p, stop) for p in prompts]
        vocab = self.tokenizer.get_vocab()
        eos = _as_list(self.model.generation_config.eos_token_id) + sorted(
            {vocab[s] for row in stops for s in row if s in vocab})
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else (eos or [0])[0]
        width = max(len(r) for r in rows)
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        sampling = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=0) if temperature > 0 else dict(
            do_sample=False, temperature=None, top_p=None, top_k=None)
        with self._lock, torch.inference_mode(), self._adapter_context():
            if seed is not None:
                torch.manual_seed(seed)
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_tokens,
                                      eos_token_id=eos or None, pad_token_id=pad, **sampling)
        texts = self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        return ["".join(cut_at_stop([text], row)) for text, row in zip(texts, stops)]

    # -- scoring ------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LoglikelihoodResult]:
        import torch

        pairs = check_requests(requests)
        tok = self.tokenizer
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        encoded = []
        for ctx, cont in pairs:
            ctx_ids, cont_ids = encode_pair(lambda text: tok.encode(text, add_special_tokens=False), ctx, cont,
                                            self._bos_ids(), start)
            if len(cont_ids) >= self.max_length:
                raise EngineError(f"A continuation of {len(cont_ids)} tokens does not fit the {self.max_length}-token "
                                  f"context; pass a larger max_length.")
            ids = (ctx_ids + cont_ids)[-(self.max_length + 1):]
            encoded.append((ids, len(cont_ids)))
        with self._lock, torch.inference_mode(), self._adapter_context():
            results = score(self.model, encoded, self.batch_size, self.device)
        return results  # type: ignore[return-value]

    def info(self) -> dict[str, Any]:
        cfg = self.model.config
        return {
            "backend": "hf", "spec": str(self.spec), "source": self.source,
            "architecture": getattr(cfg, "model_type", "?"),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "dtype": str(next(self.model.parameters()).dtype).removeprefix("torch."), "device": self.device,
            "context_length": self.max_length, "chat_format": self.format.name,
            "adapters": list(self.adapters), "active_adapter": self.active_adapter,
            "load_seconds": round(self.load_seconds, 2),
        }

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]


def _as_list(x: Any) -> list:
    return [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]


def _attach_adapters(model, adapters: Sequence[tuple[str, str]]):
    from peft import PeftModel

    for i, (name, path) in enumerate(adapters):
        if not (Path(path).expanduser() / "adapter_config.json").exists():
            raise ModelFileError(f"Adapter {name!r}: {path} has no adapter_config.json; point adapter= at a "
                                 f"directory saved by PEFT (save_pretrained).")
        if i == 0:
            model = PeftModel.from_pretrained(model, str(Path(path).expanduser()), adapter_name=name)
        else:
            model.load_adapter(str(Path(path).expanduser()), adapter_name=name)
    return model

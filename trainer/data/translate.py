"""Translate and distill (Bactrian-X): translate each instruction (and its input) into the target languages
with an OpenAI-compatible chat model, then let a teacher model answer the translated instruction.

- Instructions that mention code are skipped (translation mangles code) and reported.
- Calls run concurrently (asyncio, `concurrency` in flight) and each finished call is cached on disk
  (`api_cache.py`), so a rerun after a crash or a kill requests only what is missing.
- `plan` + `estimate` give the request count, tokens and cost before any call (`--dry-run` stops there).
- The client retries 429 / 5xx / timeouts with exponential backoff (`max_retries`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from dataclasses import dataclass, field

from core.api_cache import ApiCache, call_key, cost, estimate_tokens, price_for
from core.api_calls import ApiRefused, EmptyReply, async_client, chat
from core.engines.openai_api import public_url
from core.engines.spec import DEFAULT_OPENAI_URL, parse_spec
from core.errors import ConfigError, DataError, EngineError
from core.languages import get_language
from trainer.data.recipe import Translate
from trainer.data.schema import Row

TRANSLATE_PROMPT = (
    "Translate the following text from {src} to {tgt}. Keep code, names, numbers, URLs, placeholders and the "
    "formatting (line breaks, lists, markdown) unchanged. Do not answer, explain or add anything: reply with "
    "the translation only.\n\n{text}")
EXPANSION = 1.3  # output tokens per input token assumed by the estimate (translations run longer than English)


@dataclass
class Job:
    row: Row
    lang: str
    parts: dict[str, str]  # instruction, input (English)


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    skipped_code: dict[str, list[str]] = field(default_factory=dict)  # keyword -> row ids
    skipped_multiturn: list[str] = field(default_factory=list)
    skipped_existing: int = 0  # (language, id) already in the sources: not paid for twice


def _endpoint(spec_text: str) -> tuple[str, str | None]:
    spec = parse_spec(spec_text)
    if spec.backend != "openai":
        raise ConfigError(f"translate needs an OpenAI-compatible model spec, got {spec_text!r}: use "
                          f"openai:MODEL (api.openai.com), openai:MODEL@URL, or served:MODEL for a packaged model or "
                          f".gguf that llama-server serves here (batched).")
    return spec.model, spec.base_url


def _endpoints(stack: contextlib.ExitStack, start: bool):
    """spec -> openai spec; a served:MODEL translator or teacher is served once, for as long as `stack` lasts."""
    from core.engines.served import openai_endpoint

    resolved: dict[str, str] = {}

    def resolve(spec: str) -> str:
        if spec not in resolved:
            resolved[spec] = stack.enter_context(openai_endpoint(spec, start=start))
        return resolved[spec]

    return resolve


def code_keyword(text: str, keywords: list[str]) -> str | None:
    """The first code keyword found in `text` as a whole word (case-insensitive), or a code fence."""
    if "```" in text:
        return "```"
    lowered = text.lower()
    for kw in keywords:
        if re.search(rf"(?<!\w){re.escape(kw.lower())}(?!\w)", lowered):
            return kw
    return None


def plan(rows: list[Row], t: Translate, existing: set[tuple[str, str]] = frozenset()) -> Plan:
    """Jobs for every single-turn source row and target language, minus skipped code instructions and
    (language, id) pairs the sources already have natively."""
    out = Plan()
    for row in rows:
        turns = [m for m in row.messages if m["role"] != "system"]
        if len(turns) != 2:
            out.skipped_multiturn.append(row.id)
            continue
        parts = {"instruction": row.meta.get("instruction") or turns[0]["content"],
                 "input": row.meta.get("input", "") if row.meta.get("instruction") else ""}
        if t.skip_code:
            kw = code_keyword(parts["instruction"] + "\n" + parts["input"], t.code_keywords)
            if kw:
                out.skipped_code.setdefault(kw, []).append(row.id)
                continue
        for lang in t.languages:
            if (lang, row.id) in existing:
                out.skipped_existing += 1
            else:
                out.jobs.append(Job(row, lang, parts))
    return out


class Distiller:
    """Runs a plan against the translator and teacher endpoints, through the cache."""

    def __init__(self, t: Translate, cache: ApiCache, seed: int = 0, resolve=lambda spec: spec):
        self.t, self.cache, self.seed = t, cache, seed
        self.translator = _endpoint(resolve(t.translator))
        self.teacher = _endpoint(resolve(t.teacher or t.translator))
        self.usage: dict[tuple, list[int]] = {}  # (model, url) -> [prompt tokens, completion tokens]
        self.calls = {"made": 0, "cached": 0, "shared": 0}
        self._inflight: dict[str, asyncio.Future] = {}

    # -- the requests of one job, as (endpoint, messages, params) ------------------------------------------
    def translate_request(self, text: str, lang: str):
        prompt = TRANSLATE_PROMPT.format(src=get_language(self.t.source_lang).name, tgt=get_language(lang).name,
                                         text=text)
        return self.translator, [{"role": "user", "content": prompt}], \
            {"max_tokens": self.t.translate_max_tokens, "temperature": 0.0}

    def teacher_request(self, user: str, lang: str):
        system = self.t.teacher_system.format(language=get_language(lang).name) if self.t.teacher_system else None
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        return self.teacher, messages, {"max_tokens": self.t.max_tokens, "temperature": self.t.temperature,
                                        "seed": self.seed}

    def key(self, request) -> str:
        (model, _), messages, params = request
        return call_key(model, messages, **params)

    # -- estimate ------------------------------------------------------------------------------------------
    def estimate(self, p: Plan) -> dict:
        """Requests, tokens and dollars still to spend; cached calls are free and counted apart."""
        todo = {"requests": 0, "cached": 0}
        tokens: dict[tuple, list[int]] = {}
        for job in p.jobs:
            translated = {}
            for name, text in job.parts.items():
                if not text.strip():
                    translated[name] = ""
                    continue
                req = self.translate_request(text, job.lang)
                hit = self.cache.get(self.key(req))
                if hit:
                    todo["cached"] += 1
                    translated[name] = hit["text"]
                else:
                    todo["requests"] += 1
                    _add(tokens, req[0], estimate_tokens(req[1][0]["content"]), int(estimate_tokens(text) * EXPANSION))
                    translated[name] = None
            answer = job.row.text("assistant")
            out_tokens = min(self.t.max_tokens, int(estimate_tokens(answer) * EXPANSION))
            if all(v is not None for v in translated.values()):
                req = self.teacher_request(_user_turn(translated), job.lang)
                if self.cache.get(self.key(req)):
                    todo["cached"] += 1
                    continue
                prompt_tokens = sum(estimate_tokens(m["content"]) for m in req[1])
            else:
                prompt_tokens = int(sum(estimate_tokens(x) for x in job.parts.values()) * EXPANSION) + 8
            todo["requests"] += 1
            _add(tokens, self.teacher, prompt_tokens, out_tokens)
        return {**todo, "by_model": self._priced(tokens)}

    def _priced(self, tokens: dict[tuple, list[int]]) -> dict:
        out, total = {}, 0.0
        for (model, url), (pt, ct) in tokens.items():
            c = cost(pt, ct, price_for(model, url, self.t.prices))
            endpoint = public_url(url or DEFAULT_OPENAI_URL)
            out[f"{model}@{endpoint}"] = {"model": model, "endpoint": endpoint, "prompt_tokens": pt,
                                          "completion_tokens": ct, "usd": None if c is None else round(c, 4)}
            total = None if c is None or total is None else total + c
        return {"models": out, "usd": None if total is None else round(total, 4)}

    # -- run -----------------------------------------------------------------------------------------------
    async def _call(self, client, request) -> str:
        key = self.key(request)
        hit = self.cache.get(key)
        if hit:
            self.calls["cached"] += 1
            return hit["text"]
        if key in self._inflight:  # the same request from another job (duplicate texts): pay once
            self.calls["shared"] += 1
            return await asyncio.shield(self._inflight[key])
        self._inflight[key] = asyncio.ensure_future(self._request(client, request, key))
        try:
            return await asyncio.shield(self._inflight[key])
        finally:
            self._inflight.pop(key, None)

    async def _request(self, client, request, key: str) -> str:
        (model, url), messages, params = request
        try:
            reply = await chat(client, model, messages, params, self._slots, self.t.api_key_env)
        except EmptyReply as exc:  # paid for, though not kept
            self.calls["made"] += 1
            _add(self.usage, (model, url), *exc.usage)
            raise
        self.calls["made"] += 1
        _add(self.usage, (model, url), reply.prompt_tokens, reply.completion_tokens)
        self.cache.put(key, model, reply.text, reply.prompt_tokens, reply.completion_tokens)
        return reply.text

    async def _job(self, clients, job: Job) -> Row:
        translated = {}
        for name, text in job.parts.items():
            translated[name] = await self._call(clients[self.translator], self.translate_request(text, job.lang)) \
                if text.strip() else ""
        user = _user_turn(translated)
        answer = await self._call(clients[self.teacher], self.teacher_request(user, job.lang))
        return Row(id=job.row.id, lang=job.lang, source=f"translated:{job.row.source}",
                   messages=[{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
                   meta={"translated_from": self.t.source_lang, "translator": self.translator[0],
                         "teacher": self.teacher[0], **{k: v for k, v in translated.items() if v}})

    async def run(self, p: Plan, on_done=None) -> tuple[list[Row], list[dict]]:
        import openai

        self._slots = asyncio.Semaphore(self.t.concurrency)
        key = os.environ.get(self.t.api_key_env) or "no-key"  # local servers take any key
        clients = {ep: async_client(ep[1], key, self.t.timeout, self.t.max_retries)
                   for ep in {self.translator, self.teacher}}
        results: list[Row | None] = [None] * len(p.jobs)
        failures: list[dict] = []
        queue: asyncio.Queue = asyncio.Queue()
        for i in range(len(p.jobs)):
            queue.put_nowait(i)

        async def worker():
            while not queue.empty():
                i = queue.get_nowait()
                job = p.jobs[i]
                try:
                    results[i] = await self._job(clients, job)
                except ApiRefused:
                    raise
                except (openai.APIError, EngineError) as exc:
                    failures.append({"id": job.row.id, "lang": job.lang, "error": _short(exc)})
                if on_done:
                    on_done()

        try:
            async with asyncio.TaskGroup() as group:  # a fatal error cancels the other workers
                for _ in range(self.t.concurrency):
                    group.create_task(worker())
        except* ApiRefused as errors:
            raise DataError(str(errors.exceptions[0])) from None
        finally:
            for client in clients.values():
                await client.close()
        return [r for r in results if r is not None], failures

    def report(self) -> dict:
        return {"calls": dict(self.calls), **self._priced(self.usage)}


def _user_turn(parts: dict[str, str]) -> str:
    return f"{parts['instruction']}\n\n{parts['input']}" if parts.get("input") else parts["instruction"]


def _add(table: dict[tuple, list[int]], key: tuple, prompt_tokens: int, completion_tokens: int) -> None:
    entry = table.setdefault(key, [0, 0])
    entry[0] += prompt_tokens
    entry[1] += completion_tokens


def _short(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 300 else text[:300] + "..."


def translate_and_distill(rows: list[Row], t: Translate, seed: int = 0, dry_run: bool = False,
                          progress=None) -> tuple[list[Row], dict]:
    """Rows in the target languages for the source-language rows; and a report (plan, estimate, usage, cost).

    With `dry_run`, no call is made and no rows are returned: the report holds the plan and the estimate.
    """
    source = [r for r in rows if r.lang == t.source_lang and (not t.sources or r.source.split("/")[0] in t.sources)]
    if t.limit is not None:
        source = source[: t.limit]
    if not source:
        raise DataError(f"translate: no {t.source_lang} rows to translate; check `translate.sources` and the "
                        f"sources' languages.")
    cache = ApiCache(t.cache)
    with contextlib.ExitStack() as stack:
        stack.callback(cache.close)
        distiller = Distiller(t, cache, seed, _endpoints(stack, start=not dry_run))
        p = plan(source, t, {(r.lang, r.id) for r in rows})
        report = {"source_rows": len(source), "jobs": len(p.jobs), "languages": t.languages,
                  "skipped_code": {k: len(v) for k, v in p.skipped_code.items()},
                  "skipped_code_ids": sorted(i for ids in p.skipped_code.values() for i in ids)[:50],
                  "skipped_multiturn": len(p.skipped_multiturn), "skipped_existing": p.skipped_existing,
                  "cache": str(cache.path),
                  "estimate": distiller.estimate(p)}
        est = report["estimate"]["by_model"]["usd"]
        if t.max_cost is not None and (est is None or est > t.max_cost):
            raise DataError(f"translate: the estimated cost ({'unknown' if est is None else f'${est:.2f}'}) is over "
                            f"translate.max_cost=${t.max_cost:.2f}; raise max_cost, lower `limit`, or add prices.")
        if dry_run:
            return [], report
        if progress:
            progress(len(p.jobs))
        rows_out, failures = asyncio.run(distiller.run(p, on_done=progress and (lambda: progress(None))))
        report.update({"done": len(rows_out), "failed": len(failures), "failures": failures[:20],
                       "usage": distiller.report()})
        return rows_out, report

"""`python -m eval judge`: an OpenAI-compatible model judges the answers of `python -m eval generate` runs.

The mode names a protocol of `eval.judge_protocols` (`pairwise`, `scores`, `single`, `likert`, ...): its
prompts, its verdict parser, the calls a question needs and the statistics of the card are the protocol's.

Every judgment is appended to judgments.jsonl with its key (judge model + the exact messages, hashed) as it
arrives, so a rerun after a kill makes only the calls that are missing. Unparseable replies are kept with the
reason, counted and listed, never guessed and never re-asked."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from core.api_cache import call_key, cost, estimate_tokens, price_for
from core.api_calls import ApiRefused, EmptyReply, async_client, chat
from core.engines.openai_api import public_url
from core.engines.spec import parse_spec
from core.errors import ConfigError
from core.run_dir import CARD
from eval import judge_weighted
from eval.judge_plan import Job, plan_jobs, prompt_chooser
from eval.judge_protocols import Protocol, get_protocol
from eval.results import append_items, check_same_run, read_card, read_items, settle_items, write_card


def _answers(run: Path) -> tuple[dict, dict]:
    """A generate run's card and its records by (lang, id)."""
    card = read_card(run)
    if card is None or "set" not in card:
        raise ConfigError(f"{run} is not a `python -m eval generate` run (no card.json with a prompt set); "
                          f"answer the questions first: python -m eval generate --model SPEC --set SET --out {run}")
    return card, {(r["lang"], r["id"]): r for r in read_items(run)}


def answers_for(source: str | Path, out: Path, questions: str | None, langs: list[str] | None, limit: int | None,
                data_dir: Path | None, turns: int) -> Path:
    """A generate run dir: `source` itself when it is one, else `source` is a model spec whose answers to
    `questions` are generated (resumably) into `out` first."""
    if (Path(source) / CARD).is_file():
        return Path(source)
    if not questions:
        raise ConfigError(f"{source} is not an answers directory; to answer with it as a model spec, pass "
                          f"--questions SET (python -m eval tasks lists the sets).")
    from eval.generate import run_generate

    run_generate(str(source), questions, out, langs=langs, limit=limit, data_dir=data_dir, turns=turns,
                 max_tokens=512)
    return out


def _references(data_dir: Path | None, prompt_set: str, lang: str) -> dict[str, list[str]]:
    """FastChat's reference answers (reference_answer/gpt-4.jsonl beside the questions), by question id."""
    from core.readers import read_local
    from eval.prompt_sets import SETS, get_set

    if data_dir is None or prompt_set not in SETS:  # a user's .jsonl file has none (and may have moved since)
        return {}
    path = data_dir / Path(get_set(prompt_set).files(lang)[0]).parent / "reference_answer" / "gpt-4.jsonl"
    if not path.is_file():
        return {}
    return {str(r["question_id"]): r["choices"][0]["turns"] for _, r in read_local(path) if isinstance(r, dict)}


def _parse(protocol: Protocol, job: Job, reply: str) -> tuple[object, str]:
    """(value, problem) of one reply; a pair of scores is stored as a JSON list."""
    out = protocol.parse(reply, job.prompt)
    value = list(out.value) if isinstance(out.value, tuple) else out.value
    return value, out.problem


def _grammar(protocol: Protocol, job: Job, constrain: bool) -> dict:
    """The request's llama.cpp grammar field (empty unless the verdict is constrained)."""
    return {"grammar": protocol.grammar(job.prompt.verdicts)} if constrain else {}


def _extras(protocol: Protocol, job: Job, constrain: bool, weighted: bool) -> dict:
    """What a call sends besides the messages and sampling, all part of its key: grammar, logprobs request."""
    return _grammar(protocol, job, constrain) | (judge_weighted.request_params(constrain) if weighted else {})


def _key(judge_model: str, job: Job, max_tokens: int, grammar: dict | None = None) -> str:
    return call_key(judge_model, job.messages, temperature=0.0, max_tokens=max_tokens, **(grammar or {}))


def estimate(mode: str, jobs: list[Job], judge_model: str, base_url: str | None, max_tokens: int,
             prices: dict | None = None) -> dict:
    """Calls still to make, their estimated tokens and dollars (local servers cost nothing)."""
    prompt_tokens = sum(estimate_tokens(m["content"]) for j in jobs for m in j.messages)
    completion = len(jobs) * min(max_tokens, get_protocol(mode).reply_tokens)
    usd = cost(prompt_tokens, completion, price_for(judge_model, base_url, prices or {}))
    return {"calls": len(jobs), "prompt_tokens": prompt_tokens, "completion_tokens": completion,
            "usd": None if usd is None else round(usd, 4)}


async def _judge_all(groups: list[list[Job]], protocol: Protocol, spec, out: Path, concurrency: int, max_tokens: int,
                     timeout: float, max_retries: int, key_env: str, bar, constrain: bool = False,
                     weighted: bool = False) -> list[dict]:
    """One call per group (jobs whose messages are identical, e.g. two models' identical answers), a record
    per job, appended as each reply arrives; `weighted` asks for logprobs and stores the verdict distribution."""
    slots = asyncio.Semaphore(concurrency)
    client = async_client(spec.base_url, os.environ.get(key_env, ""), timeout, max_retries)
    queue: asyncio.Queue = asyncio.Queue()
    for group in groups:
        queue.put_nowait(group)
    failures: list[dict] = []

    async def worker():
        import openai

        while not queue.empty():
            group = queue.get_nowait()
            job = group[0]
            try:
                grammar = _grammar(protocol, job, constrain)
                extras = _extras(protocol, job, constrain, weighted)
                params = {"temperature": 0.0, "max_tokens": max_tokens} | \
                    {k: v for k, v in extras.items() if k not in grammar} | ({"extra_body": grammar} if grammar else {})
                reply = await chat(client, spec.model, job.messages, params, slots, key_env)
                value, problem = _parse(protocol, job, reply.text)
                weights = await _weigh(protocol, job, reply, value, params, client, spec, slots, key_env) \
                    if weighted else None
            except openai.BadRequestError as exc:
                if weighted and "logprob" in str(exc).lower():  # an endpoint that refuses logprobs refuses them all
                    raise ApiRefused(_no_logprobs(client, f"refused them ({str(exc)[:200]})")) from exc
                failures.append({"lang": job.lang, "id": job.id, "turn": job.turn, "side": job.side,
                                 "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            except (openai.APIError, EmptyReply) as exc:  # not written: the next run asks again
                failures.append({"lang": job.lang, "id": job.id, "turn": job.turn, "side": job.side,
                                 "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            else:
                append_items(out, [_record(protocol.name, j, spec.model, max_tokens, reply.text, value, problem,
                                           reply.prompt_tokens if j is job else 0,
                                           reply.completion_tokens if j is job else 0, extras, weights)
                                   for j in group])
            bar.update(1)

    try:
        async with asyncio.TaskGroup() as group:  # a refused key or unknown model stops every worker
            for _ in range(concurrency):
                group.create_task(worker())
    except* ApiRefused as errors:
        raise ConfigError(str(errors.exceptions[0])) from None
    finally:
        await client.close()
    return failures


def _no_logprobs(client, what: str) -> str:
    return (f"--weighted reads the judge's log-probabilities, and {public_url(str(client.base_url))} {what}. Use a "
            f"judge that returns them (served:MODEL, a llama.cpp llama-server, or an OpenAI model that accepts "
            f"logprobs), or leave out --weighted.")


async def _weigh(protocol: Protocol, job: Job, reply, value, params: dict, client, spec, slots, key_env) -> dict:
    """The verdict distribution of one reply (eval.judge_weighted); a reply without logprobs is refused."""
    tokens = judge_weighted.tokens_of(reply.logprobs)
    if not tokens:
        raise ApiRefused(_no_logprobs(client, "returned none"))

    async def ask(messages, more):  # the extra call a bare "1" needs (is it "10"?), with the same logprobs request
        try:
            # no grammar: it would start the verdict again, and the probabilities are read before it anyway
            cont = await chat(client, spec.model, messages, {**params, "extra_body": {}, **more}, slots, key_env)
        except EmptyReply:  # the judge would end its reply there: no "0" follows
            return []
        return judge_weighted.tokens_of(cont.logprobs)

    return await judge_weighted.distribution(protocol.name, job.prompt.verdicts, job.messages, tokens, value, ask)


def _record(mode, job: Job, judge_model: str, max_tokens: int, reply, value, problem, pt=0, ct=0,
            grammar: dict | None = None, weights: dict | None = None) -> dict:
    return {"key": _key(judge_model, job, max_tokens, grammar), "mode": mode, "lang": job.lang, "id": job.id,
            "category": job.category, "turn": job.turn, "side": job.side, "prompt": job.prompt.name,
            "lengths": list(job.lengths), "reply": reply, "value": value, "problem": problem,
            "forced": job.forced is not None, "prompt_tokens": pt, "completion_tokens": ct} | \
        ({"weighted": weights} if weights is not None else {})  # only in --weighted runs


def run_judge(mode: str, a: Path, judge: str, out: Path, **options) -> dict:
    """Judge the answers in generate run `a` (see `_run_judge`); a `served:MODEL` judge is served by llama-server
    on 127.0.0.1 for the run (batched), and named by its spec in the run's identity, not by its port."""
    from core.engines.served import openai_endpoint

    with openai_endpoint(judge, start=not options.get("dry_run")) as endpoint:
        if endpoint != judge:
            options["judge_label"] = options.get("judge_label") or judge
        return _run_judge(mode, a, endpoint, out, **options)


def _answer_sets(a: Path, b: Path | None, langs: list[str] | None, limit: int | None):
    """Both answer runs, checked: the same prompt set, answers in every language asked for; the first `limit`
    questions per language of `a`. Returns (card_a, records_a, card_b, records_b, langs)."""
    card_a, rec_a = _answers(a)
    card_b, rec_b = _answers(b) if b is not None else (None, None)
    if card_b is not None and card_b["set"] != card_a["set"]:
        raise ConfigError(f"{a} answered {card_a['set']} and {b} answered {card_b['set']}: judge the same set.")
    langs = langs or list(card_a["langs"])
    answered = sorted({lang for lang, _ in rec_a})
    missing = [lang for lang in langs if lang not in answered]
    if missing:
        raise ConfigError(f"{a} has no answers in {', '.join(missing)}; it has: {', '.join(answered) or 'none'}.")
    if limit is not None:  # the first `limit` questions per language, in the answer files' order
        kept = {k for lang in langs for k in [k for k in rec_a if k[0] == lang][:limit]}
        rec_a = {k: v for k, v in rec_a.items() if k in kept}
    return card_a, rec_a, card_b, rec_b, langs


def _check_resumable(out: Path, identity: dict, constrain: bool, weighted: bool = False) -> None:
    """Refuse an `out` that holds another judge run, or the same run with(out) a grammar or logprobs."""
    out.mkdir(parents=True, exist_ok=True)
    check_same_run(out, identity)
    earlier = read_card(out)
    for field, flag, on in (("constrained", "--constrain", constrain), ("weighted", "--weighted", weighted)):
        if earlier is not None and bool(earlier.get(field)) != on:
            raise ConfigError(f"{out} holds a judge run with {field}={bool(earlier.get(field))}; resuming with "
                              f"{field}={on} would mix two kinds of judgment. Pass another --out, or "
                              f"{'leave out' if on else 'add'} {flag}.")


def _slot_of(record: dict) -> tuple:
    """What one judgment answers: its call key, language, question, turn and side."""
    return record["key"], record["lang"], record["id"], record["turn"], record["side"]


def _free_records(mode: str, todo: list[Job], replies: dict, key, extras, model: str, max_tokens: int,
                  weighted: bool) -> list[dict]:
    """The judgments decided without a call: a forced score, or the same messages already judged for another job."""
    forced = [_record(mode, j, model, max_tokens, None, j.forced["value"], "", grammar=extras(j),
                      weights=judge_weighted.forced(j.forced["value"]) if weighted else None)
              for j in todo if j.forced]
    reused = [_record(mode, j, model, max_tokens, replies[key(j)]["reply"], replies[key(j)]["value"],
                      replies[key(j)]["problem"], grammar=extras(j), weights=replies[key(j)].get("weighted"))
              for j in todo if j.forced is None and key(j) in replies]
    return forced + reused


def _usage(records: list[dict], spec, prices: dict | None) -> dict:
    """Tokens the judgments used and what they cost (None where the judge's price is unknown)."""
    usage = [sum(r["prompt_tokens"] for r in records), sum(r["completion_tokens"] for r in records)]
    usd = cost(*usage, price_for(spec.model, spec.base_url, prices or {}))
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "usd": None if usd is None else round(usd, 4)}


def _run_judge(mode: str, a: Path, judge: str, out: Path, b: Path | None = None, langs: list[str] | None = None,
              limit: int | None = None, data_dir: Path | None = None, turns: int = 2, concurrency: int = 4,
              max_tokens: int = 1024, english_prompts: bool = False, dry_run: bool = False, timeout: float = 120.0,
              max_retries: int = 5, key_env: str = "OPENAI_API_KEY", prices: dict | None = None,
              log=print, judge_label: str | None = None, constrain: bool = False, weighted: bool = False) -> dict:
    """Judge the answers in generate run `a` (against `b` for a pairwise protocol); resumes in `out`.
    `prices` maps a judge model to its (input, output) USD per million tokens, over the built-in table.
    `judge_label` names the judge in the run's identity instead of its URL (a judge served on a new port each
    time, as the experiments do, is still the same judge when the run resumes). `constrain` sends a llama.cpp
    grammar that lets the judge write only the verdict (llama.cpp servers only; for small local judges).
    `weighted` also reads each verdict's probability from the judge's logprobs (eval.judge_weighted)."""
    from core.versions import versions
    protocol = get_protocol(mode)
    if weighted:
        judge_weighted.check_mode(mode)
    if protocol.pairwise and b is None:
        raise ConfigError(f"--mode {mode} compares two answer sets: pass --b too.")
    spec = parse_spec(judge)
    if spec.backend != "openai":
        raise ConfigError(f"The judge must be an OpenAI-compatible endpoint (openai:MODEL or openai:MODEL@URL) or a "
                          f"local model served here (served:MODEL), not {judge!r}.")
    card_a, rec_a, card_b, rec_b, langs = _answer_sets(a, b, langs, limit)
    refs = {lang: _references(data_dir, card_a["set"], lang) for lang in langs}
    jobs = plan_jobs(mode, rec_a, rec_b, langs, turns, prompt_chooser(mode, data_dir, english_prompts), refs)
    identity = {"mode": mode,
                "judge": judge_label or f"{spec.model}@{public_url(spec.base_url or 'https://api.openai.com/v1')}",
                "a": card_a["model"], "b": card_b["model"] if card_b else None, "set": card_a["set"],
                "turns": turns, "max_tokens": max_tokens, "english_prompts": english_prompts} | \
        ({"constrained": True} if constrain else {}) | \
        ({"weighted": True} if weighted else {})  # absent when off, so earlier runs still resume
    _check_resumable(out, identity, constrain, weighted)
    key = lambda j: _key(spec.model, j, max_tokens, _extras(protocol, j, constrain, weighted))  # noqa: E731
    slot = lambda j: (key(j), j.lang, j.id, j.turn, j.side)  # noqa: E731
    existing = read_items(out)
    done = {_slot_of(r) for r in existing}
    replies = {r["key"]: r for r in existing if not r["forced"]}
    todo = [j for j in jobs if slot(j) not in done]
    groups: dict[str, list[Job]] = {}
    for j in todo:
        if j.forced is None and key(j) not in replies:
            groups.setdefault(key(j), []).append(j)
    calls = list(groups.values())
    missing_in_b = sum(k not in rec_b for k in rec_a if k[0] in langs) if rec_b else 0  # not judged: say so
    plan = estimate(mode, [g[0] for g in calls], spec.model, spec.base_url, max_tokens, prices) | \
        {"already_judged": len(jobs) - len(todo), "missing_in_b": missing_in_b}
    if dry_run:  # also kept on disk, where the app reads it before offering the paid run
        (out / "estimate.json").write_text(json.dumps({**identity, "dry_run": plan}, indent=2, ensure_ascii=False))
        return {**identity, "dry_run": plan}
    free = _free_records(mode, todo, replies, key, lambda j: _extras(protocol, j, constrain, weighted), spec.model,
                         max_tokens, weighted)
    if free:
        append_items(out, free)
    card = {**identity, "langs": langs, "limit": limit, "a_dir": str(a), "b_dir": str(b) if b else None,
            "status": "running", "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "plan": plan,
            "versions": versions()}
    write_card(out, card)
    started = time.perf_counter()
    with tqdm(total=len(calls), desc=f"judge {mode}", unit="call") as bar:
        failures = asyncio.run(_judge_all(calls, protocol, spec, out, concurrency, max_tokens, timeout, max_retries,
                                          key_env, bar, constrain, weighted)) if calls else []
    seconds = time.perf_counter() - started
    slots = [slot(j) for j in jobs]
    settle_items(out, slots, _slot_of)
    wanted = set(slots)
    records = [r for r in read_items(out) if _slot_of(r) in wanted]
    card |= {"status": "done" if not failures else "incomplete", "failures": failures,
             "calls_this_run": len(calls) - len(failures), "seconds": round(seconds, 1),
             "judgments_per_s": round((len(calls) - len(failures)) / seconds, 3) if calls and seconds else None,
             "usage": _usage(records, spec, prices),
             "results": protocol.summarize(records) |
             ({"weighted": judge_weighted.summarize(mode, records)} if weighted else {}),
             "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_card(out, card)
    if failures:
        log(f"{len(failures)} calls failed (listed in the card); run the same command again to retry them.")
    return card

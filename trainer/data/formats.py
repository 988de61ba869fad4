"""Record formats of the public instruction datasets, each turned into chat messages (or aligned text).

Per-record formats map one raw record to `(messages, meta)`; `oasst` (message trees) and `squad`
(paragraphs of SQuAD-style QA files) work on a whole file. Field names follow the datasets as published:
Alpaca / Bactrian-X `instruction,input,output`, Dolly `instruction,context,response,category`, ShareGPT
`conversations:[{from,value}]`, LIMA `conversations:[str...]`, OpenAI-style `messages:[{role,content}]`,
LLaMA-Factory's `history` of earlier `[user, assistant]` pairs, self-instruct seed tasks, MT-Bench questions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainer.data.schema import BadRowError

Messages = list[dict[str, str]]


def _field(record: Any, name: str, required: bool = True) -> str:
    if not isinstance(record, dict):
        raise BadRowError(f"not an object: {type(record).__name__}")
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRowError(f"missing field {name!r}" + (" (no response)" if name in ("output", "response") else ""))
        return ""
    if not isinstance(value, str):
        raise BadRowError(f"field {name!r} is {type(value).__name__}, not text")
    return value


def _user_turn(instruction: str, extra: str) -> str:
    return f"{instruction}\n\n{extra}" if extra.strip() else instruction


def _history(record: dict) -> Messages:
    history = record.get("history") or []
    if not isinstance(history, list):
        raise BadRowError("field 'history' is not a list of [user, assistant] pairs")
    out: Messages = []
    for pair in history:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise BadRowError("field 'history' holds an item that is not a [user, assistant] pair")
        out += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    return out


def alpaca(record: Any) -> tuple[Messages, dict]:
    """Alpaca, Bactrian-X, LIMA/OASST exports of LLaMA-Factory (`history`), optional `system`."""
    instruction, extra = _field(record, "instruction"), _field(record, "input", required=False)
    output = _field(record, "output")
    system = _field(record, "system", required=False)
    messages = ([{"role": "system", "content": system}] if system else []) + _history(record)
    messages += [{"role": "user", "content": _user_turn(instruction, extra)}, {"role": "assistant", "content": output}]
    return messages, {"instruction": instruction, "input": extra}


def dolly(record: Any) -> tuple[Messages, dict]:
    instruction, context = _field(record, "instruction"), _field(record, "context", required=False)
    response = _field(record, "response")
    messages = [{"role": "user", "content": _user_turn(instruction, context)},
                {"role": "assistant", "content": response}]
    return messages, {"instruction": instruction, "input": context, "category": record.get("category")}


def seed_tasks(record: Any) -> tuple[Messages, dict]:
    """Self-instruct seed tasks (Alpaca's 175, Vigogne's French ones): the first instance is the example."""
    instruction = _field(record, "instruction")
    instances = record.get("instances")
    if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
        raise BadRowError("field 'instances' is not a non-empty list of {input, output}")
    extra, output = _field(instances[0], "input", required=False), _field(instances[0], "output")
    messages = [{"role": "user", "content": _user_turn(instruction, extra)}, {"role": "assistant", "content": output}]
    return messages, {"instruction": instruction, "input": extra, "name": record.get("name")}


_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "chatgpt": "assistant", "bard": "assistant", "bing": "assistant", "model": "assistant",
                   "system": "system"}


def sharegpt(record: Any) -> tuple[Messages, dict]:
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list):
        raise BadRowError("missing field 'conversations' (a list of {from, value})")
    messages = []
    for t in turns:
        role = _SHAREGPT_ROLES.get(str(t.get("from", "")).lower()) if isinstance(t, dict) else None
        if role is None:
            raise BadRowError(f"unknown speaker {t.get('from') if isinstance(t, dict) else t!r} in 'conversations'")
        messages.append({"role": role, "content": t.get("value")})
    return messages, {}


def lima(record: Any) -> tuple[Messages, dict]:
    """GAIR/lima on the hub: `conversations` is a list of strings, user first, alternating."""
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
        raise BadRowError("missing field 'conversations' (a list of strings)")
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)], \
        {"origin": record.get("source")}


def messages(record: Any) -> tuple[Messages, dict]:
    """OpenAI-style `messages: [{role, content}]` (Vigogne's OASST export, most chat SFT files)."""
    msgs = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(msgs, list):
        raise BadRowError("missing field 'messages' (a list of {role, content})")
    return [{"role": m.get("role"), "content": m.get("content")} if isinstance(m, dict) else m for m in msgs], {}


def mt_bench(record: Any, answers: dict | None = None) -> tuple[Messages, dict]:
    """MT-Bench questions (`turns`), answered by the reference answers joined on `question_id`."""
    turns = record.get("turns") if isinstance(record, dict) else None
    if not isinstance(turns, list) or not turns:
        raise BadRowError("missing field 'turns'")
    qid = record.get("question_id")
    if answers is None:
        raise BadRowError("no reference answers: set `answers:` to the reference_answer file in the recipe")
    answer_turns = answers.get(qid)
    if not answer_turns:
        raise BadRowError(f"no reference answer for question_id {qid} (no response)")
    if len(answer_turns) < len(turns):
        raise BadRowError(f"question_id {qid} has {len(turns)} turns but its reference answer only "
                          f"{len(answer_turns)}")
    messages = []
    for q, a in zip(turns, answer_turns):
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return messages, {"category": record.get("category")}


def mt_bench_answers(records) -> dict:
    """question_id -> answer turns, from an MT-Bench `reference_answer/*.jsonl` file."""
    out = {}
    for _, rec in records:
        if isinstance(rec, dict) and rec.get("choices"):
            out[rec.get("question_id")] = rec["choices"][0].get("turns")
    return out


PER_RECORD: dict[str, Callable[..., tuple[Messages, dict]]] = {
    "alpaca": alpaca, "bactrian-x": alpaca, "dolly": dolly, "seed_tasks": seed_tasks, "sharegpt": sharegpt,
    "lima": lima, "messages": messages, "mt_bench": mt_bench,
}
# Formats whose records carry their own id field (used unless the recipe sets `id_field`).
DEFAULT_ID_FIELD = {"bactrian-x": "id", "seed_tasks": "id", "messages": "id", "mt_bench": "question_id",
                    "lima": None, "alpaca": None, "dolly": None, "sharegpt": "id",
                    "oasst": "id"}  # oasst_threads gives each thread its message_tree_id as "id"


def oasst_threads(records: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """OpenAssistant message trees (oasst1/oasst2 rows) -> one `messages` record per tree, following the
    best-ranked reply at every turn (the "top-1" threads Vigogne and Guanaco train on)."""
    by_id, children = {}, {}
    for where, rec in records:
        if not isinstance(rec, dict) or "message_id" not in rec:
            continue
        by_id[rec["message_id"]] = (where, rec)
        children.setdefault(rec.get("parent_id"), []).append(rec)
    threads = []
    for root in children.get(None, []):
        where, _ = by_id[root["message_id"]]
        path, node = [root], root
        while children.get(node["message_id"]):
            kids = [k for k in children[node["message_id"]] if not k.get("deleted")]
            if not kids:
                break
            node = min(kids, key=lambda k: k.get("rank") if k.get("rank") is not None else float("inf"))
            path.append(node)
        if path[-1].get("role") == "prompter":
            path = path[:-1]  # an unanswered last question teaches nothing
        msgs = [{"role": "user" if m.get("role") == "prompter" else "assistant", "content": m.get("text")}
                for m in path]
        threads.append((where, {"id": root.get("message_tree_id") or root["message_id"], "messages": msgs,
                                "lang": root.get("lang")}))
    return threads


def squad_paragraphs(doc: Any) -> list[tuple[str, str]]:
    """(id, context) for every paragraph of a SQuAD-style file; the id is the paragraph's first question id,
    which XQuAD shares across languages."""
    out = []
    for article in doc.get("data", []):
        for para in article.get("paragraphs", []):
            if para.get("qas"):
                out.append((str(para["qas"][0]["id"]), para["context"]))
    return out

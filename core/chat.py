"""Chat messages <-> prompt text: the model's own chat template, or a named fallback for base models.

Both the hf and gguf engines render through here, so one conversation becomes the same text
(and, with the same tokenizer, the same tokens) whichever backend runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import EngineError

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatFormat:
    """A Jinja chat template plus the strings that end an assistant turn in it."""

    name: str  # "model" for the tokenizer's own template, else the fallback's name
    template: str
    stop: tuple[str, ...] = ()


# Named formats for base models that ship without a template (Gemma base, Llama-2 base, ...).
NAMED_FORMATS: dict[str, ChatFormat] = {
    "gemma": ChatFormat(
        "gemma",
        "{{ bos_token }}{% set ns = namespace(system='') %}"
        "{% for m in messages %}"
        "{% if m['role'] == 'system' %}{% set ns.system = m['content'] + '\n\n' %}"
        "{% else %}{% set role = 'model' if m['role'] == 'assistant' else 'user' %}"
        "{{ '<start_of_turn>' + role + '\n' + (ns.system if role == 'user' else '') + m['content'] | trim"
        " + '<end_of_turn>\n' }}{% if role == 'user' %}{% set ns.system = '' %}{% endif %}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}",
        stop=("<end_of_turn>", "<start_of_turn>"),
    ),
    "chatml": ChatFormat(
        "chatml",
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
        stop=("<|im_end|>", "<|im_start|>"),
    ),
    "alpaca": ChatFormat(
        "alpaca",
        "{{ bos_token }}{% for m in messages %}"
        "{% if m['role'] == 'system' %}{{ m['content'] + '\n\n' }}"
        "{% elif m['role'] == 'user' %}{{ '### Instruction:\n' + m['content'] + '\n\n' }}"
        "{% else %}{{ '### Response:\n' + m['content'] + eos_token + '\n\n' }}{% endif %}"
        "{% endfor %}{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}",
        stop=("### Instruction:", "### Response:"),
    ),
    "guanaco": ChatFormat(
        "guanaco",
        "{{ bos_token }}{% for m in messages %}"
        "{% if m['role'] == 'system' %}{{ m['content'] + '\n' }}"
        "{% elif m['role'] == 'user' %}{{ '### Human: ' + m['content'] + '\n' }}"
        "{% else %}{{ '### Assistant: ' + m['content'] + eos_token + '\n' }}{% endif %}"
        "{% endfor %}{% if add_generation_prompt %}{{ '### Assistant:' }}{% endif %}",
        stop=("### Human:",),
    ),
}


def resolve_format(model_template: str | None, requested: str | None = None,
                   fallback: str = "alpaca") -> ChatFormat:
    """Pick the chat format: `requested` (a name, a .jinja file or a template string), else the
    model's own template, else the named `fallback`."""
    if requested:
        if requested in NAMED_FORMATS:
            return NAMED_FORMATS[requested]
        if "{%" in requested or "{{" in requested:
            return ChatFormat("custom", requested)
        if requested.endswith(".jinja"):
            path = Path(requested).expanduser()
            if not path.is_file():
                raise EngineError(f"Chat template file not found: {path}.")
            return ChatFormat(path.stem, path.read_text(encoding="utf-8"))
        raise EngineError(f"Unknown chat format {requested!r}. Use one of {', '.join(NAMED_FORMATS)}, "
                          f"a path to a .jinja file, or a Jinja template string.")
    if model_template:
        return ChatFormat("model", model_template)
    log.warning("The model has no chat template; using the %r fallback format.", fallback)
    return NAMED_FORMATS[fallback]


def check_messages(messages: Sequence[dict]) -> list[dict]:
    """Validate a list of chat messages, returning plain {role, content} dicts."""
    if not messages:
        raise EngineError("The conversation is empty: pass at least one {'role': 'user', 'content': ...} message.")
    clean = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise EngineError(f"Message {i} is malformed ({m!r}): each message needs a role in {ROLES} "
                              f"and a string content.")
        clean.append({"role": m["role"], "content": m["content"]})
    if not any(m["role"] == "user" and m["content"].strip() for m in clean):
        raise EngineError("The prompt is empty: the conversation has no user message with text in it.")
    return clean


def check_prompt(prompt: str | Sequence[dict]) -> str | list[dict]:
    """Validate a generation prompt: a non-empty string (raw completion) or chat messages."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise EngineError("The prompt is empty: pass some text, or a list of chat messages.")
        return prompt
    return check_messages(prompt)


def render(fmt: ChatFormat, messages: Sequence[dict], bos_token: str = "", eos_token: str = "",
           add_generation_prompt: bool = True) -> str:
    """Render messages to prompt text ending with the assistant's turn opener (or, for training, without it).

    A conversation that ends with an assistant message is continued: the reply starts with that text (a
    forced response prefix, as XQuAD's "Based on the passage, the answer to the question is")."""
    from jinja2 import TemplateError
    from transformers.utils.chat_template_utils import render_jinja_template

    if add_generation_prompt and len(messages) > 1 and messages[-1].get("role") == "assistant":
        return render(fmt, messages[:-1], bos_token, eos_token) + messages[-1]["content"]

    try:
        rendered, _ = render_jinja_template(
            [check_messages(messages)], chat_template=fmt.template, add_generation_prompt=add_generation_prompt,
            bos_token=bos_token, eos_token=eos_token,
        )
    except TemplateError as exc:  # templates reject e.g. a system role or non-alternating turns
        raise EngineError(f"The {fmt.name!r} chat template rejected this conversation: {exc}. Adjust the "
                          f"messages or pass another chat_format.") from exc
    return rendered[0]


def stop_strings(fmt: ChatFormat, prompt: str | Sequence[dict], stop: Sequence[str] | None) -> list[str]:
    """The caller's stop strings, plus the chat format's turn ends when the prompt is a conversation."""
    return list(stop or []) + (list(fmt.stop) if not isinstance(prompt, str) else [])


def cut_at_stop(chunks: Iterable[str], stop: Sequence[str]) -> Iterator[str]:
    """Stream `chunks` until the first stop string, which is not emitted.

    Text that could be the start of a stop string is held back until it is decided.
    """
    stop = [s for s in stop if s]
    if not stop:
        yield from chunks
        return
    pending = ""
    for chunk in chunks:
        pending += chunk
        hits = [i for i in (pending.find(s) for s in stop) if i >= 0]
        if hits:
            if min(hits):
                yield pending[: min(hits)]
            return
        keep = max((k for s in stop for k in range(1, len(s)) if pending.endswith(s[:k])), default=0)
        if len(pending) > keep:
            yield pending[: len(pending) - keep]
            pending = pending[len(pending) - keep:]
    if pending:
        yield pending

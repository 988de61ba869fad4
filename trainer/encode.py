"""Conversation -> token ids and labels for supervised fine-tuning: the loss covers the assistant turns
(every one of a multi-turn conversation, each with the marker that ends it) and nothing else.

The conversation is rendered once with the chat format; the assistant contents are located in that text
and mapped to tokens through the tokenizer's offset mapping, so the labels follow the exact tokens the
model sees, whatever the template adds around the turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.chat import ChatFormat, render
from core.errors import DataError

IGNORE = -100
# Strings that close an assistant turn in common templates; the one right after a response is trained too,
# so the tuned model learns to stop.
END_MARKERS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>", "</s>", "<|endoftext|>", "<eos>")


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    cut: int = 0  # tokens beyond max_length, dropped

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)


def assistant_spans(fmt: ChatFormat, messages: Sequence[dict], text: str, bos: str, eos: str,
                    markers: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of each assistant turn in the rendered `text`, each extended over its end marker.

    An answer starts where the conversation before it, rendered with the assistant opener, ends; searching
    for the answer's text instead could hit the template's own words ("a" inside "<|im_start|>").
    """
    spans, pos = [], 0
    for k, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        content = m["content"].strip()
        prefix = render(fmt, messages[:k], bos, eos, add_generation_prompt=True) if k else ""
        if k and text.startswith(prefix) and text[len(prefix):].lstrip().startswith(content):
            start = len(prefix) + (len(text[len(prefix):]) - len(text[len(prefix):].lstrip()))
        else:  # templates whose prefix render differs (e.g. they drop old turns): search after the last span
            start = text.find(content, pos)
        if start < 0:
            raise DataError("An assistant message is not in the rendered conversation: the chat template "
                            "changes message text; use a template that keeps it (e.g. chat_template: chatml).")
        end = start + len(content)
        gap = len(text[end:]) - len(text[end:].lstrip(" \t"))  # Llama-2 style "answer </s>"
        for marker in markers:
            if marker and text.startswith(marker, end + gap):
                end += gap + len(marker)
                break
        spans.append((start, end))
        pos = end
    return spans


def encode(tokenizer, fmt: ChatFormat, messages: Sequence[dict], max_length: int) -> Encoded:
    """Token ids and labels (IGNORE outside assistant turns), cut to `max_length`."""
    bos, eos = tokenizer.bos_token or "", tokenizer.eos_token or ""
    text = render(fmt, messages, bos, eos, add_generation_prompt=False)
    markers = [*fmt.stop, *([eos] if eos else []), *END_MARKERS]
    spans = assistant_spans(fmt, messages, text, bos, eos, markers)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    if bos and not text.startswith(bos) and _adds_bos(tokenizer):
        ids, offsets = [tokenizer.bos_token_id, *ids], [(0, 0), *offsets]
    labels = [IGNORE] * len(ids)
    k = 0
    for i, (start, end) in enumerate(offsets):
        while k < len(spans) and spans[k][1] <= start:
            k += 1
        # A token that overlaps a span is trained (a merge such as "\nHello" straddles the boundary).
        if k < len(spans) and end > start and start < spans[k][1] and end > spans[k][0]:
            labels[i] = ids[i]
    return Encoded(ids[:max_length], labels[:max_length], max(0, len(ids) - max_length))


def _adds_bos(tokenizer) -> bool:
    probe = tokenizer("a", add_special_tokens=True).input_ids
    return tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id]

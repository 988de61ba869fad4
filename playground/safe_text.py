"""Untrusted text (model answers, prompts, uploads, logs) on the page: always escaped, never rendered.

Gradio's Markdown would turn `![](http://…)` into an image every visitor's browser fetches, and its Chatbot
treats a message as HTML once Markdown is off; so text is HTML-escaped here, by the one function per place."""

from __future__ import annotations

import html


def plain(text: str) -> str:
    """`text` for a gr.Markdown or gr.HTML: an escaped <pre> block (Markdown and LaTeX leave <pre> alone),
    wrapped in the page's font by the app's `.plain` style. Newlines become &#10; so that no blank line can
    end the HTML block and hand the rest of the text to the Markdown parser."""
    return f'<pre class="plain">{html.escape(str(text)).replace(chr(10), "&#10;")}</pre>'


def to_chat(text: str) -> str:
    """A message for a gr.Chatbot made with `CHATBOT_SAFE`: shown exactly as typed or generated."""
    return html.escape(str(text))


def from_chat(text: str) -> str:
    """The text a `to_chat` message holds (the exact inverse, so the models see what was typed)."""
    return html.unescape(text)


CHATBOT_SAFE = {"render_markdown": False, "sanitize_html": True, "latex_delimiters": []}


def plain_marked(pieces: list[tuple[str, str]]) -> str:
    """Pieces of untrusted text, shown one after the other as `plain` shows text; a piece with a note (e.g. the
    language a line was found in) is wrapped in <mark> and followed by its note in brackets. Text and notes are
    escaped alike."""
    def one(text: str, note: str) -> str:
        shown = html.escape(str(text)).replace(chr(10), "&#10;")
        return f"<mark>{shown}</mark> <small>[{html.escape(str(note))}]</small>" if note else shown

    return f'<pre class="plain">{"".join(one(text, note) for text, note in pieces)}</pre>'

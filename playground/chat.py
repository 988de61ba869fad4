"""The chat tab: talk to one model, see which language it answered in."""

from __future__ import annotations

import gradio as gr

from core.errors import PolyglotError
from core.languages import detect_batch, get_language
from core.models import PACKAGED
from playground.engines import get_engine

MODEL_CHOICES = [*PACKAGED, *(f"hf:{name}" for name in PACKAGED)]


def language_line(prompt: str, reply: str) -> str:
    """One markdown line saying which language the prompt and the reply are in."""
    (p_code, p_conf), (r_code, r_conf) = detect_batch([prompt, reply])

    def name(code: str, conf: float) -> str:
        if code == "und":
            return "no language detected"
        try:
            label = get_language(code).name
        except PolyglotError:  # lid.176 knows languages beyond the table
            label = code
        return f"{label} (`{code}`, {conf:.2f})"

    verdict = "✅ same language" if p_code == r_code else "⚠️ language switch"
    return f"**Prompt:** {name(p_code, p_conf)} · **Reply:** {name(r_code, r_conf)} · {verdict}"


def respond(message: str, history: list[dict], spec: str, max_tokens: int, temperature: float, top_p: float,
            progress=gr.Progress()):  # noqa: B008 (Gradio injects progress through this default)
    """Stream the model's reply into the chat.

    A user error (bad spec, missing file, empty message) shows as a warning and in the status line; the
    chat and the typed message stay as they were, so nothing is lost.
    """
    before = list(history or [])
    if not (message or "").strip():
        gr.Warning("The message is empty: type something first.")
        yield message, before, ""
        return
    turn = [*before, {"role": "user", "content": message}]
    reply = ""
    try:
        progress(0, desc=f"Loading {spec} ...")
        engine = get_engine(spec)
        messages = [{"role": m["role"], "content": _text(m["content"])} for m in turn]
        for chunk in engine.generate(messages, max_tokens=int(max_tokens), temperature=float(temperature),
                                     top_p=float(top_p)):
            reply += chunk
            yield "", [*turn, {"role": "assistant", "content": reply}], ""
    except PolyglotError as exc:
        gr.Warning(str(exc))
        yield message, before, f"**Error:**\n```text\n{exc}\n```"
        return
    yield "", [*turn, {"role": "assistant", "content": reply}], language_line(message, reply)


def _text(content) -> str:
    """Gradio may hand back message content as a list of parts; the engines want plain text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def chat_tab(default_model: str) -> None:
    """Lay out the chat tab inside the current Blocks."""
    with gr.Row():
        model = gr.Dropdown(MODEL_CHOICES, value=default_model, allow_custom_value=True, label="Model spec",
                            info="A packaged model, hf:DIR, gguf:FILE.gguf or openai:MODEL@URL", elem_id="model")
    chatbot = gr.Chatbot(label="Chat", elem_id="chatbot", height=420)
    status = gr.Markdown(elem_id="language-status")
    with gr.Row():
        box = gr.Textbox(placeholder="Write in any language ...", show_label=False, scale=5, elem_id="message")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
        clear = gr.Button("Clear", scale=1, elem_id="clear")
    with gr.Accordion("Sampling", open=False):
        max_tokens = gr.Slider(1, 1024, value=128, step=1, label="max_tokens")
        temperature = gr.Slider(0, 2, value=0.7, step=0.05, label="temperature")
        top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="top_p")
    inputs = [box, chatbot, model, max_tokens, temperature, top_p]
    send.click(respond, inputs, [box, chatbot, status])
    box.submit(respond, inputs, [box, chatbot, status])
    clear.click(lambda: ([], ""), None, [chatbot, status])

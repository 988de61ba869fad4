"""The Arena tab: one prompt to 2-4 models side by side, streamed, with a language badge under each answer."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gradio as gr

from core.answer_health import UNHEALTHY, check_answer
from core.confusion import NOT_IDENTIFIABLE, UNKNOWN, score
from core.engines.spec import parse_spec
from core.errors import PolyglotError
from core.fewshot_scaffold import STOP, is_base_model, scaffold
from core.languages import LID176_LABELS, detect, detect_batch, get_language
from playground.engines import lease
from playground.safe_text import CHATBOT_SAFE, from_chat, plain, to_chat
from playground.settings import Settings

MAX_MODELS = 4


@dataclass(frozen=True)
class Sampling:
    system: str = ""
    max_tokens: int = 128
    temperature: float = 0.7
    top_p: float = 1.0
    seed: int = 0  # with temperature above 0, the same seed gives the same answer (one model, one machine)


def language_name(code: str) -> str:
    """'German' for 'de'; lid.176 knows languages beyond our table, which keep their code."""
    try:
        return get_language(code).name
    except PolyglotError:
        return code


def _line_share(own_text: str, want: str) -> str:
    """How many of the answer's lines (LCB scoring: lines of 5+ tokens) are in `want`, e.g. "2 of 5 lines in
    English"; empty when no line is long enough to score."""
    conf = score(own_text, want)
    if not conf.scored:
        return ""
    n = len(conf.lines)
    of = f"of {n} line" if n == 1 else f"of {n} lines"
    wrong = Counter("an unidentified language" if x.language == UNKNOWN else language_name(x.language)
                    for x in conf.wrong_lines)
    if not wrong:
        return f"{n} {of} in {language_name(want)}"
    if len(wrong) == 1:
        return f"{len(conf.wrong_lines)} {of} in {next(iter(wrong))}"
    return f"{len(conf.wrong_lines)} {of} in other languages ({', '.join(f'{k} {v}' for k, v in wrong.items())})"


def target_code(target: str | None) -> str:
    """Our code for the Arena's expected answer language: a listed "is (Icelandic)" or any typed code or name that
    langcodes resolves ("Basque", "eus_Latn"); "" for none. An unknown one raises, naming close matches."""
    text = re.sub(r" \(.*\)$", "", (target or "").strip())
    return get_language(text).code if text else ""


def badge(prompt: str, reply: str, target: str = "", tokens_per_s: float | None = None, adapter: str = "") -> str:
    """One markdown line under an answer: the language of its own text (without what it copied from the prompt)
    and confidence, a match mark against the prompt's language (or `target`), how many of its lines are in another
    language (LCB line-level confusion), its health flags (echo, loop, empty), tokens/s and the adapter routed to."""
    health = check_answer(prompt, reply)
    (p_code, _), (r_code, r_conf) = detect_batch([prompt, health.own_text])
    want = target or p_code
    if not health.own_text and "echo" in health.flags:
        said = "only the prompt, echoed"
    elif r_code == "und":
        said = "no language detected"
    else:
        said = f"{language_name(r_code)} (`{r_code}`, {r_conf:.2f})"
    lines = ""
    if want == "und":
        mark = "no language to match in the prompt"
    elif want not in LID176_LABELS:
        mark = f"{language_name(want)} (`{want}`) is {NOT_IDENTIFIABLE}"
    else:
        lines = _line_share(health.own_text, want)
        if r_code == want:
            mark = f"✅ matches {'the target' if target else 'the prompt'} ({language_name(want)})"
        else:
            mark = f"⚠️ mismatch: expected {language_name(want)} (`{want}`)"
    parts = [f"**Answer:** {said}", mark]
    if lines:
        parts.append(lines)
    unhealthy = [f for f in health.flags if f in UNHEALTHY]
    if unhealthy:
        parts.append(f"⚠️ {', '.join(unhealthy)}")
    if tokens_per_s is not None:
        parts.append(f"{tokens_per_s:.1f} tokens/s")
    if adapter:
        parts.append(f"adapter: {adapter}")
    return " · ".join(parts)


def route_adapter(spec: str, lang: str) -> str | None:
    """The adapter of `spec` for language `lang`: one named after it, or one whose training card lists it;
    None (the base model) when none does."""
    for name, directory in parse_spec(spec).adapters:
        if name == lang:
            return name
        card = Path(directory) / "polyglot_card.json"
        if card.is_file() and lang in json.loads(card.read_text()).get("languages", []):
            return name
    return None


def _text(content) -> str:
    """Gradio may hand back message content as a list of parts; the engines want plain text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _raw(shown: list[dict]) -> list[dict]:
    """A chat as the models see it, from a Chatbot's (escaped) value."""
    return [{"role": m["role"], "content": from_chat(_text(m["content"]))} for m in shown]


def _shown(history: list[dict]) -> list[dict]:
    """A chat as a Chatbot shows it: every message escaped, so no answer or prompt renders as HTML or Markdown."""
    return [{"role": m["role"], "content": to_chat(m["content"])} for m in history]


def _error(text: str) -> str:
    return plain(f"Error: {text}")


def _messages(history: list[dict], system: str) -> list[dict]:
    head = [{"role": "system", "content": system}] if system.strip() else []
    return head + [{"role": m["role"], "content": _text(m["content"])} for m in history]


def model_prompt(spec: str, history: list[dict], system: str = "") -> tuple[str | list[dict], list[str] | None]:
    """What `spec` is sent and its stop strings: a base model gets a few-shot Q/A completion in the prompt's
    language (through a chat template it echoes and loops), an instruct model the chat messages."""
    messages = _messages(history, system)
    return (scaffold(messages), list(STOP)) if is_base_model(spec) else (messages, None)


def base_note(spec: str) -> str:
    """The badge line's note for a base model (empty for an instruct model)."""
    return "base model: run as a few-shot completion" if is_base_model(spec) else ""


def stream_answers(message: str, histories: list[list[dict]], specs: list[str], sampling: Sampling,
                   route: bool = False):
    """Send `message` to every model at once; yield (histories, events) as chunks arrive, where events[i] is
    None while model i writes, then ("done", seconds, adapter, tokens/s or None) or ("error", text). Closing the
    generator (Stop, or the visitor leaving) stops the models: each worker closes its stream at its next chunk and
    releases its engine lease."""
    turns = [[*h, {"role": "user", "content": message}] for h in histories]
    replies = [""] * len(specs)
    events: list = [None] * len(specs)
    inbox: queue.Queue = queue.Queue()
    stop = threading.Event()
    lang = detect(message)[0] if route else "und"

    def work(i: int, spec: str) -> None:
        try:
            # The lease ends with this block however the worker leaves it, so an engine evicted meanwhile is
            # closed only after this column is done with it.
            with lease(spec) as engine:
                if stop.is_set():  # the visitor left while the model loaded
                    return
                adapter = route_adapter(spec, lang) if route and getattr(engine, "adapters", None) else None
                if getattr(engine, "adapters", None):
                    engine.set_adapter(adapter)  # None: the base model, when no adapter covers the language
                prompt, stops = model_prompt(spec, turns[i], sampling.system)
                started, reply = time.perf_counter(), ""
                # closing() ends the backend's generation (its thread, request or llama.cpp lock) on any exit.
                with contextlib.closing(engine.generate(prompt, max_tokens=sampling.max_tokens, stop=stops,
                                                        temperature=sampling.temperature,
                                                        top_p=sampling.top_p, seed=sampling.seed)) as stream:
                    for chunk in stream:
                        if stop.is_set():
                            return
                        reply += chunk
                        inbox.put((i, "chunk", chunk))
                seconds = time.perf_counter() - started
                # Counted under the lease: counting later could reload a model evicted meanwhile.
                rate = engine.count_tokens(reply) / seconds if seconds > 0 and reply else None
            inbox.put((i, "done", (seconds, adapter or "", rate)))
        except PolyglotError as exc:
            inbox.put((i, "error", str(exc)))
        except Exception as exc:  # a bug, but one column failing must not take the others down
            inbox.put((i, "error", f"{type(exc).__name__}: {exc}"))

    threads = [threading.Thread(target=work, args=(i, s), daemon=True) for i, s in enumerate(specs)]
    for t in threads:
        t.start()
    try:
        while any(e is None for e in events):
            i, kind, payload = inbox.get()
            if kind == "chunk":
                replies[i] += payload
            elif kind == "done":
                events[i] = ("done", *payload)
            else:
                events[i] = ("error", payload)
            yield [[*turns[i], {"role": "assistant", "content": replies[i]}] if events[i] is None
                   or events[i][0] == "done" else list(histories[i]) for i in range(len(specs))], list(events)
    finally:
        stop.set()


def arena_turn(settings: Settings, message: str, n_models: int, system: str, target: str, route: bool,
               max_tokens: int, temperature: float, top_p: float, seed: float | None, *columns):
    """The Send handler: yields (prompt box, *chatbots, *badges). Bad input warns and changes nothing."""
    specs, shown = list(columns[:MAX_MODELS]), [list(h or []) for h in columns[MAX_MODELS:2 * MAX_MODELS]]
    histories = [_raw(h) for h in shown]
    badges = list(columns[2 * MAX_MODELS:])
    n = int(n_models)
    if not (message or "").strip():
        gr.Warning("The prompt is empty: type something first (or click an example).")
        yield message, *shown, *badges
        return
    try:
        settings.check_prompt(message)
        code = target_code(target)
        active = settings.check_models(specs[:n])
        turns = sum(m["role"] == "user" for m in histories[0])
        if settings.public and turns >= settings.limits.max_turns:
            raise PolyglotError(f"This conversation has {turns} turns, this public app's limit: "
                                f"click Clear to start a new one.")
    except PolyglotError as exc:
        gr.Warning(str(exc).splitlines()[0])
        yield message, *shown, *[_error(exc) if i < n else b for i, b in enumerate(badges)]
        return
    sampling = Sampling(system or "", settings.cap_tokens(max_tokens), float(temperature), float(top_p),
                        int(seed or 0))
    asked = [_shown([*h, {"role": "user", "content": message}]) for h in histories[:n]]
    yield "", *asked, *shown[n:], *["*writing ...*"] * n, *badges[n:]
    final: set[int] = set()  # columns whose badge is written: checked once, not again at every other chunk
    for live, events in stream_answers(message, histories[:n], active, sampling, route=route):
        for i, event in enumerate(events):
            if event is None:
                badges[i] = "*writing ...*"
            elif event[0] == "error":
                badges[i] = _error(event[1])
            elif i not in final:
                reply = _text(live[i][-1]["content"])
                note = base_note(active[i])
                badges[i] = badge(message, reply, code, event[3], event[2]) + (f" · {note}" if note else "")
                final.add(i)
        yield "", *(_shown(h) for h in live), *shown[n:], *badges


def regenerate(settings: Settings, n_models: int, system: str, target: str, route: bool, max_tokens: int,
               temperature: float, top_p: float, seed: float | None, *columns):
    """Ask the last prompt again: each column's last answer is replaced."""
    histories = [list(h or []) for h in columns[MAX_MODELS:2 * MAX_MODELS]]
    users = [i for i, m in enumerate(histories[0]) if m["role"] == "user"]
    if not users:
        gr.Warning("Nothing to regenerate yet: send a prompt first.")
        yield "", *histories, *columns[2 * MAX_MODELS:]
        return
    last = from_chat(_text(histories[0][users[-1]]["content"]))
    cut = [h[:max((j for j, m in enumerate(h) if m["role"] == "user"), default=len(h))] for h in histories]
    yield from arena_turn(settings, last, n_models, system, target, route, max_tokens, temperature, top_p, seed,
                          *columns[:MAX_MODELS], *cut, *columns[2 * MAX_MODELS:])


def chat_once(settings: Settings, message: str, model: str, max_tokens: int = 64, temperature: float = 0.0,
              seed: int = 0) -> dict:
    """One chat turn (the `/chat` API): the reply, its language and confidence, seconds, tokens/s and the
    max_tokens used (a public app caps it)."""
    if not (message or "").strip():
        raise gr.Error("The message is empty.")
    max_tokens = settings.cap_tokens(max_tokens)
    try:
        settings.check_prompt(message)
        spec = settings.check_model(model)
        with lease(spec) as engine:
            prompt, stops = model_prompt(spec, [{"role": "user", "content": message}])
            started = time.perf_counter()
            reply = "".join(engine.generate(prompt, max_tokens=int(max_tokens), temperature=float(temperature),
                                            stop=stops, seed=int(seed)))
            seconds = time.perf_counter() - started
            rate = round(engine.count_tokens(reply) / seconds, 2) if reply and seconds else None
    except PolyglotError as exc:
        raise gr.Error(str(exc).splitlines()[0]) from exc
    lang, conf = detect(reply)
    return {"reply": reply, "language": lang, "confidence": round(conf, 3), "seconds": round(seconds, 3),
            "tokens_per_s": rate, "max_tokens": max_tokens, "seed": int(seed)}


def _picked(i: int, spec: str):
    """Column i's chat label and badge after its picker changed: a base model is named as one."""
    try:
        note = base_note(spec or "")
    except PolyglotError:  # a half-typed custom spec: Send will say what is wrong with it
        note = ""
    return gr.Chatbot(label=f"Model {i + 1}" + (f" ({note})" if note else "")), note


def example_prompts() -> list[list[str]]:
    """The built-in example prompts, the first of each language (the `examples` prompt set)."""
    from eval.prompt_sets import get_set, load_prompts

    ps = get_set("examples")
    return [[load_prompts(ps, lang, None, limit=1)[0].turns[0]] for lang in ps.langs]


def arena_tab(settings: Settings) -> dict:
    """Lay out the Arena inside the current Blocks; returns the model pickers (other tabs load into them)."""
    from core.languages import table

    public = settings.public
    with gr.Row():
        n_models = gr.Radio([2, 3, 4], value=2, label="Models side by side", elem_id="arena-n", scale=1)
        target = gr.Dropdown(["", *(f"{c} ({lang.name})" for c, lang in table().items())], value="",
                             allow_custom_value=True, label="Expected answer language",
                             info="empty: the prompt's own language; or type any code or name", scale=2)
        route = gr.Checkbox(False, label="Route by language",
                            info="use the adapter trained on the prompt's language, else the base model", scale=1)
    pickers, bots, badges, cols = [], [], [], []
    with gr.Row(equal_height=False):
        for i in range(MAX_MODELS):
            default = settings.default_models[i % len(settings.default_models)]
            with gr.Column(visible=i < 2, min_width=240) as col:
                pickers.append(gr.Dropdown(settings.model_choices, value=default, allow_custom_value=not public,
                                           label=f"Model {i + 1}", elem_id=f"arena-model-{i}",
                                           info=None if public else "packaged, hf:DIR, gguf:FILE, openai:MODEL@URL"))
                bots.append(gr.Chatbot(label=f"Model {i + 1}", height=360, elem_id=f"arena-chat-{i}",
                                       **CHATBOT_SAFE))
                badges.append(gr.Markdown(base_note(default), elem_id=f"arena-badge-{i}"))
            cols.append(col)
    with gr.Row():
        box = gr.Textbox(placeholder="Write in any language ...", show_label=False, scale=6, elem_id="arena-prompt")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="arena-send")
    with gr.Row():
        stop = gr.Button("Stop", elem_id="arena-stop")
        regen = gr.Button("Regenerate", elem_id="arena-regen")
        clear = gr.Button("Clear", elem_id="arena-clear")
    with gr.Accordion("System prompt and sampling", open=False):
        system = gr.Textbox(label="System prompt", lines=2)
        max_tokens = gr.Slider(1, settings.limits.max_tokens if public else 1024, value=128, step=1,
                               label="max_tokens")
        temperature = gr.Slider(0, 2, value=0.7, step=0.05, label="temperature")
        top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="top_p")
        seed = gr.Number(0, precision=0, minimum=0, label="seed (the same seed, settings and model give the "
                                                          "same answer on this machine)", elem_id="arena-seed")
    gr.Examples(example_prompts(), inputs=[box], label="Example prompts (16 languages)", examples_per_page=16)

    shared = [n_models, system, target, route, max_tokens, temperature, top_p, seed, *pickers, *bots, *badges]
    outputs = [box, *bots, *badges]
    turn, again = partial(arena_turn, settings), partial(regenerate, settings)
    events = [send.click(turn, [box, *shared], outputs, api_name="arena"),
              box.submit(turn, [box, *shared], outputs, api_visibility="private"),
              regen.click(again, shared, outputs, api_visibility="private")]
    stop.click(None, cancels=events)
    clear.click(lambda: ([[]] * MAX_MODELS + [""] * MAX_MODELS), None, [*bots, *badges],
                api_visibility="private")
    n_models.change(lambda n: [gr.Column(visible=i < int(n)) for i in range(MAX_MODELS)], n_models, cols,
                    api_visibility="private")
    for i, picker in enumerate(pickers):
        # A picked base model says so at once, before its first (few-shot) answer.
        picker.change(partial(_picked, i), picker, [bots[i], badges[i]], api_visibility="private")

    def chat(message: str, model: str = "smollm2-135m", max_tokens: int = 64, temperature: float = 0.0,
             seed: int = 0) -> dict:
        """One chat turn: the reply, its language and tokens/s (the same seed gives the same sampled reply)."""
        return chat_once(settings, message, model, max_tokens, temperature, seed)

    gr.api(chat, api_name="chat")
    return {"pickers": pickers, "n_models": n_models}

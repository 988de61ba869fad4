"""A public app in headless Chromium: answers and prompts full of Markdown, HTML and outside images are shown
as text (nothing rendered, no request to the pixel server), and every tab is screenshot in Latin, CJK,
Arabic and Devanagari text. An echo model (an OpenAI-compatible server answering with the prompt) makes the
answers contain exactly the markup sent."""

from __future__ import annotations

import pytest

from tests.echo_server import EchoServer, PixelServer
from tests.servers import chromium_page, free_port, run_uploaded_language_check, serve

pytestmark = pytest.mark.slow
TIMEOUT = 240_000
SCRIPTS = {"fr": "Pourquoi le ciel est-il bleu ? Réponds en deux phrases.",
           "zh": "天空为什么是蓝色的？请用两句话回答。", "ar": "لماذا السماء زرقاء؟ أجب في جملتين.",
           "hi": "आसमान नीला क्यों होता है? दो वाक्यों में बताइए।"}


@pytest.fixture(scope="module")
def servers():
    echo, pixel = EchoServer(), PixelServer()
    yield echo, pixel
    echo.close()
    pixel.close()


@pytest.fixture(scope="module")
def evil(servers):
    port = servers[1].port
    return (f"**bold** _it_ <b>tag</b> `code` $$x^2$$\n- item\n![](http://127.0.0.1:{port}/md) "
            f"<img src='http://127.0.0.1:{port}/img'> [link](http://127.0.0.1:{port}/link) &amp;")


@pytest.fixture(scope="module")
def echo_spec(servers):
    return f"openai:echo@{servers[0].url}"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, echo_spec):
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    runs = tmp_path_factory.mktemp("runs")
    with serve(["app.py", "--public", "--runs-dir", str(runs), "--port", str(port)], f"http://127.0.0.1:{port}/",
               log, env={"POLYGLOT_ALLOWED_MODELS": echo_spec, "OPENAI_API_KEY": "sk-echo"}):
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots_public")


@pytest.fixture(scope="module")
def page(app_url, shots):
    with chromium_page(app_url) as pg:
        pg.wait_for_selector("#arena-send", timeout=60_000)
        yield pg


def _ask(page, text: str) -> list[str]:
    page.locator("#arena-prompt textarea").fill(text)
    page.locator("#arena-send").click()
    page.wait_for_function("document.querySelector('#arena-badge-0').innerText.includes('writing')", timeout=60_000)
    page.wait_for_function(
        "[0, 1].every(i => { const t = document.querySelector('#arena-badge-' + i).innerText;"
        " return !t.includes('writing') && (t.includes('Answer:') || t.includes('Error')); })", timeout=TIMEOUT)
    return [page.locator(f"#arena-badge-{i}").inner_text() for i in (0, 1)]


def _pick(page, i: int, spec: str) -> None:
    """Choose `spec` in Arena column i by clicking its option (a public app's picker takes no typed value)."""
    page.locator(f"#arena-model-{i} input").click()
    page.get_by_role("option").filter(has_text=spec).first.click()
    page.wait_for_function(f"document.querySelector('#arena-model-{i} input').value === {spec!r}", timeout=30_000)


def test_the_first_screen_pairs_the_instruct_model_with_the_base_model_run_as_a_completion(page, shots):
    page.screenshot(path=str(shots / "first_screen.png"), full_page=True)
    assert page.locator("#arena-model-0 input").input_value() == "smollm2-135m"
    assert page.locator("#arena-model-1 input").input_value() == "gemma3-270m"
    assert "base model" in page.locator("#arena-badge-1").inner_text()
    for lang in ("zh", "hi"):  # CJK and Devanagari; the language check below sends all four scripts
        prompt = SCRIPTS[lang]
        badges = _ask(page, prompt)
        page.screenshot(path=str(shots / f"arena_{lang}.png"), full_page=True)
        assert all("Answer:" in b for b in badges), badges
        assert "base model" in badges[1]
        gemma = page.locator("#arena-chat-1").inner_text()
        assert gemma.count(prompt) == 1  # the base model did not echo the prompt back (only the user turn shows it)
    page.locator("#arena-clear").click()


def test_markup_in_answers_and_prompts_is_shown_as_text_and_fetches_nothing(page, shots, servers, evil, echo_spec):
    _pick(page, 0, echo_spec)
    _ask(page, evil)
    page.screenshot(path=str(shots / "arena_markup.png"), full_page=True)
    for i in (0, 1):
        chat = page.locator(f"#arena-chat-{i}")
        text, markup = chat.inner_text(), chat.inner_html()
        assert "**bold**" in text and "<b>tag</b>" in text and "![](http://127.0.0.1:" in text, text
        assert "<strong" not in markup and "<em>" not in markup and "<img" not in markup and "katex" not in markup
    assert page.locator("#arena-chat-0").inner_text().count("<b>tag</b>") == 2  # the prompt and its echo
    page.wait_for_timeout(1500)
    assert servers[1].hits == []


def test_language_check_shows_markup_escaped_the_file_name_and_the_plot(page, shots, servers, evil, echo_spec,
                                                                       tmp_path):
    import json

    page.get_by_role("tab", name="Language check").click()
    upload = tmp_path / "holdout.jsonl"
    rows = [{"lang": lang, "prompt": f"{prompt} {evil}"} for lang, prompt in SCRIPTS.items()]
    upload.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    page.locator("#lc-models input").click()
    page.get_by_role("option").filter(has_text="openai:echo").first.click()
    page.keyboard.press("Escape")
    run_uploaded_language_check(page, upload, limit=1, max_tokens=24, timeout=TIMEOUT)
    # the agreement plot of an uploaded set is drawn (an <img> that loaded, not an empty panel)
    page.locator("#lc-plots").scroll_into_view_if_needed()  # below the listed answers: its images load when seen
    page.wait_for_function("[...document.querySelectorAll('#lc-plots img')]"
                           ".some(i => i.complete && i.naturalWidth > 0)", timeout=60_000)
    page.screenshot(path=str(shots / "language_check_markup.png"), full_page=True)
    table = page.locator("#lc-table").inner_text()
    assert "holdout-" in table and "/tmp/" not in table and "visitors" not in table  # the name, no server path
    results = page.locator("#lc-results")
    assert "<b>tag</b>" in results.inner_text() and "<img" not in results.inner_html().replace("&lt;img", "")
    assert "<strong" not in results.inner_html()
    page_text = page.content()
    assert "/visitors/" not in page_text and "/tmp/pytest" not in page_text
    page.wait_for_timeout(1500)
    assert servers[1].hits == []


@pytest.mark.parametrize("tab", ["Benchmarks", "Judge", "Human eval", "Models and runs"])
def test_every_tab_renders_for_a_visitor(page, shots, tab):
    page.get_by_role("tab", name=tab).click()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / f"{tab.lower().replace(' ', '_')}.png"), full_page=True)
    body = page.locator("body").inner_text()
    assert "Error" not in body.replace("Errors", "") and "Traceback" not in body
    assert "/tmp/" not in body and "/root/" not in body  # no server path on a public page

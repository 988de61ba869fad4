"""`python app.py` in headless Chromium: chat with the default packaged model and see the language check."""

from __future__ import annotations

import shutil

import pytest

from tests.servers import free_port, serve

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    # No arguments, as a user starts it; the port comes from Gradio's own variable to avoid clashes.
    with serve(["app.py"], f"http://127.0.0.1:{port}/", log, env={"GRADIO_SERVER_PORT": str(port)}):
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def page(app_url, tmp_path_factory):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test does this).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        pg = browser.new_page()
        pg.goto(app_url)
        yield pg
        pg.screenshot(path=str(tmp_path_factory.getbasetemp() / "app.png"))
        browser.close()


def test_chat_round_trip_with_language_check(page):
    page.get_by_placeholder("Write in any language").fill("What is the capital of France?")
    page.locator("#send").click()
    bot = page.locator("#chatbot .message.bot, #chatbot [data-testid='bot']").last
    bot.wait_for(timeout=120_000)
    status = page.locator("#language-status")
    page.wait_for_function("document.querySelector('#language-status').innerText.includes('Reply')",
                           timeout=120_000)
    assert bot.inner_text().strip()
    text = status.inner_text()
    assert "Prompt: English (en" in text and "Reply:" in text


def test_bad_model_spec_shows_an_error_not_a_traceback(page):
    model = page.locator("#model input")
    model.fill("not-a-model")
    model.press("Enter")
    page.get_by_placeholder("Write in any language").fill("Hallo")
    page.locator("#send").click()
    page.wait_for_function("document.querySelector('#language-status').innerText.includes('Bad model spec')",
                           timeout=60_000)
    assert "Valid model specs" in page.locator("#language-status").inner_text()
    assert "Traceback" not in page.content()
    # Nothing is lost: the typed message stays in the box and the earlier conversation stays on screen.
    assert page.get_by_placeholder("Write in any language").input_value() == "Hallo"
    assert "capital of France" in page.locator("#chatbot").inner_text()

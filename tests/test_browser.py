"""The page in a real browser: Playwright driving Debian's Chromium against a live uvicorn server.

    apt-get install -y chromium && pip install playwright
    pytest -m browser tests/test_browser.py -q

Skipped, saying why, when /usr/bin/chromium or the playwright package is missing. A failing test
leaves a screenshot in test-artifacts/.
"""

import contextlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from serve_helpers import live_server

CHROMIUM = Path(os.environ.get("MODELDISTILL_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason=f"{CHROMIUM} not found: apt-get install -y chromium"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture(scope="module")
def server_url(tiny_bert_dir):
    with live_server(tiny_bert_dir) as (host, port):
        yield f"http://{host}:{port}"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


class Recorder:
    """Every request the page makes and every console error (CSP violations show up there)."""

    def __init__(self, page):
        self.urls: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def assert_loopback_only(self):
        assert self.urls, "no request was recorded"
        hosts = {urlsplit(url).hostname for url in self.urls if not url.startswith("data:")}
        assert hosts <= LOOPBACK, f"requests left the machine: {sorted(hosts - LOOPBACK)}"


@contextlib.contextmanager
def screenshot_on_failure(page, name: str):
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    # Guards against hangs only: a starved 2-core machine can take a while to render Swagger UI.
    page.set_default_timeout(60_000)
    yield page
    context.close()


def test_prediction_shows_verdict_bars_and_model(page, server_url):
    recorder = Recorder(page)
    with screenshot_on_failure(page, "prediction"):
        page.goto(server_url + "/")
        assert page.title() == "Model Distillation"
        page.get_by_label("Text to classify").fill("they should all go back where they came from")
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        assert page.locator("#verdict").inner_text() in ("Toxic", "Not toxic")
        assert "confidence" in page.locator("#confidence").inner_text()
        bars = page.locator("#bars li")
        assert bars.count() == 4
        values = [
            float(v)
            for v in page.locator("#bars [role=meter]").evaluate_all(
                "els => els.map(e => e.getAttribute('aria-valuenow'))"
            )
        ]
        assert sum(values) == pytest.approx(100, abs=0.5)
        page.locator("#model-metrics, #model-name").first.wait_for()
        page.wait_for_function(
            "!document.getElementById('model-name').textContent.startsWith('Loading')"
        )
        assert "tiny-bert" in page.locator("#model-name").inner_text()
    recorder.assert_loopback_only()
    assert not recorder.errors, recorder.errors


def test_enter_submits_and_shift_enter_adds_a_line(page, server_url):
    with screenshot_on_failure(page, "keyboard"):
        page.goto(server_url + "/")
        box = page.get_by_label("Text to classify")
        box.focus()
        page.keyboard.type("first line")
        page.keyboard.press("Shift+Enter")
        page.keyboard.type("second line")
        assert box.input_value() == "first line\nsecond line"
        assert page.locator("#result").is_hidden()
        page.keyboard.press("Enter")
        page.locator("#result").wait_for(state="visible")
        assert page.locator("#echo").inner_text() == "first line\nsecond line"


def test_script_input_is_shown_as_text(page, server_url):
    recorder = Recorder(page)
    attack = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
    with screenshot_on_failure(page, "script-input"):
        page.goto(server_url + "/")
        page.get_by_label("Text to classify").fill(attack)
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        assert page.locator("#echo").text_content() == attack
        assert page.locator("#result img, #result script").count() == 0
        assert page.evaluate("window.__pwned") is None
    recorder.assert_loopback_only()


def test_empty_and_too_long_input_show_an_error_next_to_the_box(page, server_url):
    with screenshot_on_failure(page, "input-errors"):
        page.goto(server_url + "/")
        page.get_by_role("button", name="Get Prediction").click()
        assert page.locator("#error").inner_text() == "Type some text first."
        assert page.get_by_label("Text to classify").get_attribute("aria-invalid") == "true"
        page.wait_for_function(
            "!document.getElementById('model-name').textContent.startsWith('Loading')"
        )
        page.get_by_label("Text to classify").fill("x" * 5001)
        page.get_by_role("button", name="Get Prediction").click()
        assert "Too long: 5001 characters" in page.locator("#error").inner_text()
        assert page.locator("#result").is_hidden()


def test_phone_width_has_no_sideways_scroll(browser, server_url):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        with screenshot_on_failure(page, "phone"):
            page.goto(server_url + "/")
            page.get_by_label("Text to classify").fill("a short sentence")
            page.get_by_role("button", name="Get Prediction").click()
            page.locator("#result").wait_for(state="visible")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360
    finally:
        context.close()


def test_api_docs_load_without_leaving_the_machine(page, server_url):
    recorder = Recorder(page)
    with screenshot_on_failure(page, "docs"):
        page.goto(server_url + "/docs")
        page.get_by_text("/api/v1/predict").first.wait_for()
    recorder.assert_loopback_only()
    assert not [e for e in recorder.errors if "Content Security Policy" in e], recorder.errors

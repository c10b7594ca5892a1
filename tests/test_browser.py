"""The page in a real browser: Playwright driving Debian's Chromium against a live uvicorn server.

    apt-get install -y chromium && pip install playwright
    pytest -m browser tests/test_browser.py -q

Skipped, saying why, when /usr/bin/chromium or the playwright package is missing. A failing test
leaves a screenshot in test-artifacts/.
"""

import contextlib
import json
import os
import shutil
import time
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


# True once the page has shown the model it talks to (its name replaces "Loading").
MODEL_SHOWN = "!document.getElementById('model-name').textContent.startsWith('Loading')"


def _wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll `expression` from Python until it is true. A wait_for_function string predicate failed
    once in CI with an EvalError: the page's Content Security Policy (script-src 'self') forbids
    eval, which Playwright used to re-run it. page.evaluate goes through the DevTools protocol,
    which that policy does not cover."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)


def test_prediction_shows_verdict_bars_and_model(page, server_url):
    recorder = Recorder(page)
    with screenshot_on_failure(page, "prediction"):
        page.goto(server_url + "/")
        assert page.title() == "Model Distillation"
        page.get_by_label("Text to classify").fill("they should all go back where they came from")
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        assert page.locator("#verdict").inner_text() in ("Toxic", "Not toxic")
        assert page.locator("#confidence").inner_text().startswith("P(hate) ")
        # The tiny model ships no calibration figures: the score is said to be no probability.
        assert page.locator("#score-meaning").inner_text() == (
            "P(hate): an uncalibrated model score, not a probability."
        )
        assert page.locator("#passage-block").is_hidden()  # a short text: no passage to show
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
        _wait_until(page, MODEL_SHOWN)
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
        _wait_until(page, MODEL_SHOWN)
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


def test_a_new_request_clears_the_previous_verdict(page, server_url):
    with screenshot_on_failure(page, "stale-verdict"):
        page.goto(server_url + "/")
        box = page.get_by_label("Text to classify")
        button = page.get_by_role("button", name="Get Prediction")
        box.fill("see you at the meeting tomorrow")
        button.click()
        page.locator("#result").wait_for(state="visible")
        box.fill("   ")  # refused by the page itself
        button.click()
        assert page.locator("#error").inner_text() == "Type some text first."
        assert page.locator("#result").is_hidden()
        box.fill("see you at the meeting tomorrow")
        button.click()
        page.locator("#result").wait_for(state="visible")
        # ...and refused by the server: the verdict from before must not sit beside the error.
        page.route(
            "**/api/v1/predict",
            lambda route: route.fulfill(
                status=503, content_type="application/json", body='{"detail": "busy"}'
            ),
        )
        button.click()
        page.get_by_text("The server is busy").wait_for()
        assert page.locator("#result").is_hidden()


def test_echoed_text_is_isolated_and_shows_bidi_controls(page, server_url):
    # U+202E displays what follows reversed: beside "Not toxic" the reader would see a sentence
    # other than the one scored.
    text = "\u202eereh emoclew lla era uoy \u2066and\u2069 more"
    with screenshot_on_failure(page, "bidi"):
        page.goto(server_url + "/")
        page.get_by_label("Text to classify").fill(text)
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        echo = page.locator("#echo")
        assert echo.evaluate("e => [e.tagName, e.getAttribute('dir')]") == ["BDI", "auto"]
        shown = echo.text_content()
        assert shown == "[U+202E]ereh emoclew lla era uoy [U+2066]and[U+2069] more"
        assert not set(page.locator("#result").text_content()) & set("\u202e\u2066\u2069")


def test_one_request_in_flight_whatever_the_key_or_button(page, server_url):
    held = []
    # Counted in the page as fetch() is called: no waiting to see whether a request shows up.
    page.add_init_script(
        "window.__fetches = 0; const fetch0 = window.fetch;"
        "window.fetch = (...args) => { window.__fetches += 1; return fetch0(...args); };"
    )
    with screenshot_on_failure(page, "in-flight"):
        page.goto(server_url + "/")
        _wait_until(page, "window.__fetches === 1")  # /api/v1/model
        page.route("**/api/v1/predict", lambda route: held.append(route))  # held until released
        box = page.get_by_label("Text to classify")
        box.fill("one request only")
        box.press("Enter")
        page.get_by_role("button", name="Predicting…").wait_for()
        box.press("Enter")
        box.press("Enter")
        page.evaluate("document.getElementById('predict-form').requestSubmit()")
        assert page.evaluate("window.__fetches") == 2
        deadline = time.monotonic() + 60
        while not held:  # the route's handler runs as Playwright takes in the browser's events
            assert time.monotonic() < deadline, "the request never reached the route"
            page.wait_for_timeout(20)
        assert len(held) == 1
        held[0].continue_()
        page.locator("#result").wait_for(state="visible")
        page.get_by_role("button", name="Get Prediction").wait_for()
        assert page.evaluate("window.__fetches") == 2


def test_lengths_are_counted_in_code_points(page, server_url):
    # The server counts code points; an emoji is one, though two UTF-16 units.
    with screenshot_on_failure(page, "code-points"):
        page.goto(server_url + "/")
        _wait_until(page, MODEL_SHOWN)
        box = page.get_by_label("Text to classify")
        box.fill("\U0001f600" * 5000)
        assert page.locator("#count").inner_text() == "5000 / 5000 characters"
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        assert page.locator("#error").inner_text() == ""
        box.fill("\U0001f600" * 5001)
        page.get_by_role("button", name="Get Prediction").click()
        assert "Too long: 5001 characters" in page.locator("#error").inner_text()


@pytest.mark.parametrize("how", ["Enter", "button"])
def test_focus_returns_to_the_text_box(page, server_url, how):
    with screenshot_on_failure(page, f"focus-{how}"):
        page.goto(server_url + "/")
        box = page.get_by_label("Text to classify")
        box.fill("where does the focus go")
        if how == "Enter":
            box.press("Enter")
        else:
            page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        page.get_by_role("button", name="Get Prediction").wait_for()
        assert page.evaluate("document.activeElement.id") == "text"


def test_a_long_text_shows_the_passage_that_decided(page, server_url):
    recorder = Recorder(page)
    # Every sentence holds an isolate pair, so whichever passage decides shows them as code points.
    text = " ".join(
        f"Sentence number {n} says \u2066something\u2069 about the weather in town."
        for n in range(40)
    )
    with screenshot_on_failure(page, "passage"):
        page.goto(server_url + "/")
        page.get_by_label("Text to classify").fill(text)
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        block = page.locator("#passage-block")
        assert block.is_visible()
        assert "Decided by this passage:" in block.inner_text()
        assert "read in 40 passages" in page.locator("#truncated").inner_text()
        passage = page.locator("#passage")
        assert passage.evaluate("e => [e.tagName, e.getAttribute('dir')]") == ["BDI", "auto"]
        shown = passage.text_content()
        assert "[U+2066]something[U+2069]" in shown
        visible = text.replace("\u2066", "[U+2066]").replace("\u2069", "[U+2069]")
        assert shown in visible and len(shown) < len(visible)
        assert not set(page.locator("#result").text_content()) & set("\u2066\u2069")
        # A short text next: the passage of the one before must not stay on screen.
        page.get_by_label("Text to classify").fill("a short sentence")
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        assert block.is_hidden() and passage.text_content() == ""
    assert not recorder.errors, recorder.errors


@pytest.fixture(scope="module")
def task_server_url(int8_export, tmp_path_factory):
    """A model whose positive label is `relation`, with a task and calibration figures."""
    from modeldistill.artifacts import read_inference, write_inference
    from modeldistill.inference.classifier import Classifier

    folder = tmp_path_factory.mktemp("task") / "replies"
    shutil.copytree(int8_export, folder)
    settings = read_inference(folder).model_copy(
        update={
            "toxic_label": "relation",
            "task_title": "Replies to another post",
            "positive_meaning": "the text only makes sense as a reply",
            # 0: every text is `relation`, so the verdict is known whatever the random weights say.
            "threshold": 0.0,
        }
    )
    write_inference(folder, settings)
    classifier = Classifier.load(folder, backend="torch")
    # What evaluate writes to metrics.json and export fits: one bin holds every score.
    classifier.metrics = {
        "split": "test",
        "ece": 0.04,
        "reliability": [
            {"low": 0.0, "high": 1.0, "count": 250, "mean_predicted": 0.3, "observed_rate": 0.27}
        ],
    }
    classifier.temperature = 1.8
    with live_server(folder, classifier) as (host, port):
        yield f"http://{host}:{port}"


def test_another_task_is_worded_in_its_own_labels(page, task_server_url):
    recorder = Recorder(page)
    with screenshot_on_failure(page, "task"):
        page.goto(task_server_url + "/")
        _wait_until(page, MODEL_SHOWN)
        assert page.locator("#lead").inner_text().startswith("Replies to another post:")
        assert page.locator("#definition").inner_text() == (
            'Here "relation" means the text only makes sense as a reply.'
        )
        assert "relation when P(relation)" in page.locator("#model-name").inner_text()
        page.get_by_label("Text to classify").fill("as he said above they do")
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        assert page.locator("#verdict").inner_text() == "relation"
        assert page.locator("#confidence").inner_text().startswith("P(relation) ")
        assert page.locator("#score-meaning").inner_text() == (
            "P(relation) from the model, calibrated by temperature scaling on validation data: "
            "of the 250 texts in the test split scored 0–100%, 27% were labelled relation."
        )
        # The bars name every class (`hate` among them); the words around them name none.
        for part in ("#lead", "#definition", "#result .verdict", "#score-meaning", "#model-name"):
            words = page.locator(part).inner_text().lower()
            assert "toxic" not in words and "hate" not in words, (part, words)
    assert not recorder.errors, recorder.errors


def test_a_server_without_task_or_calibration_keeps_the_hate_speech_page(page, server_url):
    # What a server from before these fields answers: the page must still work, as it did.
    recorder = Recorder(page)
    model = {
        "name": "older",
        "version": "1",
        "backend": "onnx-int8",
        "labels": ["not_hate", "hate"],
        "toxic_label": "hate",
        "threshold": 0.5,
        "max_length": 128,
        "metrics": None,
        "limits": {"max_texts": 64, "max_chars": 5000, "max_body_bytes": 1000000},
    }
    result = {
        "label": "hate",
        "score": 0.8,
        "toxic": True,
        "scores": {"not_hate": 0.2, "hate": 0.8},
        "truncated": False,
    }
    page.route(
        "**/api/v1/model",
        lambda route: route.fulfill(content_type="application/json", body=json.dumps(model)),
    )
    page.route(
        "**/api/v1/predict",
        lambda route: route.fulfill(
            content_type="application/json",
            body=json.dumps({"model": {"name": "older", "version": "1"}, "results": [result]}),
        ),
    )
    with screenshot_on_failure(page, "older-server"):
        page.goto(server_url + "/")
        _wait_until(page, MODEL_SHOWN)
        assert page.locator("#lead").inner_text().startswith("Is a sentence hate speech?")
        page.get_by_label("Text to classify").fill("kick them all out")
        page.get_by_role("button", name="Get Prediction").click()
        page.locator("#result").wait_for(state="visible")
        assert page.locator("#verdict").inner_text() == "Toxic"
        assert page.locator("#confidence").inner_text() == "P(hate) 80.0%"
        assert "uncalibrated model score" in page.locator("#score-meaning").inner_text()
        assert page.locator("#passage-block").is_hidden()
    assert not recorder.errors, recorder.errors

"""The JSON API and the server around it, on the tiny random BERT: routes, limits, errors, batching.

pytest tests/test_serve_api.py -q
"""

import asyncio
import contextlib
import shutil
import socket

import pytest
from fastapi.testclient import TestClient

from modeldistill import cli
from modeldistill.artifacts import read_inference, write_inference
from modeldistill.errors import UserError
from modeldistill.inference.classifier import Classifier, TextTooLong
from modeldistill.serve import Metrics, ServeConfig, Service, bind, create_app
from serve_helpers import live_server

TEXTS = ["you are all welcome here", "kick them all out", "see you at the meeting tomorrow"]
# Longer than one window of 128 tokens: read in 5 windows and 40 sentences (45 passages).
LONG_TEXT = " ".join(
    f"Sentence number {n} says something about the weather in town." for n in range(40)
)


def make_client(tiny_bert_dir, classifier, **settings) -> TestClient:
    return TestClient(create_app(ServeConfig(model=tiny_bert_dir, **settings), classifier))


@pytest.fixture(scope="module")
def client(tiny_bert_dir, classifier):
    with make_client(tiny_bert_dir, classifier) as test_client:
        yield test_client


def assert_clean_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text and 'File "' not in response.text
    return response.json()


# ---- happy paths -----------------------------------------------------------------------------


def test_predict_returns_one_result_per_text_in_input_order(client, classifier):
    response = client.post("/api/v1/predict", json={"texts": TEXTS})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {"name": classifier.name, "version": classifier.version}
    assert len(body["results"]) == len(TEXTS)
    for text, result in zip(TEXTS, body["results"], strict=True):
        (alone,) = classifier.predict([text])
        assert result["label"] == alone.label
        assert result["scores"] == pytest.approx(alone.scores, abs=1e-5)
        assert set(result) == {
            "label",
            "score",
            "toxic",
            "scores",
            "truncated",
            "windows",
            "span",
            "passage",
        }
        assert (result["truncated"], result["windows"], result["span"], result["passage"]) == (
            False,
            1,
            None,
            None,
        )
        assert sum(result["scores"].values()) == pytest.approx(1.0, abs=1e-5)


def test_legacy_predict_keeps_the_original_contract(client, classifier):
    response = client.get("/predict", params={"search": TEXTS[1]})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"label", "confidence"}
    (prediction,) = classifier.predict([TEXTS[1]])
    p_toxic = prediction.scores[classifier.toxic_label]
    expected = ("Toxic", p_toxic) if prediction.toxic else ("Not Toxic", 1 - p_toxic)
    assert body["label"] == expected[0]
    assert body["confidence"] == pytest.approx(expected[1], abs=1e-5)


def test_model_route_names_the_model_and_limits(client, classifier):
    body = client.get("/api/v1/model").json()
    assert body["name"] == classifier.name
    assert body["labels"] == classifier.labels
    assert body["backend"] == "torch"
    assert body["limits"] == {
        "max_texts": 64,
        "max_chars": 5000,
        "max_body_bytes": 3_840_272,
        "max_windows": 128,
    }
    # The tiny model has hate_speech18's labels and no task recorded: the hate-speech task.
    assert body["task"] == {
        "title": "hate speech",
        "positive_label": "hate",
        "positive_meaning": "an attack on people for who they are",
        "hate_speech": True,
    }
    assert body["calibration"] is None  # no metrics.json: the page says "uncalibrated"


# ---- long texts and the passage limit --------------------------------------------------------


def test_a_long_text_names_its_deciding_passage(client, classifier):
    body = client.post("/api/v1/predict", json={"texts": [TEXTS[0], LONG_TEXT]}).json()
    short, long = body["results"]
    assert short["passage"] is None and short["windows"] == 1
    (expected,) = classifier.predict([LONG_TEXT])
    assert long["truncated"] is True and long["windows"] == expected.windows > 1
    start, end = long["span"]
    assert [start, end] == list(expected.span)
    assert long["passage"] == LONG_TEXT[start:end] == expected.passage
    assert long["scores"] == pytest.approx(expected.scores, abs=1e-5)

    legacy = client.get("/predict", params={"search": LONG_TEXT}).json()
    assert set(legacy) == {"label", "confidence", "passage"}
    assert legacy["passage"] == expected.passage
    assert legacy["label"] == ("Toxic" if expected.toxic else "Not Toxic")


@pytest.fixture(scope="module")
def few_windows(tiny_bert_dir):
    """The tiny model reading at most 4 passages per text (LONG_TEXT needs 40: one per sentence)."""
    return Classifier.load(tiny_bert_dir, backend="torch", max_windows=4)


def test_a_text_past_the_passage_limit_is_413_naming_it(tiny_bert_dir, few_windows):
    with make_client(tiny_bert_dir, few_windows) as test_client:
        response = test_client.post("/api/v1/predict", json={"texts": [TEXTS[0], LONG_TEXT]})
        detail = assert_clean_error(response, 413)["detail"]
        assert detail.startswith("text 1 needs 40 passages") and "at most 4" in detail
        legacy = test_client.get("/predict", params={"search": LONG_TEXT})
        assert assert_clean_error(legacy, 413)["detail"].startswith("text 0 needs 40 passages")
        # The refusal is the text's, not the server's: the next request is answered.
        assert test_client.post("/api/v1/predict", json={"texts": TEXTS}).status_code == 200


def test_a_text_past_the_limit_refuses_only_its_own_request_in_a_batch(few_windows, monkeypatch):
    calls = []
    predict = few_windows.predict

    def recording(texts):
        calls.append(len(texts))
        return predict(texts)

    monkeypatch.setattr(few_windows, "predict", recording)
    requests = [[TEXTS[0]], [TEXTS[1], LONG_TEXT], [TEXTS[2]]]
    service = Service(few_windows, ServeConfig(batching=True, max_batch_size=32), Metrics())

    async def scenario():
        await service.start()
        try:
            calls.clear()  # the warm-up's
            return await asyncio.gather(
                *(service.predict(texts) for texts in requests), return_exceptions=True
            )
        finally:
            await service.stop()

    first, refused, third = asyncio.run(scenario())
    assert calls[0] == 4  # the three requests did share one model call, which failed
    assert isinstance(refused, TextTooLong)
    assert str(refused).startswith("text 1 needs")  # its index in its own request
    for texts, (result,) in ((requests[0], first), (requests[2], third)):
        (alone,) = predict(texts)
        assert result.scores == pytest.approx(alone.scores, abs=1e-5)


# ---- what the page says about the model ------------------------------------------------------


def task_export(source, folder):
    """A copy of an export whose positive label is `relation`, with a task of its own."""
    shutil.copytree(source, folder)
    settings = read_inference(folder).model_copy(
        update={
            "toxic_label": "relation",
            "task_title": "replies to another post",
            "positive_meaning": "the text only makes sense as a reply",
        }
    )
    write_inference(folder, settings)
    return folder


RELIABILITY = [
    {"low": 0.0, "high": 0.5, "count": 90, "mean_predicted": 0.1, "observed_rate": 0.08},
    {"low": 0.5, "high": 1.0, "count": 10, "mean_predicted": 0.7, "observed_rate": 0.6},
]


def test_model_route_gives_the_task_and_the_calibration(int8_export, tmp_path):
    folder = task_export(int8_export, tmp_path / "task")
    classifier = Classifier.load(folder, backend="torch")
    # The figures evaluate writes to metrics.json, and the temperature export fits.
    classifier.metrics = {"split": "test", "accuracy": 0.9, "ece": 0.03, "reliability": RELIABILITY}
    classifier.temperature = 1.7
    with make_client(folder, classifier) as test_client:
        body = test_client.get("/api/v1/model").json()
        assert body["task"] == {
            "title": "replies to another post",
            "positive_label": "relation",
            "positive_meaning": "the text only makes sense as a reply",
            "hate_speech": False,
        }
        assert body["calibration"] == {
            "temperature": 1.7,
            "split": "test",
            "ece": 0.03,
            "ece_uncalibrated": None,
            "reliability": RELIABILITY,
        }
    classifier.metrics = {"split": "test", "accuracy": 0.9}  # scored before calibration existed
    with make_client(folder, classifier) as test_client:
        assert test_client.get("/api/v1/model").json()["calibration"] is None


def test_health_and_readiness(tiny_bert_dir, classifier):
    test_client = make_client(tiny_bert_dir, classifier)
    # Before startup the model has not answered its warm-up: not ready, and predict says so.
    assert test_client.get("/healthz").json() == {"status": "ok"}
    not_ready = test_client.get("/readyz")
    assert not_ready.status_code == 503 and "retry-after" in not_ready.headers
    assert_clean_error(test_client.get("/predict", params={"search": "hi"}), 503)
    with test_client:
        assert test_client.get("/readyz").status_code == 200
        assert test_client.get("/predict", params={"search": "hi"}).status_code == 200


def test_metrics_count_requests_and_batches(client):
    client.post("/api/v1/predict", json={"texts": TEXTS})
    text = client.get("/metrics").text
    assert 'http_requests_total{route="/api/v1/predict",status="200"}' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "model_inference_seconds_count" in text
    assert "model_batch_size_count" in text


def test_page_docs_and_schema_are_served_from_this_origin(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "<title>Model Distillation</title>" in page.text
    assert "Get Prediction" in page.text
    # One line says what "hate" means here: an attack on people for who they are.
    assert "attack on people for who they are" in page.text
    for route in ("/", "/docs", "/static/app.js"):
        assert "http://" not in client.get(route).text.replace("http://www.w3.org", "")
        assert "https://" not in client.get(route).text
    schema = client.get("/openapi.json").json()
    texts = schema["components"]["schemas"]["PredictRequest"]["properties"]["texts"]
    assert texts["maxItems"] == 64 and texts["items"]["maxLength"] == 5000
    assert client.get("/docs").status_code == 200


def test_security_headers_and_no_cors_by_default(client):
    response = client.get("/", headers={"Origin": "https://evil.example"})
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in response.headers
    api = client.post(
        "/api/v1/predict", json={"texts": ["hi"]}, headers={"Origin": "https://x.org"}
    )
    assert "access-control-allow-origin" not in api.headers
    assert api.headers["cache-control"] == "no-store"


def test_cors_only_for_configured_origins(tiny_bert_dir, classifier):
    with make_client(
        tiny_bert_dir, classifier, cors_origins=["https://app.example"]
    ) as test_client:
        allowed = test_client.get("/api/v1/model", headers={"Origin": "https://app.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = test_client.get("/api/v1/model", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# ---- every 4xx -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"texts": []}, ["body", "texts"], "too_short"),
        ({"texts": ["a"] * 65}, ["body", "texts"], "too_long"),
        ({"texts": ["x" * 5001]}, ["body", "texts", 0], "string_too_long"),
        ({"texts": [""]}, ["body", "texts", 0], "string_too_short"),
        ({"texts": ["fine", " \t\u3000\n"]}, ["body", "texts", 1], "value_error"),
        ({"texts": ["fine", 3]}, ["body", "texts", 1], "string_type"),
        ({"texts": "not a list"}, ["body", "texts"], "list_type"),
        ({"texts": None}, ["body", "texts"], "list_type"),
        ({}, ["body", "texts"], "missing"),
        ({"texts": ["a"], "extra": 1}, ["body", "extra"], "extra_forbidden"),
        ([1, 2], ["body"], "model_type"),
    ],
)
def test_bad_bodies_get_422_naming_the_field(client, body, loc, kind):
    detail = assert_clean_error(client.post("/api/v1/predict", json=body), 422)["detail"]
    assert detail[0]["loc"] == loc
    assert detail[0]["type"] == kind
    assert detail[0]["msg"]
    assert "input" not in detail[0]  # the (maybe huge) input is not echoed back


def test_malformed_json_gets_422(client):
    response = client.post(
        "/api/v1/predict", content=b'{"texts": [', headers={"content-type": "application/json"}
    )
    assert assert_clean_error(response, 422)["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("params", [{}, {"search": ""}, {"search": "  "}, {"search": "y" * 5001}])
def test_legacy_route_validates_search(client, params):
    detail = assert_clean_error(client.get("/predict", params=params), 422)["detail"]
    assert detail[0]["loc"] == ["query", "search"]


def test_body_over_the_limit_gets_413_by_content_length(client):
    big = b'{"texts": ["' + b"a" * 3_840_273 + b'"]}'
    response = client.post(
        "/api/v1/predict", content=big, headers={"content-type": "application/json"}
    )
    assert "3840272 bytes" in assert_clean_error(response, 413)["detail"]


def test_body_over_the_limit_gets_413_when_streamed(client):
    def chunks():  # no Content-Length: the size is counted as the body arrives
        for _ in range(40):
            yield b"a" * 100_000

    response = client.post(
        "/api/v1/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_clean_error(response, 413)


def test_in_flight_limit_gives_503_with_retry_after(tiny_bert_dir, classifier):
    with make_client(tiny_bert_dir, classifier, max_in_flight=1) as test_client:
        service = test_client.app.state.service
        with service.admit():  # the one slot is taken, as by a slow request
            busy = test_client.post("/api/v1/predict", json={"texts": ["hi"]})
            assert "in flight" in assert_clean_error(busy, 503)["detail"]
            assert busy.headers["retry-after"] == "1"
            assert test_client.get("/healthz").status_code == 200  # health is never refused
        assert test_client.post("/api/v1/predict", json={"texts": ["hi"]}).status_code == 200
        assert "inference_rejected_total 1.0" in test_client.get("/metrics").text


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/%2e%2e/pyproject.toml",
        "/static/%252e%252e/pyproject.toml",
        "/static/..%2fpyproject.toml",
        "/static/",
    ],
)
def test_static_traversal_is_404(client, path):
    assert client.get(path).status_code == 404


def test_raw_traversal_over_a_real_socket_is_404(live_server):
    # httpx normalises `..` away; a raw request line reaches the server as written.
    for target in (
        "/static/../pyproject.toml",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/serve.py",
    ):
        status, body = raw_get(live_server, target)
        assert status == 404, target
        assert b"[build-system]" not in body and b"root:" not in body


# ---- micro-batching --------------------------------------------------------------------------


def model_calls(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("model_batch_size_count")


def run_service(classifier, texts_per_request: list[list[str]], **settings):
    """Send requests concurrently to a started Service; return the results and the model calls."""
    config = ServeConfig(**settings)
    metrics = Metrics()
    service = Service(classifier, config, metrics)

    async def scenario():
        await service.start()
        try:
            calls_before = model_calls(metrics)
            results = await asyncio.gather(*(service.predict(texts) for texts in texts_per_request))
            return results, model_calls(metrics) - calls_before
        finally:
            await service.stop()

    return asyncio.run(scenario())


def test_concurrent_requests_share_one_model_call(classifier):
    requests = [[f"text number {i}"] for i in range(8)]
    results, calls = run_service(classifier, requests, batching=True, max_batch_size=32)
    assert calls == 1
    for texts, result in zip(requests, results, strict=True):
        (alone,) = classifier.predict(texts)
        assert result[0].scores == pytest.approx(alone.scores, abs=1e-5)


def test_batches_are_bounded_and_batching_can_be_turned_off(classifier):
    requests = [[f"text {i}", f"more {i}"] for i in range(6)]
    results, calls = run_service(classifier, requests, batching=True, max_batch_size=4)
    assert calls == 3  # two requests of two texts per call
    assert [len(r) for r in results] == [2] * 6
    _, calls = run_service(classifier, requests, batching=False)
    assert calls == 6


# ---- startup ---------------------------------------------------------------------------------


def test_settings_are_checked(tiny_bert_dir):
    with pytest.raises(UserError, match="max_in_flight"):
        ServeConfig(model=tiny_bert_dir, max_in_flight=0)
    with pytest.raises(UserError, match="cors_origins"):
        ServeConfig(cors_origins=["example.org"])


def test_bad_model_is_a_one_line_error_before_binding(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    assert cli.main(["serve", "--model", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("modeldistill serve: error:") and "\n" not in error
    assert cli.main(["serve", "--model", str(tmp_path / "missing")]) == 2


def test_port_in_use_is_a_one_line_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)


# ---- a real uvicorn server -------------------------------------------------------------------


@pytest.fixture(scope="module", name="live_server")
def live_server_address(tiny_bert_dir, classifier):
    """(host, port) of a uvicorn server in a thread, on a free loopback port."""
    with live_server(tiny_bert_dir, classifier) as address:
        yield address


def raw_get(address, target: str) -> tuple[int, bytes]:
    with socket.create_connection(address, timeout=10) as conn:
        conn.sendall(
            f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        with contextlib.suppress(TimeoutError):
            while chunk := conn.recv(65536):
                data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def test_live_server_answers_predictions(live_server):
    status, body = raw_get(live_server, "/predict?search=hello%20there")
    assert status == 200 and b'"confidence"' in body


def test_serves_an_int8_onnx_export(int8_export):
    folder = int8_export
    with TestClient(create_app(ServeConfig(model=folder))) as test_client:
        assert test_client.get("/api/v1/model").json()["backend"] == "onnx-int8"
        results = test_client.post("/api/v1/predict", json={"texts": TEXTS}).json()["results"]
        assert len(results) == len(TEXTS)
        expected = Classifier.load(folder).predict(TEXTS)
        for result, alone in zip(results, expected, strict=True):
            assert result["scores"] == pytest.approx(alone.scores, abs=1e-5)

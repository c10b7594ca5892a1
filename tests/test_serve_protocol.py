"""Hostile clients over raw sockets: ambiguous requests, bodies that are not JSON, pipelined
requests (with a malformed one among them, or never read), and how the protocol's own refusals
show up in /metrics and the log.

pytest tests/test_serve_protocol.py -q
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import threading
import time

import httpx
import pytest

from modeldistill.inference import Classifier
from serve_helpers import live_server


@pytest.fixture(scope="module")
def classifier(tiny_bert_dir) -> Classifier:
    return Classifier.load(tiny_bert_dir, backend="torch")


@pytest.fixture(scope="module")
def address(tiny_bert_dir, classifier):
    with live_server(tiny_bert_dir, classifier) as live:
        yield live


def exchange(address, request: bytes) -> bytes:
    """Send `request` in one write; everything the server sends until it closes."""
    with socket.create_connection(address, timeout=30) as conn:
        conn.sendall(request)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := conn.recv(65536):
                data += chunk
    return data


def responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """(status, headers, body) of each answer in `data`, in order (bodies by content-length)."""
    answers = []
    while data:
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        answers.append((int(lines[0].split(" ")[1]), headers, data[:length]))
        data = data[length:]
    return answers


def only_answer(address, request: bytes) -> tuple[int, dict]:
    ((status, headers, body),) = responses(exchange(address, request))
    assert headers["content-type"] == "application/json", headers
    return status, json.loads(body)


def post(body: bytes, content_type: str | None = "application/json", extra: str = "") -> bytes:
    head = "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body


# ---- ambiguous requests: 400, never a guess --------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["search=hello&search=kill+them+all", "search=hello&%73earch=kill", "search=a&x=1&x=2"],
)
def test_a_query_parameter_given_twice_gets_400(address, query):
    request = f"GET /predict?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, body = only_answer(address, request.encode())
    assert status == 400, body
    assert "more than once" in body["detail"]


def test_distinct_query_parameters_are_fine(address):
    # The control: `&` alone is not refused (the route ignores what it does not know).
    request = b"GET /predict?search=hello&lang=en HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, body = only_answer(address, request)
    assert status == 200 and body["label"] in ("Toxic", "Not Toxic"), body


@pytest.mark.parametrize(
    "body",
    [
        b'{"texts": ["kill them all"], "texts": ["hello"]}',
        b'{"texts": ["kill them all"], "t\\u0065xts": ["hello"]}',  # the same key, escaped
    ],
    ids=["plain", "escaped"],
)
def test_a_json_key_given_twice_gets_400(address, body):
    status, answer = only_answer(address, post(body))
    assert status == 400, answer
    assert "'texts' appears more than once" in answer["detail"]


@pytest.mark.parametrize(
    ("request_bytes", "detail"),
    [
        (
            b"GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n"
            b"Connection: close\r\n\r\n",
            "more than one Host header",
        ),
        (b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", "without a Host header"),
    ],
    ids=["two Host headers", "HTTP/1.1 without Host"],
)
def test_host_must_be_given_once(address, request_bytes, detail):
    status, body = only_answer(address, request_bytes)
    assert status == 400 and detail in body["detail"], body


def test_http_1_0_may_leave_host_out(address):
    # RFC 9112 asks for Host in HTTP/1.1 only.
    status, body = only_answer(address, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert status == 200 and body == {"status": "ok"}


# ---- POST bodies must be declared JSON -----------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # what a cross-site <form enctype="text/plain"> sends, no preflight
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/jsonx",
        None,
    ],
)
def test_a_post_that_is_not_json_gets_415(address, content_type):
    status, body = only_answer(address, post(b'{"texts": ["hello"]}', content_type))
    assert status == 415, body
    assert "application/json" in body["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=UTF-8", 'application/json;charset="utf-8"'],
)
def test_json_posts_are_scored(address, content_type):
    status, body = only_answer(address, post(b'{"texts": ["hello"]}', content_type))
    assert status == 200 and len(body["results"]) == 1, body


def test_two_content_types_get_400(address):
    request = post(b'{"texts": ["hello"]}', extra="Content-Type: text/plain\r\n")
    status, body = only_answer(address, request)
    assert status == 400 and "Content-Type" in body["detail"], body


def test_the_schema_lists_415(address):
    schema = httpx.get("http://{}:{}/openapi.json".format(*address)).json()
    assert "415" in schema["paths"]["/api/v1/predict"]["post"]["responses"]


# ---- pipelined requests and a malformed one ------------------------------------------------

GOOD = (
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    b"GET /predict?search=hello HTTP/1.1\r\nHost: x\r\n\r\n"
    + post(b'{"texts": ["hi", "there"]}').replace(b"Connection: close\r\n", b"")
)


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431),
    ],
    ids=["garbage", "no Host", "huge header"],
)
def test_pipelined_requests_before_a_malformed_one_are_answered_first(address, bad, status):
    answers = responses(exchange(address, GOOD + bad))  # one write: one packet, or a few
    assert [answer[0] for answer in answers] == [200, 200, 200, status], answers
    assert json.loads(answers[0][2]) == {"status": "ok"}
    assert json.loads(answers[1][2])["label"] in ("Toxic", "Not Toxic")
    assert len(json.loads(answers[2][2])["results"]) == 2
    last_headers, last_body = answers[3][1], answers[3][2]
    assert last_headers["content-type"] == "application/json"
    assert last_headers["connection"] == "close"
    assert json.loads(last_body)["detail"]


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def protocol_count(url: str, status: int) -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith(f'http_requests_total{{route="protocol",status="{status}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_protocol_refusals_are_counted_and_logged(tiny_bert_dir, classifier):
    handler = Lines()
    logger = logging.getLogger("uvicorn.error")
    with live_server(tiny_bert_dir, classifier, header_timeout=1.0) as live:
        url = "http://{}:{}".format(*live)
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)  # the test server runs at "critical"
        try:
            before = {status: protocol_count(url, status) for status in (400, 408, 431)}
            exchange(live, b"GARBAGE\r\n\r\n")
            exchange(live, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20_000 + b"\r\n\r\n")
            exchange(live, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # header timeout
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        after = {status: protocol_count(url, status) for status in (400, 408, 431)}
    assert {status: after[status] - before[status] for status in after} == {400: 1, 408: 1, 431: 1}
    refused = [line for line in handler.lines if "refused with" in line]
    assert len(refused) == 3, handler.lines
    for status, line in zip((400, 431, 408), refused, strict=True):
        assert f"refused with {status}: " in line and "127.0.0.1:" in line, line


# ---- a client that pipelines and never reads ---------------------------------------------------

# A small request with a big answer: unread answers fill the socket buffers quickly.
FETCH = b"GET /static/app.js HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_pipelining_client_that_never_reads_is_not_read_either(tiny_bert_dir, classifier):
    """2,000 pipelined requests in one go, no answer taken: once a few answers are unread and a
    few requests queued, the server stops reading the connection (before, every request read was
    parsed and queued: a 17 MB flood took ~1 GiB). When the client reads again, every request is
    answered, in order."""
    from modeldistill.serve import ServeConfig, create_app
    from modeldistill.serve.protocol import FEED_PIECE, HttpLimits, LimitedHttpToolsProtocol
    from serve_helpers import LiveServer

    app = create_app(ServeConfig(model=tiny_bert_dir), classifier)
    limits = HttpLimits()
    count = 2000
    with LiveServer(app) as live, socket.create_connection(live.address) as conn:
        conn.setblocking(False)
        flood, sent = FETCH * count, 0
        queued = backlog = unsent = 0
        protocol = None
        deadline = time.monotonic() + 60
        # Until all is sent and the server has stopped reading (or sending blocks for good).
        while protocol is None or not protocol.flow.read_paused or sent < len(flood):
            assert time.monotonic() < deadline, (sent, protocol and protocol.flow.read_paused)
            with contextlib.suppress(BlockingIOError):
                sent += conn.send(flood[sent:])
            select.select([], [conn], [], 0.01)
            if protocol is None:
                protocol = next(iter(live.server.server_state.connections), None)
                continue
            queued = max(queued, len(protocol.pipeline))
            backlog = max(backlog, len(protocol._backlog) - protocol._offset)
            unsent = max(unsent, protocol.transport.get_write_buffer_size())
            if protocol.flow.read_paused and protocol.flow.write_paused:
                break
        assert isinstance(protocol, LimitedHttpToolsProtocol)
        assert queued <= limits.max_pipelined + FEED_PIECE // len(FETCH) + 1, queued
        assert backlog <= 2**20, backlog  # one read at most
        # asyncio lets one answer past the limit before it pauses the writer
        assert unsent <= limits.max_unread_response_bytes + 2**20, unsent

        # Now read, and ask to close after one more.
        answers = []
        reader = threading.Thread(target=lambda: answers.append(read_all(conn)))
        conn.setblocking(True)
        reader.start()
        last = FETCH.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        conn.sendall(flood[sent:] + last)
        reader.join(timeout=240)
        assert not reader.is_alive(), "the answers stopped coming"
    statuses = [status for status, _, _ in responses(answers[0])]
    assert statuses == [200] * (count + 1)


def read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(2**20):
        data += chunk
    return data

"""Reliability of `modeldistill serve`: startup faults, readiness, SIGTERM while busy, overload.

pytest tests/test_reliability.py -q

Startup and shutdown run the real CLI (`python -m modeldistill serve`) as a subprocess on a free
loopback port; readiness and overload use the app in-process with a model whose calls can be held
at a gate, so "answered at once, without waiting for the model" is checked by construction rather
than by timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from modeldistill.inference.classifier import Classifier
from modeldistill.serve import ServeConfig, create_app
from serve_helpers import LiveServer

START_TIMEOUT_S = 180  # a hang guard for very busy machines, not a speed target


@pytest.fixture(scope="module")
def int8_dir(int8_export) -> Path:
    return int8_export


@pytest.fixture(scope="module")
def classifier(int8_classifier) -> Classifier:
    return int8_classifier


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_command(model: Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "modeldistill", "serve", "--model", str(model)] + [
        "--host", "127.0.0.1", "--port", str(port), *extra,
    ]  # fmt: skip


# ---- startup faults --------------------------------------------------------------------------


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def scramble_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:64] = np.random.default_rng(0).integers(0, 256, 64, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def nan_weights(path: Path) -> None:
    # A file whose header and sizes are fine but whose numbers are not: it loads, then answers NaN.
    from safetensors.numpy import load_file, save_file

    weights = load_file(path)
    weights["classifier.weight"][:] = np.nan
    save_file(weights, path, metadata={"format": "pt"})


def three_labels(config_path: Path) -> None:
    config = json.loads(config_path.read_text())
    config["id2label"] = {"0": "noHate", "1": "hate", "2": "idk/skip"}
    config["label2id"] = {"noHate": 0, "hate": 1, "idk/skip": 2}
    config_path.write_text(json.dumps(config))


def garbage(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def no_weights(folder: Path) -> None:
    for name in ("model.int8.onnx", "model.onnx", "model.safetensors"):
        (folder / name).unlink(missing_ok=True)


WEIGHTS = "model.safetensors"
# fault: (source folder: "torch" = safetensors only, "int8" = exported; damage; words in the error)
FAULTS = {
    "truncated safetensors": ("torch", lambda d: truncate(d / WEIGHTS), WEIGHTS),
    "corrupt safetensors header": ("torch", lambda d: scramble_header(d / WEIGHTS), WEIGHTS),
    "NaN weights": ("torch", lambda d: nan_weights(d / WEIGHTS), "non-finite scores"),
    "3 labels for a 4-way head": ("torch", lambda d: three_labels(d / "config.json"), "3 labels"),
    "3 labels for a 4-way ONNX": ("int8", lambda d: three_labels(d / "config.json"), "3 labels"),
    "garbage int8 ONNX": ("int8", lambda d: garbage(d / "model.int8.onnx"), "model.int8.onnx"),
    "truncated int8 ONNX": ("int8", lambda d: truncate(d / "model.int8.onnx"), "model.int8.onnx"),
    "no weights at all": ("int8", no_weights, "no model weights"),
}


def assert_one_line_startup_error(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    # Libraries may draw a progress bar while loading; the error itself is exactly one line, last.
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("modeldistill serve: error:")
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]
    assert expected in errors[0], errors[0]
    assert "serving" not in result.stderr  # the server never announced itself


@pytest.mark.parametrize("fault", FAULTS)
def test_broken_model_fails_with_one_line_before_listening(
    fault, tiny_bert_dir, int8_dir, tmp_path
):
    source, damage, expected = FAULTS[fault]
    folder = copy_model(tiny_bert_dir if source == "torch" else int8_dir, tmp_path / "model")
    damage(folder)
    port = free_port()
    result = subprocess.run(
        serve_command(folder, port), capture_output=True, text=True, timeout=START_TIMEOUT_S
    )
    assert_one_line_startup_error(result, expected)
    with socket.socket() as probe:  # nothing was left listening on the port
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_missing_model_folder_fails_with_one_line(tmp_path):
    result = subprocess.run(
        serve_command(tmp_path / "nowhere", free_port()),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    assert_one_line_startup_error(result, "model folder not found")


def test_port_in_use_fails_with_one_line(int8_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            serve_command(int8_dir, port), capture_output=True, text=True, timeout=START_TIMEOUT_S
        )
    assert_one_line_startup_error(result, f"cannot listen on 127.0.0.1:{port}")


# ---- readiness -------------------------------------------------------------------------------


class Gated:
    """A Classifier whose model calls wait at a gate (closed: the model is busy) and are counted."""

    def __init__(self, inner: Classifier, delay: float = 0.0):
        self.inner = inner
        self.gate = threading.Event()
        self.delay = delay
        self.calls = 0
        self.waiting = 0
        self.call_of: dict[str, int] = {}  # text -> number of the model call that scored it

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def predict(self, texts: list[str]):
        self.calls += 1
        self.call_of.update(dict.fromkeys(texts, self.calls))
        self.waiting += 1
        try:
            assert self.gate.wait(timeout=30), "the test never opened the gate"
        finally:
            self.waiting -= 1
        time.sleep(self.delay)
        return self.inner.predict(texts)


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_readyz_is_503_until_the_warm_up_has_answered(int8_dir, classifier):
    gated = Gated(classifier)
    app = create_app(ServeConfig(model=int8_dir), gated)
    service = app.state.service

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            starting = asyncio.create_task(service.start())
            while gated.waiting == 0:  # the warm-up request is inside the model
                await asyncio.sleep(0.01)
            not_ready = await client.get("/readyz")
            refused = await client.post("/api/v1/predict", json={"texts": ["hi"]})
            alive = await client.get("/healthz")
            gated.gate.set()
            await starting
            ready = await client.get("/readyz")
            answered = await client.post("/api/v1/predict", json={"texts": ["hi"]})
            await service.stop()
            after_stop = await client.get("/readyz")
        return not_ready, refused, alive, ready, answered, after_stop

    not_ready, refused, alive, ready, answered, after_stop = asyncio.run(scenario())
    assert not_ready.status_code == 503 and not_ready.headers["retry-after"] == "1"
    assert refused.status_code == 503 and refused.json()["detail"] == "model is not ready yet"
    assert alive.status_code == 200
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert answered.status_code == 200 and len(answered.json()["results"]) == 1
    assert after_stop.status_code == 503


def test_a_starting_server_is_refused_or_ready_never_half_up(int8_dir):
    """From launch to ready, every probe is either refused (no listener yet) or a full 200."""
    port = free_port()
    server = subprocess.Popen(
        serve_command(int8_dir, port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seen = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and server.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            except httpx.ConnectError:
                seen.append("refused")
                time.sleep(0.02)
                continue
            seen.append(response.status_code)
            if response.status_code == 200:
                break
        assert seen and seen[-1] == 200, (seen[-5:], server.poll())
        assert set(seen) <= {"refused", 503, 200}, seen  # never a 500 from a half-loaded model
        prediction = httpx.get(f"http://127.0.0.1:{port}/predict", params={"search": "hi"})
        assert prediction.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, server.stderr.read()


def _state_and_parent(stat: Path) -> tuple[str, str] | None:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None  # the process ended while we looked
    return fields[0], fields[1]


def child_pids(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid` (Linux /proc)."""
    return {
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if (info := _state_and_parent(stat)) and info[1] == str(pid) and info[0] != "Z"
    }


def alive(pid: int) -> bool:
    info = _state_and_parent(Path(f"/proc/{pid}/stat"))
    return info is not None and info[0] != "Z"


def worker_pids(pid: int) -> set[int]:
    """uvicorn's worker processes under `pid` (not multiprocessing's resource tracker)."""
    return {
        child
        for child in child_pids(pid)
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    }


@contextlib.contextmanager
def two_workers(model: Path):
    """`modeldistill serve --workers 2` on a free port: (process, port) once both workers run;
    then SIGTERM, and the parent must exit 0."""
    port = free_port()
    server = subprocess.Popen(
        serve_command(model, port, "--workers", "2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: _ready(port) or server.poll() is not None, START_TIMEOUT_S)
        assert server.poll() is None, server.stderr.read()
        wait_until(lambda: len(worker_pids(server.pid)) == 2, START_TIMEOUT_S)
        yield server, port
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
    assert code == 0, server.stderr.read()


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
def test_workers_answer_and_all_exit_on_sigterm(int8_dir):
    """`--workers 2`: two worker processes run and answer, and SIGTERM to the parent ends all."""
    with two_workers(int8_dir) as (server, port):
        workers = child_pids(server.pid)  # the workers and multiprocessing's resource tracker
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(20):
                response = client.post("/api/v1/predict", json={"texts": ["hello", "there"]})
                assert response.status_code == 200 and len(response.json()["results"]) == 2
    wait_until(lambda: not any(map(alive, workers)), 30)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


# ---- graceful shutdown -----------------------------------------------------------------------


def raw_request(port: int, body: bytes) -> tuple[str, float]:
    """One POST on a new connection: ('ok' | 'busy' | 'refused' | 'cut: why', finish time).

    A raw socket, because the point is to tell a refused request (nothing received) from one cut
    off mid-response (some bytes received), which HTTP client libraries blur together."""
    head = (
        f"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(head + body)
            while chunk := conn.recv(65536):
                data += chunk
    except OSError as error:
        if not data:  # refused, or reset before a single byte of an answer: nothing was cut
            return "refused", time.monotonic()
        return f"cut: {type(error).__name__} after {len(data)} bytes", time.monotonic()
    if not data:
        return "refused", time.monotonic()  # accepted, then closed unanswered while stopping
    header, _, payload = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = dict(line.lower().split(": ", 1) for line in lines[1:])
    if int(fields.get("content-length", -1)) != len(payload):
        return f"cut: {len(payload)} of {fields.get('content-length')} body bytes", time.monotonic()
    if status == 200 and len(json.loads(payload)["results"]) == 64:
        return "ok", time.monotonic()
    if status == 503 and "retry-after" in fields:
        return "busy", time.monotonic()
    return f"cut: unexpected status {status}", time.monotonic()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stop_signal", "workers"),
    [
        (signal.SIGTERM, 1),
        (signal.SIGINT, 1),
        (signal.SIGHUP, 1),
        (signal.SIGTERM, 2),
        (signal.SIGHUP, 2),
    ],
    ids=lambda v: v.name if isinstance(v, signal.Signals) else f"{v}-workers",
)
def test_a_stop_signal_finishes_in_flight_requests_refuses_new_ones_and_exits_0(
    int8_dir, stop_signal, workers
):
    """SIGTERM (kill, systemd), SIGINT (Ctrl+C) and SIGHUP (the terminal closed) all drain; SIGHUP
    used to end the process at once (exit 129), dropping the requests in flight. With
    `--workers 2` the parent drains both workers and says so once."""
    port = free_port()
    shutdown_timeout = 5.0
    server = subprocess.Popen(
        serve_command(
            int8_dir, port, "--shutdown-timeout", str(shutdown_timeout), "--workers", str(workers)
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.ConnectError:
                time.sleep(0.05)
        # 64 long texts a request: each takes the model a while, so several are always in flight.
        body = json.dumps({"texts": [f"text {i} " + "word " * 300 for i in range(64)]}).encode()
        outcomes: list[tuple[float, str, float]] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                began = time.monotonic()
                outcome, finished = raw_request(port, body)
                outcomes.append((began, outcome, finished))
                if outcome == "refused":
                    return

        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        wait_until(lambda: sum(o == "ok" for _, o, _ in outcomes) >= 6, timeout=START_TIMEOUT_S)
        sigterm_at = time.monotonic()
        server.send_signal(stop_signal)
        code = server.wait(timeout=shutdown_timeout + 20)
        exited_after = time.monotonic() - sigterm_at
        for thread in threads:
            thread.join(timeout=30)
        stop.set()
    finally:
        if server.poll() is None:
            server.kill()
    log = server.stderr.read()
    assert code == 0, log
    stopped = [line for line in log.splitlines() if line.startswith("stopped on")]
    assert stopped == [f"stopped on {stop_signal.name}: in-flight requests were finished"], log
    assert exited_after < shutdown_timeout + 15  # the setting plus interpreter teardown
    cut = [o for _, o, _ in outcomes if o not in ("ok", "busy", "refused")]
    assert not cut, cut
    finished_after_sigterm = [o for began, o, end in outcomes if began < sigterm_at < end]
    assert "ok" in finished_after_sigterm, outcomes[-12:]  # in flight at SIGTERM, still answered
    assert [o for _, o, _ in outcomes].count("refused") == len(threads)  # then new ones refused


# ---- overload ----------------------------------------------------------------------------------


def post(client: httpx.Client, text: str = "hello there") -> httpx.Response:
    return client.post("/api/v1/predict", json={"texts": [text]})


def test_requests_still_running_when_the_shutdown_timeout_ends_get_503_not_500(
    int8_dir, classifier
):
    gated = Gated(classifier)
    gated.gate.set()
    app = create_app(ServeConfig(model=int8_dir), gated)
    answers: list[httpx.Response] = []
    with LiveServer(app, shutdown_timeout=0.5) as live:
        gated.gate.clear()  # the next request stays in the model past the shutdown timeout
        client = threading.Thread(
            target=lambda: answers.append(post(httpx.Client(base_url=live.url, timeout=60)))
        )
        client.start()
        wait_until(lambda: gated.waiting == 1)
        live.server.should_exit = True  # what SIGTERM does
        client.join(timeout=60)
        gated.gate.set()  # let the model thread finish so the server can stop
    (answer,) = answers
    assert answer.status_code == 503, answer.text  # uvicorn alone answers a plain-text 500
    assert answer.headers["retry-after"] == "1"
    assert answer.json() == {"detail": "server shutting down; retry"}


def test_overload_is_refused_at_once_admitted_requests_finish_and_it_recovers(int8_dir, classifier):
    limit = 2
    gated = Gated(classifier)
    gated.gate.set()  # open for the warm-up
    app = create_app(ServeConfig(model=int8_dir, max_in_flight=limit), gated)
    service = app.state.service
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as probe:
        gated.gate.clear()  # the model is now "busy" until the test says otherwise
        admitted: list[httpx.Response] = []
        holders = [
            threading.Thread(target=lambda: admitted.append(post(httpx.Client(base_url=live.url))))
            for _ in range(limit)
        ]
        for thread in holders:
            thread.start()
        wait_until(lambda: service.in_flight == limit)

        # Past the limit: refused with Retry-After while the model is still held, so these
        # answers cannot have waited for it.
        refused = [post(probe, f"extra {i}") for i in range(8)]
        assert gated.gate.is_set() is False and service.in_flight == limit
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "1"
            assert "in flight" in response.json()["detail"]

        gated.gate.set()  # load drops: the admitted ones complete
        for thread in holders:
            thread.join(timeout=30)
        assert [r.status_code for r in admitted] == [200] * limit
        # ...and every later request is served again.
        assert all(post(probe, f"after {i}").status_code == 200 for i in range(20))
        assert app.state.metrics.rejected._value.get() == len(refused)


@pytest.mark.parametrize("batching", [False, True], ids=["no-batching", "batching"])
def test_admitted_requests_wait_behind_at_most_the_in_flight_limit(int8_dir, classifier, batching):
    """Latency bound in model calls, not seconds: an admitted request waits for at most the calls
    of the requests admitted before it, so its latency is bounded whatever the offered load."""
    limit, clients = 3, 12
    gated = Gated(classifier, delay=0.005)  # a model call long enough for requests to overlap
    gated.gate.set()
    config = ServeConfig(model=int8_dir, max_in_flight=limit, batching=batching)
    app = create_app(config, gated)
    service = app.state.service
    waited: list[int] = []
    admitted_predict = service.predict

    async def counting_predict(texts):
        # Called right after admission: count the model calls started from here up to its own.
        before = gated.calls
        result = await admitted_predict(texts)
        waited.append(gated.call_of[texts[0]] - before)
        return result

    service.predict = counting_predict
    statuses: list[int] = []
    with LiveServer(app) as live:

        def client(number: int) -> None:
            with httpx.Client(base_url=live.url, timeout=30) as http:
                for i in range(25):
                    response = post(http, f"load {number} {i}")  # unique: call_of finds it
                    statuses.append(response.status_code)
                    if response.status_code != 200:
                        assert response.status_code == 503 and "retry-after" in response.headers

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with httpx.Client(base_url=live.url, timeout=30) as http:
            recovered = [post(http, f"quiet {i}").status_code for i in range(10)]
    assert len(statuses) == clients * 25
    assert statuses.count(503) > 0, "the load never exceeded the limit; the test proved nothing"
    assert statuses.count(200) > 0
    # At most limit - 1 requests are admitted ahead of this one, plus its own call; the call
    # already running when it arrived started before `before` was read.
    assert max(waited) <= limit, sorted(waited)[-10:]
    assert recovered == [200] * 10


# ---- admission by texts and by time; requests nobody waits for ---------------------------------


def post_in_thread(url: str, texts: list[str], answers: list) -> threading.Thread:
    def send() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            answers.append(client.post("/api/v1/predict", json={"texts": texts}))

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def dropped(app, reason: str) -> float:
    return (
        app.state.metrics.registry.get_sample_value("inference_dropped_total", {"reason": reason})
        or 0.0
    )


def test_a_request_whose_deadline_passes_in_the_queue_gets_503_and_is_never_scored(
    int8_dir, classifier
):
    gated = Gated(classifier)
    gated.gate.set()
    app = create_app(ServeConfig(model=int8_dir, max_queue_wait_ms=300), gated)
    service = app.state.service
    with LiveServer(app) as live:
        gated.gate.clear()
        first, late = [], []
        threads = [post_in_thread(live.url, ["held in the model"], first)]
        wait_until(lambda: gated.waiting == 1)
        threads.append(post_in_thread(live.url, ["queued behind it"], late))
        wait_until(lambda: service.in_flight == 2)
        time.sleep(0.5)  # past its 300 ms deadline, still queued
        gated.gate.set()
        for thread in threads:
            thread.join(timeout=60)
    assert first[0].status_code == 200
    assert late[0].status_code == 503 and late[0].headers["retry-after"] == "1", late[0].text
    assert "not started within 0.3 s" in late[0].json()["detail"]
    assert "queued behind it" not in gated.call_of  # dropped before inference
    assert dropped(app, "deadline") == 1


def test_a_request_whose_client_left_is_dropped_before_inference(int8_dir, classifier):
    gated = Gated(classifier)
    gated.gate.set()
    app = create_app(ServeConfig(model=int8_dir), gated)
    service = app.state.service
    with LiveServer(app) as live:
        gated.gate.clear()
        first: list[httpx.Response] = []
        holder = post_in_thread(live.url, ["held in the model"], first)
        wait_until(lambda: gated.waiting == 1)
        body = json.dumps({"texts": ["nobody waits for me"]}).encode()
        port = live.sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(
                b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            wait_until(lambda: service.in_flight == 2)
        wait_until(lambda: service.in_flight == 1)  # let go while the model is still held
        gated.gate.set()
        holder.join(timeout=60)
        wait_until(lambda: dropped(app, "client_gone") == 1)
        metrics = httpx.get(live.url + "/metrics").text
    assert first[0].status_code == 200
    assert "nobody waits for me" not in gated.call_of
    assert 'route="/api/v1/predict",status="499"' in metrics


def test_admission_counts_texts_not_requests(int8_dir, classifier):
    gated = Gated(classifier)
    gated.gate.set()
    config = ServeConfig(model=int8_dir, max_texts=8, max_queued_texts=8, max_in_flight=100)
    app = create_app(config, gated)
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as probe:
        gated.gate.clear()
        first: list[httpx.Response] = []
        holder = post_in_thread(live.url, [f"text {i}" for i in range(8)], first)
        wait_until(lambda: gated.waiting == 1)
        refused = probe.post("/api/v1/predict", json={"texts": ["one more"]})
        legacy = probe.get("/predict", params={"search": "one more"})
        assert gated.gate.is_set() is False  # answered while the model was still busy
        gated.gate.set()
        holder.join(timeout=60)
    assert first[0].status_code == 200
    for response in (refused, legacy):
        assert response.status_code == 503, response.text
        assert "8 texts queued" in response.json()["detail"]
        assert int(response.headers["retry-after"]) >= 1


def test_admission_refuses_at_once_when_the_work_ahead_exceeds_the_wait(int8_dir, classifier):
    from modeldistill.serve import Metrics, Service

    config = ServeConfig(model=int8_dir, max_queue_wait_ms=1000, max_queued_texts=10_000)
    service = Service(classifier, config, Metrics())
    service.texts_per_second = 1000.0
    service.queued_texts = 400  # 0.4 s of work: within half the wait, the rest is margin
    assert service.refusal(64) is None
    service.queued_texts = 3000  # 3 s of work
    refusal = service.refusal(1)
    assert refusal.status_code == 503 and refusal.headers["Retry-After"] == "3"
    assert "3.0 s of work queued" in refusal.detail


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
def test_a_killed_worker_is_replaced_and_the_service_keeps_answering(int8_dir):
    with two_workers(int8_dir) as (server, port):
        before = worker_pids(server.pid)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + START_TIMEOUT_S
        url = f"http://127.0.0.1:{port}/api/v1/predict"
        while not (len(worker_pids(server.pid) - before) == 1 and len(statuses) >= 20):
            assert time.monotonic() < deadline, (worker_pids(server.pid), before)
            # A new connection each time: the survivor (and then the new worker) must answer.
            statuses.append(
                httpx.post(url, json={"texts": ["still there?"]}, timeout=30).status_code
            )
        after = worker_pids(server.pid)
    assert victim not in after and len(after) == 2
    assert set(statuses) == {200}, statuses


def test_a_refusal_before_the_body_arrived_is_not_lost_to_a_reset(int8_dir, classifier):
    """Refused (503) as soon as its headers arrive, a request's body is still read to its end
    before the connection closes: closing on unread data resets the connection, and the client
    may lose the answer."""
    gated = Gated(classifier)
    gated.gate.set()
    config = ServeConfig(model=int8_dir, max_texts=8, max_queued_texts=8)
    app = create_app(config, gated)
    with LiveServer(app) as live:
        gated.gate.clear()
        first: list[httpx.Response] = []
        holder = post_in_thread(live.url, [f"text {i}" for i in range(8)], first)
        wait_until(lambda: gated.waiting == 1)
        # Refused unread: its size does not matter, only that most of it is still on its way
        # (or in the server's buffer) when the answer is written.
        body = b'{"texts": ["' + b"x" * 900_000 + b'"]}'
        with socket.create_connection(live.address, timeout=30) as conn:
            conn.sendall(
                b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            )
            data = b""
            while chunk := conn.recv(65536):  # a reset raises here
                data += chunk
        gated.gate.set()
        holder.join(timeout=60)
    assert data.startswith(b"HTTP/1.1 503 "), data[:200]
    assert b"retry-after:" in data.lower() and data.endswith(b"}")

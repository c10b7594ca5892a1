"""`modeldistill serve --workers N` under faults, and request sizes that the limits promise to take.

pytest tests/test_serve_workers.py -q

The worker tests run the real CLI as a subprocess on a free loopback port and read its log; they
check what is served and logged (one version, one line per failure, delays that grow, /readyz),
never how fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from modeldistill.serve import ServeConfig, create_app
from modeldistill.serve.capacity import serving_capacity
from modeldistill.serve.config import body_limit_for
from modeldistill.serve.supervisor import model_version
from serve_helpers import LiveServer
from test_reliability import START_TIMEOUT_S, free_port, serve_command, wait_until, worker_pids

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")


def versioned_copy(source: Path, target: Path, version: str) -> Path:
    shutil.copytree(source, target)
    info = json.loads((target / "inference.json").read_text())
    info["version"] = version
    (target / "inference.json").write_text(json.dumps(info))
    return target


class Served:
    """`modeldistill serve --workers 2` whose stderr is collected line by line as it comes."""

    def __init__(self, model: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            serve_command(model, self.port, "--workers", "2"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def readyz(self) -> httpx.Response | None:
        try:  # a new connection each time, so any worker may answer
            return httpx.get(self.url + "/readyz", timeout=10)
        except httpx.TransportError:
            return None

    def ready(self) -> bool:
        answer = self.readyz()
        return answer is not None and answer.status_code == 200

    def restarts(self) -> list[str]:
        return [line for line in self.lines if line.startswith("worker ")]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return code


@contextlib.contextmanager
def two_workers(model: Path):
    served = Served(model)
    try:
        wait_until(lambda: served.ready() or served.process.poll() is not None, START_TIMEOUT_S)
        assert served.process.poll() is None, "\n".join(served.lines)
        wait_until(lambda: len(worker_pids(served.process.pid)) == 2, START_TIMEOUT_S)
        yield served
    finally:
        code = served.stop()  # (Popen sends no signal to a process that has exited)
    log = "\n".join(served.lines)
    assert code == 0, log
    assert "Traceback" not in log, log
    assert served.lines[-1] == "stopped on SIGTERM: in-flight requests were finished", log


def delays(lines: list[str]) -> list[float]:
    return [float(re.search(r"restarting in ([\d.]+) s$", line).group(1)) for line in lines]


def assert_degraded(served: Served) -> None:
    answer = served.readyz()
    assert answer is not None and answer.status_code == 503, answer
    assert answer.headers["retry-after"] == "1"
    assert answer.json() == {"status": "degraded", "workers_serving": 1, "workers": 2}


@pytest.mark.slow
@needs_proc
def test_workers_serve_one_version_after_the_folder_is_replaced_and_one_is_killed(
    int8_export, tmp_path
):
    folder = versioned_copy(int8_export, tmp_path / "model", "v1")
    with two_workers(folder) as served:
        # The folder is replaced (a new export moved into place), then a worker dies.
        new = versioned_copy(int8_export, tmp_path / "model.new", "v2")
        folder.rename(tmp_path / "model.old")
        new.rename(folder)
        os.kill(min(worker_pids(served.process.pid)), signal.SIGKILL)
        wrong = "expected model version v1, found v2"
        wait_until(lambda: any(wrong in line for line in served.restarts()), START_TIMEOUT_S)
        versions, scores = set(), set()
        for _ in range(20):  # new connections: whichever worker accepts, it is the v1 one
            versions.add(httpx.get(served.url + "/api/v1/model", timeout=30).json()["version"])
            answer = httpx.post(served.url + "/api/v1/predict", json={"texts": ["same text"]})
            assert answer.json()["model"]["version"] == "v1"
            scores.add(json.dumps(answer.json()["results"]))
        assert versions == {"v1"} and len(scores) == 1
        assert_degraded(served)
        # The old folder back in place: the next restart serves again, and /readyz says 200.
        folder.rename(tmp_path / "model.v2")
        (tmp_path / "model.old").rename(folder)
        wait_until(served.ready, START_TIMEOUT_S)
        wait_until(lambda: len(worker_pids(served.process.pid)) == 2, START_TIMEOUT_S)
    failures = [line for line in served.restarts() if wrong in line]
    assert failures and all("not serving" in line for line in failures)


@pytest.mark.slow
@needs_proc
def test_a_deleted_folder_gives_one_line_per_failed_restart_with_back_off_and_readyz_503(
    int8_export, tmp_path
):
    folder = versioned_copy(int8_export, tmp_path / "model", "v1")
    with two_workers(folder) as served:
        shutil.rmtree(folder)
        victim = min(worker_pids(served.process.pid))
        os.kill(victim, signal.SIGKILL)
        # The kill, then two restarts that find no folder.
        wait_until(lambda: len(served.restarts()) >= 3, START_TIMEOUT_S)
        assert_degraded(served)
        assert httpx.post(served.url + "/api/v1/predict", json={"texts": ["hi"]}).status_code == 200
    restarts = served.restarts()
    assert f"(pid {victim}) stopped: killed by SIGKILL" in restarts[0]
    assert all("model folder not found" in line for line in restarts[1:]), restarts
    assert delays(restarts)[:3] == [1, 2, 4]  # what the log says; the test does not time it
    # Nothing else was logged: each failure is its one line.
    others = [line for line in served.lines if not line.startswith(("worker ", "serving ", "stop"))]
    assert others == [], others


def test_a_single_process_has_no_worker_capacity():
    assert serving_capacity() is None


def test_a_folder_without_a_version_is_named_by_its_weights(int8_export, tmp_path):
    folder = versioned_copy(int8_export, tmp_path / "model", "")
    version = model_version(folder)
    assert version.startswith("sha256:") and version == model_version(folder)
    (folder / "model.int8.onnx").write_bytes(b"other weights")
    assert model_version(folder) != version
    assert model_version(versioned_copy(int8_export, tmp_path / "named", "v7")) == "v7"


# ---- limits that fit -------------------------------------------------------------------------


def test_the_default_body_limit_fits_the_text_limits():
    assert ServeConfig().max_body_bytes == body_limit_for(64, 5000) == 64 * (5000 * 12 + 4) + 16
    assert ServeConfig(max_texts=2, max_chars=100).max_body_bytes == 2 * 1204 + 16
    assert ServeConfig(max_body_bytes=2048).max_body_bytes == 2048  # a given limit is kept


@pytest.mark.parametrize("char", ["\U0001f600", "\u6f22"], ids=["emoji", "cjk"])
def test_a_maximum_size_request_escaped_as_json_is_accepted(int8_export, int8_classifier, char):
    """64 texts of 5,000 characters, each sent \\u-escaped (json.dumps' default): 12 bytes an
    emoji (a surrogate pair), 6 a CJK character. Both used to get 413 from a 1 MB body limit."""
    body = json.dumps({"texts": [char * 5000] * 64}).encode()
    app = create_app(ServeConfig(model=int8_export), int8_classifier)
    with LiveServer(app) as live:
        answer = httpx.post(
            live.url + "/api/v1/predict",
            content=body,
            headers={"content-type": "application/json"},
            timeout=300,
        )
        assert answer.status_code == 200, answer.text[:300]
        assert len(answer.json()["results"]) == 64
        one_more = body[:-2] + b', "' + b"x" * (body_limit_for(64, 5000) - len(body)) + b'"]}'
        refused = httpx.post(
            live.url + "/api/v1/predict",
            content=one_more,
            headers={"content-type": "application/json"},
            timeout=300,
        )
    assert refused.status_code == 413
    assert "--max-body-bytes" in refused.json()["detail"]

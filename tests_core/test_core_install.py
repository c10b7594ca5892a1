"""A core install (`pip install modeldistill`, no extras) serves and scores the shipped model.

Run in an environment made with the core alone (`make test-core` builds one); in the dev
environment these tests are skipped, since torch is there and the claim cannot be checked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = REPO_ROOT / "models" / "default"
START_TIMEOUT_S = 120  # a hang guard, not a speed target

if os.environ.get("MODELDISTILL_CORE_TEST") != "1":
    pytest.skip(
        "run by `make test-core` in an environment with the core alone", allow_module_level=True
    )


def modeldistill(*args: str, **options) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "modeldistill", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        **options,
    )


def test_the_training_libraries_are_absent():
    for name in ("torch", "transformers", "peft", "accelerate", "matplotlib"):
        assert importlib.util.find_spec(name) is None, (
            f"{name} is installed in the core environment"
        )
    with pytest.raises(ImportError):
        import torch  # noqa: F401


def test_predict_scores_the_shipped_model():
    result = modeldistill("predict", "--model", str(SHIPPED), "--json", "they are vermin", "hello")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 2 and all(0.0 <= row["score"] <= 1.0 for row in rows)
    assert "torch" not in result.stderr


def test_check_runs_on_the_shipped_model():
    result = modeldistill("check", str(SHIPPED), "--json")
    assert result.returncode in (0, 1), result.stderr
    assert json.loads(result.stdout)["accuracy"] > 0.5


def test_a_training_command_names_the_extra_to_install(tmp_path):
    data = tmp_path / "tiny.csv"
    data.write_text("text,label\n" + "".join(f"text {i},{i % 2}\n" for i in range(40)))
    result = modeldistill(
        "train", "--method", "teacher", "--data", str(data), "--out", str(tmp_path / "t")
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'modeldistill[train]'" in lines[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except OSError:
        return 0


def test_the_server_answers_predictions_without_torch():
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modeldistill",
            "serve",
            "--model",
            str(SHIPPED),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while _get(f"{base}/readyz") != 200:
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.5)
        request = urllib.request.Request(
            f"{base}/api/v1/predict",
            data=json.dumps({"texts": ["they are vermin", "see you tomorrow"]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        assert response.status == 200 and len(body["results"]) == 2
        assert body["model"]["name"] == "hate-speech-general-minilm-odd3"
    finally:
        server.terminate()
        server.wait(timeout=30)

"""Every command's `--help` and argument errors answer before the heavy libraries load: the
libraries a command imports before its flags are read are checked in a fresh interpreter.
Run: pytest tests/test_cli_imports.py"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from modeldistill.cli import STAGES

HEAVY = ("torch", "transformers", "datasets", "onnxruntime", "pandas", "sklearn")
# Runs the CLI as `python -m modeldistill` does, then reports the exit status and which of the
# heavy libraries were imported by then.
PROBE = f"""
import json, sys
from modeldistill.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({{"code": code, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def _probe(*argv: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", sorted(STAGES))
def test_help_and_bad_flags_answer_before_heavy_imports(command):
    helped = _probe(command, "--help")
    assert helped == {"code": 0, "heavy": []}
    refused = _probe(command, "--no-such-flag")
    assert refused == {"code": 2, "heavy": []}


def test_a_usage_error_is_refused_before_heavy_imports(tmp_path):
    # Checked by the config's __post_init__, before any work: export needs --out.
    refused = _probe("export", str(tmp_path))
    assert refused == {"code": 2, "heavy": []}


@pytest.mark.parametrize("command", ["run", "train"])
def test_an_unknown_hub_model_offline_is_one_line_before_training(command, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    argv = [command, "--base-model", "no/such-model", "--out", str(tmp_path / "out")]
    if command == "train":
        argv += ["--method", "teacher"]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"code": 2, "heavy": []}
    assert done.stderr.strip().splitlines() == [
        f"modeldistill {command}: error: model 'no/such-model' was not found locally (no such "
        "folder, not in the Hub cache) and offline mode is on (HF_HUB_OFFLINE=1)"
    ]
    assert not (tmp_path / "out").exists()

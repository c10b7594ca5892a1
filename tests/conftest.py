"""Shared fixtures: a tiny randomly initialised BERT classifier and the real data's location.

The tiny model uses the embedded MiniLM tokenizer (it ships with a package, so no network) and a
4-layer, 32-wide encoder, so a half-depth student has 2 layers and everything runs in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One thread per test process: tiny models gain nothing from more, and the machine has two cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from helpers import build_tiny_bert  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path(
    os.environ.get("MODELDISTILL_TEST_DATA", REPO_ROOT.parent / "shared/data/hate_speech18")
)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A 4-layer random BERT classifier with hate_speech18's labels, saved as safetensors."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def int8_export(tiny_bert_dir, tmp_path_factory) -> Path:
    """The tiny model exported with model.safetensors, model.onnx and model.int8.onnx (no
    tuning data, so threshold 0.5). Shared by every test: copy it before changing it."""
    from modeldistill.export.export import ExportConfig, export_model

    out = tmp_path_factory.mktemp("int8-export") / "tiny"
    return export_model(tiny_bert_dir, ExportConfig(out=out, int8=True))


@pytest.fixture(scope="session")
def classifier(tiny_bert_dir):
    """The tiny model on the PyTorch backend, shared by the tests that serve it."""
    from modeldistill.inference import Classifier

    return Classifier.load(tiny_bert_dir, backend="torch")


@pytest.fixture(scope="session")
def int8_classifier(int8_export):
    """The tiny model's int8 ONNX export, loaded once."""
    from modeldistill.inference import Classifier

    return Classifier.load(int8_export, backend="onnx-int8")


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (REAL_DATA / "annotations_metadata.csv").is_file():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture()
def small_csv(tmp_path) -> Path:
    """A few dozen labelled rows with every class present, in the user-dataset format."""
    import csv

    rows = []
    samples = {
        "noHate": ["the weather is nice today", "I like this forum", "see you at the meeting"],
        "hate": [
            "they are vermin and should leave",
            "those people are subhuman",
            "kick them all out",
        ],
        "idk/skip": ["hmm not sure what this means", "whatever", "?"],
        "relation": ["as he said above they do", "this too", "same as the post before"],
    }
    for label, texts in samples.items():
        for repeat in range(6):
            for text in texts:
                rows.append({"text": f"{text} {repeat}", "label": label})
    path = tmp_path / "small.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path

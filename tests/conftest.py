"""Shared fixtures: a tiny randomly initialised BERT classifier and the real data's location.

The tiny model uses the embedded MiniLM tokenizer (it ships with a package, so no network) and a
4-layer, 32-wide encoder, so a half-depth student has 2 layers and everything runs in seconds.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One thread per test process: tiny models gain nothing from more, and the machine has two cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path(
    os.environ.get("MODELDISTILL_TEST_DATA", REPO_ROOT.parent / "shared/data/hate_speech18")
)
LABELS = ["noHate", "hate", "idk/skip", "relation"]


def build_tiny_bert(out_dir: Path, num_layers: int = 4, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from modeldistill.paths import EMBEDDED_TEACHER, resolve_teacher

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(resolve_teacher(EMBEDDED_TEACHER))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A 4-layer random BERT classifier with hate_speech18's labels, saved as safetensors."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


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


@contextlib.contextmanager
def live_server(model_dir: Path, classifier=None, startup_timeout: float = 120.0):
    """(host, port) of uvicorn serving the app in a thread on a free loopback port, once the
    model has answered its warm-up; stopped on exit."""
    import uvicorn

    from modeldistill.inference import Classifier
    from modeldistill.serve import ServeConfig, _bind, create_app

    classifier = classifier or Classifier.load(model_dir, backend="torch")
    app = create_app(ServeConfig(model=model_dir), classifier)
    sock = _bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not (server.started and app.state.service.ready):
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield sock.getsockname()[:2]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

"""Helpers shared by the tests (import them with `from helpers import ...`; fixtures live in
conftest.py): the tiny random BERT and a live server on a loopback port."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

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

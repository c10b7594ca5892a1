"""Helpers shared by the tests (import them with `from helpers import ...`; fixtures live in
conftest.py): the tiny random BERT. A live server is in serve_helpers.py, file scoring helpers in
predict_helpers.py. `load_script` imports one of scripts/ (they are not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

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


def load_script(name: str):
    """scripts/<name>.py as a module, able to import its sibling scripts as it can when run."""
    if str(SCRIPTS) not in sys.path:
        sys.path.append(str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # registered first, as `import` does: dataclasses look their module up by name
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class CalibrationBatches:
    """A CalibrationDataReader over fixed feeds, as export's reader is (get_next, rewind)."""

    def __init__(self, feeds: list[dict]) -> None:
        self._feeds, self._position = feeds, 0

    def get_next(self):
        if self._position == len(self._feeds):
            return None
        self._position += 1
        return self._feeds[self._position - 1]

    def rewind(self) -> None:
        self._position = 0

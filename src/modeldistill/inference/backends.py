"""The runners behind a Classifier: ONNX Runtime for model.onnx / model.int8.onnx, PyTorch for
model.safetensors. The backend names and their files are written here once."""

from __future__ import annotations

import inspect
import logging
import threading
from pathlib import Path

import numpy as np

from modeldistill.errors import UserError, missing_extra
from modeldistill.settings import available_cpus

log = logging.getLogger(__name__)

# Which file each backend reads; `auto` takes the first that the folder holds.
BACKEND_FILES = {"onnx-int8": "model.int8.onnx", "onnx": "model.onnx", "torch": "model.safetensors"}
# Every --backend flag offers exactly these, and Classifier.load takes exactly these.
BACKENDS = ("auto", *BACKEND_FILES)
BACKEND_HELP = f"inference backend: {', '.join(BACKENDS)} (auto: the first file the folder holds)"


def require_backend(name: str) -> str:
    """`name` if it is a backend, else a one-line UserError that lists them."""
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


# Keys under which a sequence classifier's output layer is saved (BERT, RoBERTa, generic `score`).
HEAD_KEYS = ("classifier.weight", "classifier.out_proj.weight", "score.weight")


def safetensors_head_size(path: Path) -> int | None:
    """Rows of the classifier head in a safetensors file, read from its header (no weights)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as weights:
            for key in weights.keys():  # noqa: SIM118 - safe_open is not a dict
                if key.endswith(HEAD_KEYS):
                    return int(weights.get_slice(key).get_shape()[0])
    except Exception as error:  # safetensors raises its own error types for corrupt files
        raise UserError(f"cannot read weights {path}: {error}") from error
    return None


# Tokens in one ONNX run (windows x padded length) above which the run shrinks the arena after
# itself: 16 windows of 128 tokens. A single text, or a micro-batch of 32 texts of up to 64
# tokens, runs with the arena as before; a batch of long windows gives back what it grew.
SHRINK_ABOVE_TOKENS = 16 * 128


class OnnxRunner:
    def __init__(self, path: Path, threads: int | None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One batch at a time per call; all cores go to the matrix products within it.
        options.intra_op_num_threads = threads or available_cpus()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises several unrelated types for bad files
            raise UserError(
                f"cannot load ONNX model {path}: {str(error).splitlines()[0]}"
            ) from error
        self.input_names = [item.name for item in self.session.get_inputs()]
        known = {"input_ids", "attention_mask", "token_type_ids"}
        if "input_ids" not in self.input_names or not set(self.input_names) <= known:
            raise UserError(
                f"{path} has inputs {self.input_names}; expected input_ids, attention_mask"
            )
        self.num_labels = self.session.get_outputs()[0].shape[-1]
        # ONNX Runtime's CPU memory arena grows to the largest batch it has run and keeps it: one
        # maximum-size request (64 texts of 5,000 characters: batches of 32 windows of 128
        # tokens) left a server at 365 MiB RSS instead of 140, for good. A run bigger than
        # SHRINK_ABOVE_TOKENS gives what it grew back at its end; smaller runs, the usual ones,
        # keep the arena as it is and run exactly as before. Turning the arena off instead was
        # slower and kept more (malloc holds on to the freed memory): docs/reliability.md.
        self.shrink = ort.RunOptions()
        self.shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        # InferenceSession.run is thread-safe, so concurrent callers need no lock here.
        inputs = {name: feeds[name] for name in self.input_names}
        big = inputs["input_ids"].size > SHRINK_ABOVE_TOKENS
        return self.session.run(None, inputs, self.shrink if big else None)[0]


class TorchRunner:
    def __init__(self, path: Path, threads: int | None):
        try:
            import torch
            from transformers import AutoModelForSequenceClassification
        except ModuleNotFoundError as error:
            raise missing_extra(error, f"the torch backend ({path.name})") or error from None

        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        try:
            self.model = AutoModelForSequenceClassification.from_pretrained(
                path.parent, use_safetensors=True
            ).eval()
        except (OSError, ValueError, RuntimeError) as error:
            raise UserError(f"cannot load model {path}: {str(error).splitlines()[0]}") from error
        self.num_labels = self.model.config.num_labels
        # DistilBERT-like models take no token_type_ids; pass only what forward() accepts.
        self.accepts = set(inspect.signature(self.model.forward).parameters)
        self.lock = threading.Lock()  # one forward at a time: torch modules share scratch state

    def __call__(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        inputs = {k: self.torch.from_numpy(v) for k, v in feeds.items() if k in self.accepts}
        with self.lock, self.torch.inference_mode():
            return self.model(**inputs).logits.float().numpy()

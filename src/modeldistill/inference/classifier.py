"""Run an exported (or trained) model folder: `Classifier.load(path).predict(texts)`.

    from modeldistill.inference.classifier import Classifier
    clf = Classifier.load("models/default")          # int8 ONNX > ONNX > safetensors (PyTorch)
    for p in clf.predict(["you are all welcome here", "kick them all out"]):
        print(p.label, p.score, p.toxic, p.truncated)

Kept apart from training: the ONNX path imports only onnxruntime, tokenizers and numpy, so a
server starts fast and small. Only safetensors and ONNX are ever loaded (never pickles).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modeldistill.artifacts import (
    METRICS_FILE,
    read_inference,
    read_json_object,
    read_metrics,
)
from modeldistill.errors import UserError
from modeldistill.inference.backends import (
    BACKEND_FILES,
    OnnxRunner,
    TorchRunner,
    require_backend,
    safetensors_head_size,
)
from modeldistill.inference.folder import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_WINDOWS,
    DEFAULT_THRESHOLD,
    labels_from_config,
    load_tokenizer,
)
from modeldistill.labels import DEFAULT_TOXIC_LABEL, describe_task
from modeldistill.text import TextPrep, has_surrogates

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    label: str
    score: float  # probability of `label`
    toxic: bool  # P(toxic_label) >= threshold
    scores: dict[str, float]  # probability of every label
    # The text had more tokens than the model's window: it was read whole, in `windows`
    # overlapping windows, and the scores are those of the window that decided (`span`).
    truncated: bool
    windows: int = 1
    # [start, end) of the deciding window in the prepared text, and that passage (long texts only).
    span: tuple[int, int] | None = None
    passage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Where a sentence ends: after its end mark(s) (. ! ? ; :) where a space follows, and at a line
# break. A colon ends one ("Anyway, here is what I think: ..."), so the clause after it is read
# as it would be alone; a mark inside a word ("10:30", "3.5", "x.org") does not.
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n\s*")


def _sentences(text: str):
    """(start, sentence) for each sentence of `text`, surrounding spaces left out."""
    start = 0
    for end in [*_SENTENCE_END.finditer(text), None]:
        piece = text[start : len(text) if end is None else end.start()]
        stripped = piece.strip()
        if stripped:
            yield start + piece.index(stripped[0]), stripped
        if end is not None:
            start = end.end()


class TextTooLong(UserError):
    """A text that needs more windows than the classifier reads (`max_windows`)."""


@dataclass
class Windows:
    """Every window of a list of texts, flattened in text order: what `Classifier.batches` cuts
    into batches and `Classifier.combine` folds back into one row of scores per text."""

    encodings: list[Any]
    owner: np.ndarray  # the text each window belongs to
    counts: list[int]  # windows per text
    texts: list[str]  # the texts as prepared for the model: spans index into these
    shifts: list[int]  # where in its text a window's offsets start (a sentence's start)

    def too_long(self, limit: int) -> list[int]:
        """The texts that need more than `limit` windows."""
        return [index for index, count in enumerate(self.counts) if count > limit]

    def span(self, window: int) -> tuple[int, int]:
        """[start, end) in its prepared text of the words a window holds (special tokens aside)."""
        encoding, shift = self.encodings[window], self.shifts[window]
        offsets = [
            offset
            for offset, special in zip(encoding.offsets, encoding.special_tokens_mask, strict=True)
            if not special
        ]
        return (shift + offsets[0][0], shift + offsets[-1][1]) if offsets else (shift, shift)


class Classifier:
    """A text classifier over one model folder; `predict` is safe to call from many threads."""

    def __init__(self, path: Path, runner: Any, tokenizer: Any, labels: list[str], info: dict):
        self.path = path
        self._runner = runner
        self._tokenizer = tokenizer
        self.labels = labels
        self.backend: str = info["backend"]
        self.threshold: float = float(info.get("threshold", DEFAULT_THRESHOLD))
        # Temperature scaling fitted at export (1: none); the threshold was tuned on its scores.
        self.temperature: float = float(info.get("temperature", 1.0))
        self.toxic_label: str | None = info["toxic_label"]
        self.max_length: int = int(info["max_length"])
        self.max_windows: int = int(info.get("max_windows", DEFAULT_MAX_WINDOWS))
        self.batch_size: int = int(info["batch_size"])
        self.name: str = str(info.get("name") or path.resolve().name)
        self.version: str = str(info.get("version") or "unversioned")
        self.metrics: dict[str, Any] | None = info.get("metrics")
        self._pad_id = info["pad_id"]
        self.text_prep: TextPrep = info["text_prep"]
        # What the model decides, for the page: its title, positive label and what that means.
        self.task: dict[str, Any] = describe_task(
            info.get("task_title"), self.toxic_label, info.get("positive_meaning")
        )

    @classmethod
    def load(
        cls,
        path: str | Path,
        backend: str = "auto",
        batch_size: int = 32,
        max_length: int | None = None,
        threads: int | None = None,
        max_windows: int = DEFAULT_MAX_WINDOWS,
    ) -> Classifier:
        """Load a model folder; any problem with it is a UserError that names the problem."""
        path = Path(path)
        require_backend(backend)
        if max_windows < 1:
            raise UserError(f"max_windows must be at least 1, got {max_windows}")
        if batch_size < 1:
            raise UserError(f"batch_size must be at least 1, got {batch_size}")
        if not path.is_dir():
            raise UserError(f"model folder not found: {path}")
        if not (path / "config.json").is_file():
            raise UserError(f"{path} has no config.json; is it a model folder?")
        config = read_json_object(path / "config.json")
        settings = read_inference(path)

        if backend == "auto":
            backend = next((b for b, f in BACKEND_FILES.items() if (path / f).is_file()), "")
            if not backend:
                raise UserError(
                    f"{path} holds no model weights (model.int8.onnx, model.onnx or "
                    "model.safetensors); only safetensors and ONNX are loaded"
                )
        weights = path / BACKEND_FILES[backend]
        if not weights.is_file():
            raise UserError(f"backend {backend!r} needs {weights.name}, which {path} does not hold")

        labels = labels_from_config(config, path)
        if backend == "torch":
            head = safetensors_head_size(weights)
            if head is not None and head != len(labels):
                raise UserError(
                    f"{path}/config.json names {len(labels)} labels but the classifier head in "
                    f"{weights.name} has {head} outputs"
                )
        runner = (TorchRunner if backend == "torch" else OnnxRunner)(weights, threads)
        if isinstance(runner.num_labels, int) and runner.num_labels != len(labels):
            raise UserError(
                f"{path}/config.json names {len(labels)} labels but {weights.name} "
                f"outputs {runner.num_labels}"
            )

        limit = int(config.get("max_position_embeddings", 512))
        length = int(max_length or (settings.max_length if settings else DEFAULT_MAX_LENGTH))
        if not 2 < length <= limit:
            raise UserError(
                f"max_length must be between 3 and {limit} for this model, got {length}"
            )
        tokenizer, pad_id = load_tokenizer(path, length)

        toxic_label = settings.toxic_label if settings else DEFAULT_TOXIC_LABEL
        if toxic_label not in labels:
            if settings:
                raise UserError(
                    f"{path}/inference.json names toxic_label {toxic_label!r}, "
                    f"which is not one of the labels {labels}"
                )
            log.warning("%s has no %r label, so no text is marked toxic", path, toxic_label)
            toxic_label = None
        metrics_path = path / METRICS_FILE
        info = {
            "backend": backend,
            "threshold": settings.threshold if settings else DEFAULT_THRESHOLD,
            "temperature": settings.temperature if settings else 1.0,
            "toxic_label": toxic_label,
            "max_length": length,
            "batch_size": batch_size,
            "max_windows": max_windows,
            "pad_id": pad_id,
            # The preparation the model was trained with (several-source models): applied again.
            "text_prep": TextPrep.from_dict((config.get("modeldistill") or {}).get("text_prep")),
            "name": settings.name if settings else None,
            "version": settings.version if settings else None,
            "task_title": settings.task_title if settings else None,
            "positive_meaning": settings.positive_meaning if settings else None,
            "metrics": read_metrics(metrics_path).to_dict() if metrics_path.is_file() else None,
        }
        return cls(path, runner, tokenizer, labels, info)

    def predict(self, texts: list[str]) -> list[Prediction]:
        """One Prediction per text, in input order."""
        if isinstance(texts, str):
            raise UserError("predict takes a list of texts, not a single string")
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise UserError(f"text {index} is a {type(text).__name__}, not a string")
            if has_surrogates(text):
                raise UserError(
                    f"text {index} holds a lone surrogate (U+D800..U+DFFF), which is not valid text"
                )
        if not texts:
            return []
        windows = self.windows(texts)
        too_long = windows.too_long(self.max_windows)
        if too_long:
            index = too_long[0]
            raise TextTooLong(
                f"text {index} needs {windows.counts[index]} passages of at most {self.max_length} "
                f"tokens; at most {self.max_windows} are read per text"
            )
        window_probs = np.empty((len(windows.encodings), len(self.labels)), dtype=np.float32)
        for rows, feeds in self.batches(windows.encodings):
            window_probs[rows] = self.probabilities(feeds)
        probs, deciding = self.combine(windows, window_probs)
        best, toxic = self.decide(probs)
        predictions = []
        for index, (row, b, t) in enumerate(zip(probs, best, toxic, strict=True)):
            count = windows.counts[index]
            span = windows.span(int(deciding[index])) if count > 1 else None
            predictions.append(
                Prediction(
                    label=self.labels[b],
                    score=float(row[b]),
                    toxic=bool(t),
                    scores={label: float(p) for label, p in zip(self.labels, row, strict=True)},
                    truncated=count > 1,
                    windows=count,
                    span=span,
                    passage=None if span is None else windows.texts[index][span[0] : span[1]],
                )
            )
        return predictions

    def windows(self, texts: list[str]) -> Windows:
        """Each text prepared and cut into the passages the model reads. A text that fits one
        window is one passage. A longer one is read sentence by sentence (a sentence longer
        than a window in overlapping windows), or in overlapping windows of the whole text if it
        has one sentence only. Why not windows of the whole text: in a window of 128 tokens one
        hateful sentence after a paragraph of harmless ones weighs too little to be caught
        (measured: 3 of 16 such texts), and a harmless one read in the paragraph's company gets a
        verdict it does not get alone (the check: 29% of its harmless sentences flagged after a
        paragraph against 21% alone; read as sentences, the same 21%)."""
        prepared = [self.text_prep(text) for text in texts] if self.text_prep.active else texts
        encodings, owner, counts, shifts = [], [], [], []
        whole = self._tokenizer.encode_batch(prepared)
        for index, encoding in enumerate(whole):
            sentences = list(_sentences(prepared[index])) if encoding.overflowing else []
            if len(sentences) > 1:
                parts, starts = [], []
                for start, sentence in zip(
                    [s for s, _ in sentences],
                    self._tokenizer.encode_batch([text for _, text in sentences]),
                    strict=True,
                ):
                    pieces = [sentence, *sentence.overflowing]
                    parts += pieces
                    starts += [start] * len(pieces)
            else:
                parts = [encoding, *encoding.overflowing]
                starts = [0] * len(parts)
            encodings += parts
            shifts += starts
            owner += [index] * len(parts)
            counts.append(len(parts))
        return Windows(encodings, np.asarray(owner, dtype=np.int64), counts, list(prepared), shifts)

    def combine(self, windows: Windows, window_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(one row of probabilities per text, the window that decided it). A text is as toxic
        as its most toxic window, so hate after a paragraph of harmless text is not diluted; a
        model without a toxic label takes each text's most confident window."""
        column = (
            window_probs[:, self.labels.index(self.toxic_label)]
            if self.toxic_label is not None
            else window_probs.max(axis=-1)
        )
        deciding = np.empty(len(windows.counts), dtype=np.int64)
        start = 0
        for index, count in enumerate(windows.counts):
            deciding[index] = start + int(np.argmax(column[start : start + count]))
            start += count
        return window_probs[deciding], deciding

    def batches(self, encodings: list[Any]) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """(positions, model inputs) per batch of at most batch_size encodings, shortest first:
        sorting by length keeps padding, and so wasted compute, small within each batch."""
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(lengths, kind="stable")
        return [
            (rows, self._feeds([encodings[i] for i in rows]))
            for rows in (
                order[start : start + self.batch_size]
                for start in range(0, len(order), self.batch_size)
            )
        ]

    def probabilities(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities for one batch from `batches`; safe to call from several threads."""
        return _softmax(self.logits(feeds) / self.temperature)

    def logits(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The model's raw outputs for one batch from `batches`, before temperature and softmax."""
        return self._runner(feeds)

    def text_logits(self, texts: list[str]) -> np.ndarray:
        """Raw outputs per text, before temperature and softmax: a long text's are those of the
        passage that decides its verdict, as `predict` reads it (what calibration fits)."""
        windows = self.windows(texts)
        window_logits = np.empty((len(windows.encodings), len(self.labels)), dtype=np.float64)
        for rows, feeds in self.batches(windows.encodings):
            window_logits[rows] = self.logits(feeds)
        # Which passage decides is the same at every temperature for a binary model.
        _, deciding = self.combine(windows, _softmax(window_logits / self.temperature))
        return window_logits[deciding]

    def decide(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index of the best label, whether the text counts as toxic) for each row of `probs`."""
        best = probs.argmax(axis=-1)
        if self.toxic_label is None:
            return best, np.zeros(len(probs), dtype=bool)
        return best, probs[:, self.labels.index(self.toxic_label)] >= self.threshold

    def tokenize(self, texts: list[str]) -> list[Any]:
        """The unpadded encodings of every window `predict` feeds the model (bench times this)."""
        return self.windows(texts).encodings

    def _feeds(self, encodings: list[Any]) -> dict[str, np.ndarray]:
        # Padding by hand: the texts were encoded once, unpadded, to sort them by length.
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
            types[row, :n] = encoding.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def describe(self) -> dict[str, Any]:
        """What a health check or a report shows about the loaded model."""
        return {
            "name": self.name,
            "version": self.version,
            "backend": self.backend,
            "labels": self.labels,
            "threshold": self.threshold,
            "toxic_label": self.toxic_label,
            "max_length": self.max_length,
            "max_windows": self.max_windows,
            "path": str(self.path),
            "task": self.task,
        }


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)

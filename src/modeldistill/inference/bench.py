"""Latency and throughput of exported models, per backend and batch size, side by side.

    modeldistill bench --model models/teacher --model models/default --data DATA --out bench.json

For each model × backend (PyTorch fp32, ONNX fp32, ONNX int8, where the folder holds it) × batch
size: latency p50/p95 of one `Classifier.predict` call (tokenising included, as users see it),
p50 of the tokenising alone, texts/s, size of the weights file, and label agreement with the
model's own PyTorch fp32 labels on the validation split (or on a fixed list of sentences without
--data); with --data also the macro-F1 on that split. Prints a markdown table and writes everything as JSON.

Every model and backend is loaded first, then timed in turn: the calls of each batch size are
split into `--rounds` rounds, and each round times every model × backend once, so a slow spell of
a shared machine falls on all of them alike instead of on whichever was measured then.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldistill.errors import UserError
from modeldistill.inference.backends import BACKEND_FILES
from modeldistill.inference.classifier import Classifier
from modeldistill.inference.samples import CHECK_TEXTS
from modeldistill.reporting import MISSING, figure
from modeldistill.reporting import markdown_table as reporting_table
from modeldistill.settings import available_cpus, option, require, to_jsonable


@dataclass
class BenchConfig:
    data: str | None = option(None, "dataset whose validation split gives texts and labels")
    split: str = option("validation", "split to read with --data", choices=["validation", "test"])
    out: Path = option(Path("bench.json"), "JSON file to write the results to")
    backends: list[str] = option(["torch", "onnx", "onnx-int8"], "backends to measure")
    batch_sizes: list[int] = option([1, 32], "batch sizes to measure")
    calls: int = option(50, "timed predict calls per model, backend and batch size")
    warmup: int = option(3, "untimed calls first (graph optimisation, caches)")
    rounds: int = option(
        5,
        "the --calls of each batch size are split into this many rounds, every model x backend "
        "timed once per round in turn (1: each measured in one go; at most --calls)",
    )
    threads: int | None = option(None, "CPU threads per model (default: all available)")
    limit: int = option(2000, "at most this many texts for agreement and F1")

    def __post_init__(self) -> None:
        unknown = set(self.backends) - set(BACKEND_FILES)
        require(not unknown, f"unknown backends {sorted(unknown)}; use {', '.join(BACKEND_FILES)}")
        require(all(1 <= b <= 4096 for b in self.batch_sizes), "--batch-sizes must be 1..4096")
        require(1 <= self.calls <= 100_000, f"--calls must be 1..100000, got {self.calls}")
        require(self.warmup >= 0 and self.limit >= 1, "--warmup must be >= 0 and --limit >= 1")
        require(self.rounds >= 1, f"--rounds must be at least 1, got {self.rounds}")
        self.rounds = min(self.rounds, self.calls)  # a round times at least one call


def _texts_and_labels(config: BenchConfig) -> tuple[list[str], list[str] | None]:
    if config.data is None:
        return list(CHECK_TEXTS), None
    from modeldistill.data.config import DataConfig
    from modeldistill.data.splits import load_splits

    splits = load_splits(DataConfig(data=config.data))
    part = splits[config.split].select(range(min(config.limit, len(splits[config.split]))))
    if len(part) == 0:
        raise UserError(f"the {config.split} split of {config.data} is empty")
    return list(part["text"]), [splits.labels[i] for i in part["label"]]


def _time_calls(classifier: Classifier, texts: list[str], batch: int, first: int, count: int):
    """Latencies in seconds of `count` whole predict calls and of their tokenising alone, the
    calls numbered from `first` (call n reads texts n*batch onwards, cycling)."""
    latencies, tokenising = [], []
    for call in range(first, first + count):
        chunk = [texts[(call * batch + i) % len(texts)] for i in range(batch)]
        began = time.perf_counter()
        classifier.predict(chunk)
        predicted = time.perf_counter()
        classifier.tokenize(chunk)
        latencies.append(predicted - began)
        tokenising.append(time.perf_counter() - predicted)
    return latencies, tokenising


@dataclass
class _Measured:
    """One model x backend: loaded, scored, and the latencies gathered over the rounds."""

    model: Path
    classifier: Classifier
    agreement: float | None
    macro_f1: float | None
    latencies: dict[int, list[float]]
    tokenising: dict[int, list[float]]


def _load_and_score(
    model: Path, config: BenchConfig, texts: list[str], truth: list[str] | None
) -> list[_Measured]:
    from sklearn.metrics import f1_score

    measured: list[_Measured] = []
    reference: list[str] | None = None
    # torch first: it is the reference that the others' labels are compared with.
    for backend in ("torch", *[b for b in config.backends if b != "torch"]):
        weights = model / BACKEND_FILES[backend]
        if not weights.is_file():
            if backend in config.backends:
                print(f"{model}: no {weights.name}, skipping {backend}")
            continue
        classifier = Classifier.load(model, backend=backend, threads=config.threads)
        labels = [p.label for p in classifier.predict(texts)]
        if backend == "torch":
            reference = labels
        if backend not in config.backends:
            continue
        agreement = (
            None
            if reference is None
            else sum(a == b for a, b in zip(labels, reference, strict=True)) / len(texts)
        )
        macro_f1 = None
        if truth is not None:
            macro_f1 = f1_score(truth, labels, labels=sorted(set(truth)), average="macro")
        measured.append(_Measured(model, classifier, agreement, macro_f1, {}, {}))
    return measured


def _time_in_rounds(measured: list[_Measured], config: BenchConfig, texts: list[str]) -> None:
    for batch in config.batch_sizes:
        for entry in measured:
            _time_calls(entry.classifier, texts, batch, 0, config.warmup)
        done = 0
        for round_index in range(config.rounds):
            count = config.calls * (round_index + 1) // config.rounds - done
            for entry in measured:
                latencies, tokenising = _time_calls(
                    entry.classifier, texts, batch, config.warmup + done, count
                )
                entry.latencies.setdefault(batch, []).extend(latencies)
                entry.tokenising.setdefault(batch, []).extend(tokenising)
            done += count


def _rows(entry: _Measured, batch_sizes: list[int], texts: list[str]) -> list[dict[str, Any]]:
    rows = []
    for batch in batch_sizes:
        latencies = entry.latencies[batch]
        p50 = statistics.median(latencies)
        rows.append(
            {
                "model": entry.classifier.name,
                "path": str(entry.model),
                "backend": entry.classifier.backend,
                "batch_size": batch,
                "p50_ms": 1000 * p50,
                "p95_ms": 1000 * statistics.quantiles(latencies, n=20, method="inclusive")[-1]
                if len(latencies) > 1
                else 1000 * p50,
                "tokenize_p50_ms": 1000 * statistics.median(entry.tokenising[batch]),
                "texts_per_s": batch * len(latencies) / sum(latencies),
                "size_mb": (entry.model / BACKEND_FILES[entry.classifier.backend]).stat().st_size
                / 1e6,
                "agreement": entry.agreement,
                "macro_f1": entry.macro_f1,
                "texts": len(texts),
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    header = ["model", "backend", "batch", "p50 ms", "p95 ms", "tokenise ms", "texts/s"]
    header += ["size MB", "agreement", "macro-F1"]
    cells = [
        [
            r["model"],
            r["backend"],
            r["batch_size"],
            figure(r["p50_ms"], 2),
            figure(r["p95_ms"], 2),
            figure(r["tokenize_p50_ms"], 2),
            figure(r["texts_per_s"], 0),
            figure(r["size_mb"], 1),
            MISSING if r["agreement"] is None else f"{100 * r['agreement']:.1f}%",
            figure(r["macro_f1"], 4),
        ]
        for r in rows
    ]
    return reporting_table(header, cells, numeric=[False, False] + [True] * 8)


def run_bench(models: list[Path], config: BenchConfig) -> dict[str, Any]:
    import onnxruntime
    import torch

    texts, truth = _texts_and_labels(config)
    measured = [entry for model in models for entry in _load_and_score(model, config, texts, truth)]
    _time_in_rounds(measured, config, texts)
    rows = [row for entry in measured for row in _rows(entry, config.batch_sizes, texts)]
    return {
        "config": to_jsonable(config),
        "models": [str(model) for model in models],
        "agreement_texts": "validation split" if config.data else "bundled sentences",
        "machine": {
            "cpus": available_cpus(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "results": rows,
    }

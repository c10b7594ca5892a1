"""Latency and throughput of exported models, per backend and batch size, side by side.

    modeldistill bench --model models/teacher --model models/default --data DATA --out bench.json

For each model × backend (PyTorch fp32, ONNX fp32, ONNX int8, where the folder holds it) × batch
size: latency p50/p95 of one `Classifier.predict` call (tokenising included, as users see it),
p50 of the tokenising alone, texts/s, size of the weights file, and label agreement with the
model's own PyTorch fp32 labels on the validation split (or on a fixed list of sentences without
--data); with --data also the macro-F1 on that split. Prints a markdown table and writes everything as JSON.
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
    threads: int | None = option(None, "CPU threads per model (default: all available)")
    limit: int = option(2000, "at most this many texts for agreement and F1")

    def __post_init__(self) -> None:
        unknown = set(self.backends) - set(BACKEND_FILES)
        require(not unknown, f"unknown backends {sorted(unknown)}; use {', '.join(BACKEND_FILES)}")
        require(all(1 <= b <= 4096 for b in self.batch_sizes), "--batch-sizes must be 1..4096")
        require(1 <= self.calls <= 100_000, f"--calls must be 1..100000, got {self.calls}")
        require(self.warmup >= 0 and self.limit >= 1, "--warmup must be >= 0 and --limit >= 1")


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


def _time_calls(classifier: Classifier, texts: list[str], batch: int, config: BenchConfig):
    """Per-call latencies in seconds of whole predict calls and of their tokenising alone,
    cycling through the texts in batches of `batch`."""
    latencies, tokenising = [], []
    for call in range(config.warmup + config.calls):
        chunk = [texts[(call * batch + i) % len(texts)] for i in range(batch)]
        began = time.perf_counter()
        classifier.predict(chunk)
        predicted = time.perf_counter()
        classifier.tokenize(chunk)
        if call >= config.warmup:
            latencies.append(predicted - began)
            tokenising.append(time.perf_counter() - predicted)
    return latencies, tokenising


def bench_model(model: Path, config: BenchConfig, texts: list[str], truth: list[str] | None):
    from sklearn.metrics import f1_score

    rows: list[dict[str, Any]] = []
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
        for batch in config.batch_sizes:
            latencies, tokenising = _time_calls(classifier, texts, batch, config)
            p50 = statistics.median(latencies)
            rows.append(
                {
                    "model": classifier.name,
                    "path": str(model),
                    "backend": backend,
                    "batch_size": batch,
                    "p50_ms": 1000 * p50,
                    "p95_ms": 1000 * statistics.quantiles(latencies, n=20, method="inclusive")[-1]
                    if len(latencies) > 1
                    else 1000 * p50,
                    "tokenize_p50_ms": 1000 * statistics.median(tokenising),
                    "texts_per_s": batch * len(latencies) / sum(latencies),
                    "size_mb": weights.stat().st_size / 1e6,
                    "agreement": agreement,
                    "macro_f1": macro_f1,
                    "texts": len(texts),
                }
            )
        del classifier
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
    rows = [row for model in models for row in bench_model(model, config, texts, truth)]
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

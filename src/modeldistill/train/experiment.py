"""Run the whole experiment: fine-tune the teacher, distil odd and even students, train LoRA,
evaluate each on the held-out test split, and write a comparison report with plots.

    modeldistill run --out runs/exp                                  # hate_speech18, all methods
    modeldistill run --data my.csv --out runs/mine --base-model bert-base-uncased
    modeldistill run --out runs/exp --methods odd,even --resume      # reuse runs/exp/teacher
    modeldistill run --out runs/quick --max-train-samples 500 --epochs 1

DIR/<method>/ is a model folder (see `train`), DIR/results.json holds every method's test metrics,
DIR/report.md the comparison table, DIR/*.png the loss curves and confusion matrices.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

from modeldistill.artifacts import METRICS_FILE, read_metrics
from modeldistill.data.config import DataConfig
from modeldistill.errors import UserError
from modeldistill.labels import positive_label
from modeldistill.paths import EMBEDDED_TEACHER
from modeldistill.settings import option, require, to_jsonable
from modeldistill.train.config import METHODS, STUDENT_METHODS, TrainConfig


@dataclass
class ExperimentConfig:
    out: Path = option(
        Path("runs/experiment"), "folder for every method's model, results and report"
    )
    base_model: str = option(
        EMBEDDED_TEACHER,
        "pre-trained model that the teacher and LoRA start from: Hub id, folder, or the embedded MiniLM",
    )
    teacher: str = option(
        "", "reuse this fine-tuned teacher folder (e.g. another seed's) instead of DIR/teacher"
    )
    methods: list[str] = option(["teacher", "odd", "even", "lora"], "what to train, in order")
    layers: list[int] = option([], "0-based teacher layers for the `layers` method")
    resume: bool = option(False, "skip methods whose folder already has metrics.json")
    positive_label: str | None = option(
        None,
        "the label whose precision, recall and F1 the report shows (alias --toxic-label; default: "
        "`hate` when the data has that label)",
    )

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        unknown = [m for m in self.methods if m not in METHODS]
        require(not unknown, f"unknown method(s) {unknown}: choose from {', '.join(METHODS)}")
        require(bool(self.methods), "--methods is empty")
        require(
            "layers" not in self.methods or bool(self.layers), "the `layers` method needs --layers"
        )


def _finished(folder: Path) -> bool:
    return (folder / METRICS_FILE).is_file() and (folder / "model.safetensors").is_file()


def run_experiment(
    experiment: ExperimentConfig,
    base: TrainConfig,
    data: DataConfig,
    ensemble: list[str] | None = None,
) -> dict:
    """Train every method of `experiment`; `ensemble` (more teacher folders) goes to the students."""
    # Here, not at the top: `run --help` reads ExperimentConfig from this module without torch.
    from modeldistill.data.splits import load_splits
    from modeldistill.train.report import write_report
    from modeldistill.train.run import train

    teacher_dir = Path(experiment.teacher or experiment.out / "teacher")
    if experiment.teacher and not _finished(teacher_dir):
        raise UserError(
            f"--teacher {teacher_dir} has no model.safetensors and metrics.json: it names a "
            "fine-tuned teacher folder (the pre-trained model to start from is --base-model)"
        )
    needs_teacher = any(m in STUDENT_METHODS for m in experiment.methods)
    if needs_teacher and "teacher" not in experiment.methods and not _finished(teacher_dir):
        raise UserError(
            f"students need a fine-tuned teacher: add `teacher` to --methods or train {teacher_dir}"
        )
    splits = load_splits(data)
    # Before any training: a report of data without `hate` needs to be told its positive class.
    positive = positive_label(experiment.positive_label, splits.labels, "the data's")
    timings = {}
    folders = {m: teacher_dir if m == "teacher" else experiment.out / m for m in experiment.methods}
    for method, folder in folders.items():
        if method == "teacher" and experiment.teacher:
            print(f"[teacher] reusing {folder}")
            continue
        if experiment.resume and _finished(folder):
            print(f"[{method}] already trained in {folder}, skipping (--resume)")
            continue
        print(f"[{method}] training -> {folder}")
        config = dataclasses.replace(
            base,
            method=method,
            out=folder,
            base_model=experiment.base_model,
            teacher=str(teacher_dir),
            layers=experiment.layers,
            ensemble=list(ensemble or []) if method in STUDENT_METHODS else [],
        )
        started = time.perf_counter()
        train(config, data, splits)
        timings[method] = round(time.perf_counter() - started, 1)
    results = {
        "methods": {
            m: read_metrics(folder / METRICS_FILE).to_dict() for m, folder in folders.items()
        },
        "positive_label": positive,
        "data": splits.summary(),
        "config": {
            "run": to_jsonable(experiment),
            "train": to_jsonable(base),
            "data": to_jsonable(data),
        },
        "wall_seconds": timings,
    }
    (experiment.out / "results.json").write_text(
        json.dumps(results, indent=2) + "\n", encoding="utf-8"
    )
    write_report(experiment.out, folders, positive)
    return results

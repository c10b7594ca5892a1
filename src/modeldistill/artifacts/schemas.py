"""The JSON files that stages hand to each other, as typed objects with one writer and one reader.

| file | class | written by | read by |
|---|---|---|---|
| `run_config.json` | `RunConfig` | `write_run_config` (train) | `read_run_config` (export's card) |
| `inference.json` | `InferenceSettings` | `write_inference` (export) | `read_inference` (inference, evaluate) |
| `metrics.json` | `Metrics` | `write_metrics` (train, evaluate, export) | `read_metrics` (inference, experiment, summarize) |
| `check.json` | `CheckSummary` | `write_check` (check, export) | `read_check` (export's card) |

Every file carries a `format` number. A file without one was written by a release before the
number existed (format 0), whose keys are those of format 1, so it is read as format 1; a file
with a higher number than this release knows, or whose content does not fit its class, is refused
with a UserError that names the file and says what to do.

This module imports no torch (nor does `train_config`): `inference` reads these files on the light
ONNX-only path.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modeldistill.labels import HATE
from modeldistill.settings import to_jsonable
from modeldistill.train.config import TrainConfig

RUN_CONFIG_FILE = "run_config.json"


INFERENCE_FILE = "inference.json"


METRICS_FILE = "metrics.json"


CHECK_FILE = "check.json"


TRAIN_LOG_FILE = "train_log.jsonl"


# The format each file is written in. Raise one when a field changes meaning or is removed, and
# teach its reader to convert the previous format (format 0, no number, equals format 1).
RUN_CONFIG_FORMAT = 1


INFERENCE_FORMAT = 1


METRICS_FORMAT = 1


CHECK_FORMAT = 1


class _Strict(BaseModel):
    # A key this release does not know means the file came from elsewhere: refuse, do not drop it.
    model_config = ConfigDict(extra="forbid")


class EpochRecord(_Strict):
    """One line of train_log.jsonl: the mean training loss of an epoch (and of each loss term,
    `train_loss_<term>`), the validation scores after it, and the time since training began."""

    # Loss terms vary with the method (a teacher has none, a student three or four): kept as extra
    # keys, each checked to be a `train_loss_<term>` number.
    model_config = ConfigDict(extra="allow")

    epoch: int
    train_loss: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    val_macro_f1: float | None = None
    elapsed_s: float | None = None

    @model_validator(mode="after")
    def _terms_are_losses(self) -> EpochRecord:
        for key, value in (self.model_extra or {}).items():
            if not key.startswith("train_loss_") or not isinstance(value, (int, float)):
                raise ValueError(f"unknown key {key!r} (only train_loss_<term> numbers are added)")
        return self

    @property
    def loss_terms(self) -> dict[str, float]:
        """Each loss term's mean, by term name (`classification`, `divergence`, ...)."""
        return {key.removeprefix("train_loss_"): value for key, value in self.model_extra.items()}

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ClassScores(_Strict):
    precision: float
    recall: float
    f1: float
    support: int


class BinaryScores(_Strict):
    precision: float
    recall: float
    f1: float


class ReliabilityBin(_Strict):
    """One equal-width bin of P(positive): how many texts fell in it, their mean predicted
    probability and the share of them that were positive (both null for an empty bin)."""

    low: float
    high: float
    count: int
    # defaults, because metrics.json leaves out nulls
    mean_predicted: float | None = None
    observed_rate: float | None = None


class SplitMetrics(_Strict):
    """The scores of one set of predictions against its labels (what `compute_metrics` returns)."""

    num_examples: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, ClassScores]
    labels: list[str]
    confusion_matrix: list[list[int]]
    # toxic-vs-rest scores; only when the labels include the toxic label
    hate: BinaryScores | None = None
    # ROC-AUC of P(hate): only for hate-vs-rest scoring (several sources, or --hate-vs-rest)
    roc_auc: float | None = None
    # Calibration of P(toxic label) against toxic-vs-rest truth: expected calibration error over
    # equal-width bins, the bins themselves, and the ECE the scores had before temperature scaling
    # (only for a folder whose inference.json has a temperature other than 1).
    ece: float | None = None
    ece_uncalibrated: float | None = None
    reliability: list[ReliabilityBin] | None = None

    def positive_scores(self, label: str) -> BinaryScores | None:
        """Precision, recall and F1 of `label` against every other label (None when the scored
        labels lack it): what reports and cards show of a binary decision's positive class."""
        if label == HATE and self.hate is not None:
            return self.hate
        scores = self.per_class.get(label)
        if scores is None:
            return None
        return BinaryScores(precision=scores.precision, recall=scores.recall, f1=scores.f1)


class GroupBias(_Strict):
    """One identity group's bias figures (Dixon et al. 2018; Borkan et al. 2019), on the texts
    that mention it. An AUC is None when the texts it needs lack one class; None values are left
    out of the JSON (`exclude_none`), hence the defaults."""

    mentions: int
    non_hateful: int  # of the mentions: the texts a false positive is counted on
    fpr: float | None = None  # share of the non-hateful mentions flagged at the threshold
    subgroup_auc: float | None = None  # ROC-AUC of P(hate) within the mentions
    bpsn_auc: float | None = None  # background positive, subgroup negative
    bnsp_auc: float | None = None  # background negative, subgroup positive


class BiasReport(_Strict):
    """Bias per identity group, and the largest gap between two groups' false-positive rates."""

    groups: dict[str, GroupBias]
    overall_fpr: float | None = None  # on every non-hateful text, for comparison
    # the largest minus the smallest FPR over groups with at least `gap_min_non_hateful` texts
    fpr_gap: float | None = None
    fpr_gap_groups: list[str] = Field(default_factory=list)  # [lowest, highest]
    gap_min_non_hateful: int


class Metrics(SplitMetrics):
    """`metrics.json`: a model's scores on one split, with what was scored and how."""

    model: str
    backend: str
    split: str
    parameters: int
    size_bytes: int
    # Training adds these: the kept epoch and its validation score, and the training time.
    best_epoch: int | None = None
    best_val_macro_f1: float | None = None
    train_seconds: float | None = None
    # The P(hate) threshold of a hate-vs-rest scoring (the model's tuned one, as the API decides).
    threshold: float | None = None
    # The same scores per data source, for runs on several sources (empty: one source).
    by_source: dict[str, SplitMetrics] = Field(default_factory=dict)
    # Per identity group, pooled over the split (hate-vs-rest scoring only); absent before bias
    # was measured.
    bias: BiasReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (without the file's format number), keys in the order they always had."""
        data = self.model_dump(exclude_none=True)
        if not data["by_source"]:
            del data["by_source"]
        head = {key: data.pop(key) for key in ("model", "backend", "split")}
        return head | data


class CaseScore(_Strict):
    accuracy: float
    n: int
    expected: str | None = None  # case types only: the verdict every sentence of the case expects


class ObfuscationScore(_Strict):
    """The check's hateful and harmless sentences through one obfuscation (or as written)."""

    recall: float  # share of the hateful sentences flagged
    false_positive_rate: float  # share of the harmless sentences flagged
    hateful: int
    harmless: int


class BatchInvariance(_Strict):
    """The same sentences scored one at a time and in batches: a verdict must not depend on which
    other texts were sent along."""

    texts: int
    batch_size: int
    flips: int
    max_probability_difference: float


class CheckSummary(_Strict):
    """`check.json`: the behavioural check's result (`modeldistill check`), per case and group."""

    model: str
    threshold: float
    num_cases: int
    accuracy: float
    cases: dict[str, CaseScore]
    groups: dict[str, CaseScore]
    group_mean: float
    targets: dict[str, float]
    failures: list[str]
    passed: bool
    # Per identity group, on the check's sentences; absent in files written before it was measured.
    bias: BiasReport | None = None
    # Per group: the share of its friendly, neutral and self-description sentences flagged
    # (check.run.FRIENDLY_CASES); absent in files written before it was reported.
    friendly_fpr: dict[str, float] | None = None
    # Every sentence with its P(hate), when the run was asked to keep them (`check --out`).
    sentences: list[dict[str, Any]] | None = None
    # The obfuscation section, absent from files written before it existed: scores as written
    # ("plain") and per obfuscation, batch invariance, and its own targets and verdict, which
    # count in `passed` only when the check was run with --require-obfuscation.
    obfuscations: dict[str, ObfuscationScore] | None = None
    batch_invariance: BatchInvariance | None = None
    obfuscation_failures: list[str] | None = None
    obfuscation_passed: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class BackendCheck(_Strict):
    """How far an ONNX file's probabilities are from PyTorch's on the check texts."""

    max_probability_difference: float
    label_agreement: float
    texts: int
    # Largest change of any probability between a text scored alone and inside one padded batch
    # of all the texts (0 when scores do not depend on the batch); absent in older files.
    batch_difference: float | None = None


class Quantization(_Strict):
    """How model.int8.onnx was made (see export/onnx.py) and which texts calibrated it."""

    method: str  # static | dynamic
    per_channel: bool
    format: str | None = None
    calibration_method: str | None = None
    quantized_matmuls: int | None = None
    quantized_embeddings: int | None = None
    fp32_matmuls: int | None = None
    reduce_range: bool | None = None  # 7-bit weights
    gelu_input_range: float | None = None  # the limit: wider GELU-fed inputs stay fp32
    gelu_input_ranges: dict[str, float] | None = None  # each GELU-fed MatMul's, calibrated
    smoothing_alpha: float | None = None  # SmoothQuant's (0: none); absent in older files
    smoothed_inputs: int | None = None  # MatMul input tensors smoothed
    outlier_factor: float | None = None  # fp32 outlier-channel split (0: none); absent before
    outlier_channels: dict[str, list[int]] | None = None  # each split MatMul's channels
    calibration_texts: int | None = None
    calibration_source: str | None = None


class TemperatureFit(_Strict):
    """The temperature scaling fitted on the validation split, with the figures it changed."""

    texts: int
    target: str  # what the negative log-likelihood scored: the labels, or toxic-vs-rest
    backend: str
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float


class InferenceSettings(_Strict):
    """`inference.json`: how an exported folder is to be run and where its threshold came from."""

    threshold: float = Field(ge=0.0, le=1.0)
    toxic_label: str
    max_length: int = Field(ge=3)
    labels: list[str]
    name: str
    version: str
    threshold_source: str
    source_model: str
    data: str | None
    exported_at: str
    modeldistill_version: str
    checks: dict[str, BackendCheck] | None = None
    # counts and scores at the tuned threshold (only when a dataset tuned it)
    validation: dict[str, int | float] | None = None
    parameters: int | None = None
    # Logits are divided by this before the softmax (1: no scaling, as in files written before it).
    temperature: float = Field(1.0, gt=0.0)
    temperature_fit: TemperatureFit | None = None
    quantization: Quantization | None = None
    # What the task is, as export recorded it (`--task-title`, `--positive-meaning`): the card and
    # the page show it. Absent in folders exported before it existed, which were all hate speech.
    task_title: str | None = None
    positive_meaning: str | None = None

    @property
    def positive_label(self) -> str:
        """The label whose probability decides the binary verdict (stored as `toxic_label`)."""
        return self.toxic_label

    def to_dict(self) -> dict[str, Any]:
        data = self.model_dump(exclude_none=True)
        # `data` is null without a tuning dataset; the later fields are absent until measured,
        # and temperature 1 (no scaling) is left out, so files written before it read as written.
        kept = {
            key: data.get(key) for key in type(self).model_fields if key in data or key == "data"
        }
        if kept.get("temperature") == 1.0:
            del kept["temperature"]
        return kept


@dataclasses.dataclass
class RunConfig:
    """`run_config.json`: the resolved settings a model was trained with."""

    train: TrainConfig
    # The data settings as a nested mapping (the data config's own shape, which grows with it).
    data: dict[str, Any]
    train_seconds: float | None = None

    def data_source(self) -> str | None:
        """The dataset the run read (path, Hub id or recipe file), if its data block names one;
        a run on several `--data` values names them joined by ", "."""
        source = self.data.get("data")
        if isinstance(source, list):
            source = ", ".join(str(item) for item in source if item)
        return source if isinstance(source, str) and source else None

    def to_dict(self) -> dict[str, Any]:
        train = to_jsonable(self.train)
        if not train.get("ensemble"):
            # added after format 1: left out when unused, so files written before it read as written
            train.pop("ensemble", None)
        payload = {"train": train, "data": self.data}
        if self.train_seconds is not None:
            payload["train_seconds"] = self.train_seconds
        return payload

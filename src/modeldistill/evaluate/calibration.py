"""Whether P(toxic) means what it says: expected calibration error, a reliability table, and the
temperature that export fits on the validation split so that it does."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from modeldistill.artifacts import ReliabilityBin, TemperatureFit
from modeldistill.data.config import Splits
from modeldistill.data.splits import model_inputs
from modeldistill.errors import UserError

# Equal-width bins of P(positive) for ECE and the reliability table.
ECE_BINS = 10
# The search range of the temperature: far wider than any fitted value seen, so a bound that is
# reached means the scores carry no information rather than that the range was too narrow.
TEMPERATURE_RANGE = (0.05, 20.0)


def reliability(
    is_positive: np.ndarray, p_positive: np.ndarray, bins: int = ECE_BINS
) -> tuple[float, list[ReliabilityBin]]:
    """(ECE, the table): ECE is the count-weighted mean of |mean predicted - observed rate| over
    `bins` equal-width bins of P(positive); a bin holds low < p <= high (the first also p = 0)."""
    truth = np.asarray(is_positive, dtype=float)
    scores = np.clip(np.asarray(p_positive, dtype=float), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, scores, side="left") - 1, 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        mean = float(scores[inside].mean()) if count else None
        rate = float(truth[inside].mean()) if count else None
        if count:
            ece += count / len(scores) * abs(mean - rate)
        table.append(
            ReliabilityBin(
                low=round(float(edges[b]), 6),
                high=round(float(edges[b + 1]), 6),
                count=count,
                mean_predicted=mean,
                observed_rate=rate,
            )
        )
    return float(ece), table


def negative_log_likelihood(
    logits: np.ndarray, targets: np.ndarray, temperature: float, positive: int | None = None
) -> float:
    """Mean NLL of `targets` under softmax(logits / temperature): of the label ids, or with
    `positive` of the booleans target == positive class (P(positive) against the rest)."""
    from scipy.special import log_softmax

    log_p = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)
    if positive is None:
        return float(-log_p[np.arange(len(targets)), np.asarray(targets)].mean())
    log_pos = log_p[:, positive]
    # log(1 - p) from log p without cancellation when p is near 1
    log_neg = np.log(-np.expm1(np.minimum(log_pos, -1e-12)))
    hit = np.asarray(targets, dtype=bool)
    return float(-np.where(hit, log_pos, log_neg).mean())


def fit_temperature(logits: np.ndarray, targets: np.ndarray, positive: int | None = None) -> float:
    """The one temperature T that minimises the NLL of `targets` (see negative_log_likelihood),
    searched on log T so that shrinking and stretching the scores are treated alike."""
    from scipy.optimize import minimize_scalar

    low, high = TEMPERATURE_RANGE
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, targets, math.exp(log_t), positive),
        bounds=(math.log(low), math.log(high)),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(math.exp(result.x))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    from scipy.special import softmax as scipy_softmax

    return scipy_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=-1)


def fit_folder_temperature(
    model_dir: Path, splits: Splits, name: str, toxic_label: str
) -> tuple[float, TemperatureFit]:
    """The temperature for the folder's deployed backend, fitted on the validation split of
    `splits` (the data named `name`): on its labels when the model has the data's labels, else on
    toxic-vs-rest; and the NLL and ECE of P(toxic) before and after."""
    from modeldistill.inference.classifier import Classifier

    classifier = Classifier.load(model_dir)
    validation = splits.validation
    if len(validation) == 0:
        raise UserError(f"{name} has an empty validation split; cannot fit the temperature")
    if toxic_label not in splits.labels or toxic_label not in classifier.labels:
        raise UserError(f"{name} or the model has no {toxic_label!r} label; cannot calibrate")
    logits = classifier.text_logits(model_inputs(validation))
    data_ids = np.array(validation["label"])
    positive = classifier.labels.index(toxic_label)
    is_toxic = data_ids == splits.labels.index(toxic_label)
    if classifier.labels == splits.labels:
        targets, binary, target = data_ids, None, "validation labels"
    else:
        targets, binary, target = is_toxic, positive, f"{toxic_label} vs rest"
    temperature = fit_temperature(logits, targets, binary)
    ece_before, _ = reliability(is_toxic, softmax(logits)[:, positive])
    ece_after, _ = reliability(is_toxic, softmax(logits, temperature)[:, positive])
    fit = TemperatureFit(
        texts=len(logits),
        target=target,
        backend=classifier.backend,
        nll_before=round(negative_log_likelihood(logits, targets, 1.0, binary), 6),
        nll_after=round(negative_log_likelihood(logits, targets, temperature, binary), 6),
        ece_before=round(ece_before, 6),
        ece_after=round(ece_after, 6),
    )
    return temperature, fit

"""The pieces transformers' Trainer is given for training: the collator that carries teacher
logits, the Trainer subclasses that change only the loss, the per-epoch log that keeps the best
epoch, and the validation metrics (evaluate's own code, so that validation and test agree).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback

from modeldistill.artifacts import EpochRecord, append_epoch
from modeldistill.evaluate.metrics import compute_metrics
from modeldistill.train import losses


class DistillationCollator:
    """Pads token ids per batch and carries precomputed teacher logits along."""

    def __init__(self, tokenizer) -> None:
        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, features: list[dict]) -> dict:
        token_keys = ("input_ids", "attention_mask", "token_type_ids", "label")
        batch = self.pad([{k: f[k] for k in token_keys if k in f} for f in features])
        if "teacher_logits" in features[0]:
            batch["teacher_logits"] = torch.tensor(
                [f["teacher_logits"] for f in features], dtype=torch.float32
            )
        return batch


class ClassifierTrainer(Trainer):
    """Cross-entropy training (teacher fine-tuning, LoRA) that logs its loss components per epoch."""

    def __init__(self, *args, class_weights: torch.Tensor | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self._component_sums: dict[str, float] = defaultdict(float)
        self._component_steps = 0

    def loss_terms(
        self, model, inputs: dict, labels: torch.Tensor, teacher_logits: torch.Tensor | None
    ) -> tuple[dict, object]:
        """The loss terms of one batch by name, and the model's outputs."""
        outputs = model(**inputs)
        weights = (
            None if self.class_weights is None else self.class_weights.to(outputs.logits.device)
        )
        return {
            "classification": losses.classification_loss(outputs.logits, labels, weights)
        }, outputs

    def combine(self, terms: dict) -> torch.Tensor:
        return terms["classification"]

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        teacher_logits = inputs.pop("teacher_logits", None)
        if not model.training:  # validation loss: the task loss, comparable across methods
            outputs = model(**inputs)
            loss = losses.classification_loss(outputs.logits, labels)
            return (loss, outputs) if return_outputs else loss
        terms, outputs = self.loss_terms(model, inputs, labels, teacher_logits)
        for name, value in terms.items():
            self._component_sums[name] += float(value.detach())
        self._component_steps += 1
        loss = self.combine(terms)
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._component_steps:
            names = sorted(self._component_sums)
            means = torch.tensor([self._component_sums[n] / self._component_steps for n in names])
            means = self.accelerator.reduce(means.to(self.args.device), reduction="mean").cpu()
            logs.update(
                {
                    f"loss_{name}": round(float(value), 6)
                    for name, value in zip(names, means, strict=True)
                }
            )
            self._component_sums.clear()
            self._component_steps = 0
        super().log(logs, start_time)


class DistillationTrainer(ClassifierTrainer):
    """CE + temperature KL + cosine (+ optional hidden-state MSE) against a frozen teacher."""

    def __init__(
        self, *args, weights: losses.LossWeights, temperature: float, teacher=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.weights = weights
        self.temperature = temperature
        self.teacher = teacher.eval().to(self.args.device) if teacher is not None else None

    def loss_terms(
        self, model, inputs: dict, labels: torch.Tensor, teacher_logits: torch.Tensor | None
    ):
        need_hidden = self.weights.hidden > 0
        outputs = model(**inputs, output_hidden_states=need_hidden)
        teacher_hidden = None
        if self.teacher is not None:  # online only when hidden states are needed
            with torch.no_grad():
                teacher_out = self.teacher(**inputs, output_hidden_states=need_hidden)
            teacher_logits, teacher_hidden = teacher_out.logits, teacher_out.hidden_states
        weights = (
            None if self.class_weights is None else self.class_weights.to(outputs.logits.device)
        )
        terms = {
            "classification": losses.classification_loss(outputs.logits, labels, weights),
            "divergence": losses.divergence_loss(outputs.logits, teacher_logits, self.temperature),
            "cosine": losses.cosine_loss(outputs.logits, teacher_logits),
        }
        if need_hidden:
            layer_map = self.accelerator.unwrap_model(model).config.modeldistill["layer_map"]
            terms["hidden"] = losses.hidden_state_loss(
                outputs.hidden_states, teacher_hidden, layer_map, inputs["attention_mask"]
            )
        return terms, outputs

    def combine(self, terms: dict) -> torch.Tensor:
        return losses.combine(terms, self.weights)


class EpochLog(TrainerCallback):
    """Keeps the best epoch's weights (validation macro-F1) and writes one JSONL line per epoch."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.best_f1 = -1.0
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self._train: dict = {}
        self._started = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self._train = {k: v for k, v in logs.items() if k == "loss" or k.startswith("loss_")}
        if "eval_macro_f1" in logs and state.is_world_process_zero:
            record = EpochRecord(
                epoch=round(state.epoch or 0),
                **{f"train_{k}": v for k, v in self._train.items()},
                val_loss=logs.get("eval_loss"),
                val_accuracy=logs.get("eval_accuracy"),
                val_macro_f1=logs.get("eval_macro_f1"),
                elapsed_s=round(time.perf_counter() - self._started, 1),
            )
            append_epoch(self.folder, record)

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        if metrics and metrics.get("eval_macro_f1", -1) > self.best_f1:
            self.best_f1 = metrics["eval_macro_f1"]
            self.best_epoch = round(state.epoch or 0)
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def validation_metrics(labels: list[str]) -> Callable[[object], dict[str, float]]:
    """Trainer's `compute_metrics`: validation accuracy and macro-F1, computed as on test."""

    def compute(prediction) -> dict[str, float]:
        predicted = np.argmax(prediction.predictions, axis=-1)
        scores = compute_metrics(prediction.label_ids, predicted, labels)
        return {"accuracy": scores.accuracy, "macro_f1": scores.macro_f1}

    return compute

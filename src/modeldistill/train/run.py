"""Train one model: fine-tune the teacher, distil a half-depth student from it, or train LoRA.

    modeldistill train --method teacher --out runs/teacher              # fine-tune MiniLM first
    modeldistill train --method odd --teacher runs/teacher --out runs/odd
    modeldistill train --method layers --layers 0,5 --teacher runs/teacher --out runs/ends
    modeldistill train --method lora --out runs/lora
    accelerate launch --num_processes 2 -m modeldistill train ...       # DDP, nothing to change

Training is transformers' Trainer (optimiser, linear schedule, length-grouped batches, DDP through
accelerate); its subclasses in `modeldistill.train.trainers` only change the loss. The best epoch by
validation macro-F1 is kept in memory and restored at the end, so no optimiser checkpoint (a
pickle) is ever written.
Students learn from teacher logits computed once before training: the teacher is frozen, so they
would be the same every epoch. The folder written is what `from_pretrained` loads, plus
`run_config.json`, `train_log.jsonl` (one line per epoch) and `metrics.json` (test split).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    TrainingArguments,
)

from modeldistill.artifacts import (
    METRICS_FILE,
    TRAIN_LOG_FILE,
    Metrics,
    RunConfig,
    write_metrics,
    write_run_config,
)
from modeldistill.data.config import DataConfig, Splits
from modeldistill.data.splits import load_splits
from modeldistill.errors import UserError
from modeldistill.evaluate.metrics import compute_metrics, count_parameters, size_on_disk
from modeldistill.paths import resolve_teacher
from modeldistill.settings import to_jsonable
from modeldistill.train.config import STUDENT_METHODS, TrainConfig
from modeldistill.train.features import tokenize
from modeldistill.train.student import make_student
from modeldistill.train.trainers import (
    ClassifierTrainer,
    DistillationCollator,
    DistillationTrainer,
    EpochLog,
    validation_metrics,
)

log = logging.getLogger(__name__)


@torch.no_grad()
def predict_logits(model, dataset, collator, batch_size: int) -> np.ndarray:
    """Logits in dataset order, computed on length-sorted batches so padding stays small."""
    model.eval()
    device = next(model.parameters()).device
    order = np.argsort(dataset["length"], kind="stable")
    logits = np.zeros((len(dataset), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        batch = collator([dataset[int(i)] for i in indices])
        batch.pop("labels", None)
        batch.pop("teacher_logits", None)
        outputs = model(**{k: v.to(device) for k, v in batch.items()})
        logits[indices] = outputs.logits.float().cpu().numpy()
    return logits


def _load_pretrained(name_or_path: str, splits: Splits):
    source = resolve_teacher(name_or_path)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            num_labels=len(splits.labels),
            id2label=splits.id2label,
            label2id=splits.label2id,
            ignore_mismatched_sizes=True,
            use_safetensors=True,  # never fall back to a pickled pytorch_model.bin
        )
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as error:
        raise UserError(
            f"cannot load model {name_or_path!r}: {str(error).splitlines()[0]}"
        ) from None
    return model, tokenizer


def _load_teacher(folder: str, splits: Splits):
    path = Path(folder)
    if not (path / "config.json").is_file():
        raise UserError(
            f"teacher folder {path} has no config.json: train one with --method teacher"
        )
    model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(path)
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if labels != splits.labels:
        raise UserError(
            f"teacher {path} was trained on labels {labels}, the data has {splits.labels}"
        )
    if (getattr(model.config, "modeldistill", None) or {}).get("method") != "teacher":
        log.warning(
            "%s was not fine-tuned by `modeldistill train --method teacher`: make sure it "
            "is fine-tuned on this task, or the student learns from a random head",
            path,
        )
    return model.eval(), tokenizer


def _build(config: TrainConfig, splits: Splits):
    """(model to train, tokenizer, frozen teacher or None, description for config.json)."""
    if config.method == "teacher":
        model, tokenizer = _load_pretrained(config.base_model, splits)
        return model, tokenizer, None, {"method": "teacher", "base_model": config.base_model}
    if config.method == "lora":
        from peft import LoraConfig, TaskType, get_peft_model

        base, tokenizer = _load_pretrained(config.base_model, splits)
        lora = LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.lora_targets),
        )
        try:
            model = get_peft_model(base, lora)
        except ValueError as error:
            raise UserError(f"LoRA targets {config.lora_targets}: {error}") from None
        return model, tokenizer, None, {"method": "lora", "base_model": config.base_model}
    teacher, tokenizer = _load_teacher(config.teacher, splits)
    selection = config.layers if config.method == "layers" else config.method
    student = make_student(teacher, selection)
    return student, tokenizer, teacher, {"method": config.method, "teacher": str(config.teacher)}


def _load_ensemble(config: TrainConfig, splits: Splits, tokenizer) -> list:
    """The --ensemble teachers, checked before any work: same labels, same vocabulary."""
    members = []
    for folder in config.ensemble:
        member, member_tokenizer = _load_teacher(folder, splits)
        if member_tokenizer.get_vocab() != tokenizer.get_vocab():
            raise UserError(
                f"--ensemble {folder} tokenises differently from --teacher {config.teacher}: "
                "every teacher must share one vocabulary"
            )
        members.append(member)
    return members


def _mean_logits(teachers: list, dataset, collator, batch_size: int) -> np.ndarray:
    """The mean of the teachers' logits: a geometric mean of their probabilities, so the KL and
    cosine terms stay as they are for one teacher."""
    total = sum(
        predict_logits(teacher, dataset, collator, batch_size).astype(np.float64)
        for teacher in teachers
    )
    return (total / len(teachers)).astype(np.float32)


def _class_weights(splits: Splits) -> torch.Tensor:
    counts = np.bincount(np.asarray(splits.train["label"]), minlength=len(splits.labels)).astype(
        np.float64
    )
    return torch.tensor(counts.sum() / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32)


def train(config: TrainConfig, data: DataConfig, splits: Splits | None = None) -> Path:
    """Train, keep the best epoch, write the model folder; returns it."""
    splits = splits or load_splits(data)
    torch.manual_seed(config.seed)
    model, tokenizer, teacher, description = _build(config, splits)
    ensemble = _load_ensemble(config, splits, tokenizer)
    if ensemble:
        description["ensemble"] = [str(folder) for folder in config.ensemble]
    train_rows = splits.train
    if config.max_train_samples and config.max_train_samples < len(train_rows):
        train_rows = train_rows.shuffle(seed=config.seed).select(range(config.max_train_samples))
    train_set = tokenize(train_rows, tokenizer, data.max_length).remove_columns("text")
    validation_set = tokenize(splits.validation, tokenizer, data.max_length).remove_columns("text")
    collator = DistillationCollator(tokenizer)
    if teacher is not None and config.weight_hidden == 0:
        started = time.perf_counter()
        teacher_logits = _mean_logits(
            [teacher, *ensemble], train_set, collator, config.eval_batch_size
        )
        train_set = train_set.add_column("teacher_logits", teacher_logits.tolist())
        log.info(
            "teacher logits for %d rows in %.1fs", len(train_set), time.perf_counter() - started
        )

    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / TRAIN_LOG_FILE).unlink(missing_ok=True)
    epoch_log = EpochLog(config.out)
    args = TrainingArguments(
        output_dir=str(config.out / ".trainer"),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        lr_scheduler_type="linear",
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        seed=config.seed,
        eval_strategy="epoch",
        logging_strategy="epoch",
        save_strategy="no",
        report_to="none",
        train_sampling_strategy="group_by_length",
        length_column_name="length",
        remove_unused_columns=False,
        disable_tqdm=not config.progress,
        dataloader_num_workers=0,
        # Pinned memory only speeds copies to a GPU; on CPU torch warns about it every epoch.
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    common = dict(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=validation_set,
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=validation_metrics(splits.labels),
        callbacks=[epoch_log],
        class_weights=_class_weights(splits) if config.class_weighting == "balanced" else None,
    )
    if config.method in STUDENT_METHODS:
        trainer: ClassifierTrainer = DistillationTrainer(
            **common,
            weights=config.loss_weights(),
            temperature=config.temperature,
            teacher=teacher if config.weight_hidden > 0 else None,
        )
    else:
        trainer = ClassifierTrainer(**common)
    started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - started
    shutil.rmtree(args.output_dir, ignore_errors=True)  # Trainer makes it; nothing is saved there

    if not trainer.is_world_process_zero():
        return config.out
    final = trainer.model
    if config.method == "lora":
        final.save_pretrained(config.out / "adapter")
        final = final.merge_and_unload()
    previous = getattr(final.config, "modeldistill", None) or {}
    final.config.modeldistill = {**previous, **description, "best_epoch": epoch_log.best_epoch}
    if splits.text_prep.active:
        final.config.modeldistill["text_prep"] = splits.text_prep.to_dict()
    final.save_pretrained(config.out)
    tokenizer.save_pretrained(config.out)
    write_run_config(
        config.out,
        RunConfig(train=config, data=_data_record(data), train_seconds=round(train_seconds, 1)),
    )

    test_set = tokenize(splits.test, tokenizer, data.max_length).remove_columns("text")
    logits = predict_logits(final, test_set, collator, config.eval_batch_size)
    scores = compute_metrics(np.asarray(splits.test["label"]), logits.argmax(-1), splits.labels)
    metrics = Metrics(
        model=str(config.out),
        backend="torch",
        split="test",
        **dict(scores),
        parameters=count_parameters(config.out),
        size_bytes=size_on_disk(config.out, "torch"),
        best_epoch=epoch_log.best_epoch,
        best_val_macro_f1=epoch_log.best_f1,
        train_seconds=round(train_seconds, 1),
    )
    write_metrics(config.out / METRICS_FILE, metrics)
    return config.out


def _data_record(data: DataConfig) -> dict:
    """The data settings, and for several sources each source as the recipe named it when the
    model was trained: the card then lists what the model read, even after the recipe changes."""
    record = to_jsonable(data)
    if data.multi_source:
        from modeldistill.data.sources.recipe import specs_from_values

        record["sources"] = [spec.to_dict() for spec in specs_from_values(data.data)]
    return record

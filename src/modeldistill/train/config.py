"""The training settings (`modeldistill train` flags), apart from training itself so that reading
a run's `run_config.json` does not load torch or transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modeldistill.errors import UserError
from modeldistill.paths import EMBEDDED_TEACHER
from modeldistill.settings import option, require

METHODS = ("teacher", "odd", "even", "layers", "lora")
STUDENT_METHODS = ("odd", "even", "layers")


@dataclass
class TrainConfig:
    method: str = option("teacher", "what to train", choices=list(METHODS))
    out: Path = option(Path("runs/model"), "folder to write the trained model into")
    base_model: str = option(
        EMBEDDED_TEACHER,
        "pre-trained model for teacher and lora: Hub id, folder, or the embedded MiniLM",
    )
    teacher: str = option(
        "", "fine-tuned teacher folder that a student learns from (odd/even/layers)"
    )
    ensemble: list[str] = option(
        [],
        "another fine-tuned teacher folder (repeat the flag): the student learns from the mean "
        "of their logits and --teacher's; its layers still come from --teacher",
        repeat=True,
    )
    layers: list[int] = option([], "0-based teacher layers kept by --method layers")
    epochs: int = option(5, "passes over the training split")
    learning_rate: float = option(5e-5, "peak learning rate of AdamW (linear decay, no warm-up)")
    batch_size: int = option(32, "training batch size per process")
    eval_batch_size: int = option(64, "batch size for validation and test")
    warmup_ratio: float = option(0.0, "share of steps spent warming up the learning rate")
    weight_decay: float = option(0.0, "AdamW weight decay (0 = the original's Adam)")
    seed: int = option(1234, "seed of initialisation, dropout and batch order")
    temperature: float = option(1.0, "softmax temperature of the KL term")
    weight_classification: float = option(1.0, "weight of cross-entropy on the labels")
    weight_divergence: float = option(1.0, "weight of KL(teacher || student) × T²")
    weight_cosine: float = option(1.0, "weight of the cosine loss between logits")
    weight_hidden: float = option(0.0, "weight of hidden-state MSE to the source teacher layers")
    class_weighting: str = option(
        "none",
        "cross-entropy class weights: none, or balanced (n / (k · count))",
        choices=["none", "balanced"],
    )
    lora_r: int = option(8, "LoRA rank")
    lora_alpha: int = option(16, "LoRA scaling numerator")
    lora_dropout: float = option(0.1, "LoRA dropout")
    lora_targets: list[str] = option(["query", "value"], "modules that get LoRA adapters")
    max_train_samples: int = option(0, "train on a seeded sample of this many rows (0 = all)")
    progress: bool = option(True, "show progress bars")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        require(self.method in METHODS, f"--method must be one of {', '.join(METHODS)}")
        require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        require(
            self.learning_rate > 0, f"--learning-rate must be positive, got {self.learning_rate}"
        )
        require(
            self.batch_size >= 1 and self.eval_batch_size >= 1, "batch sizes must be at least 1"
        )
        require(self.temperature > 0, f"--temperature must be positive, got {self.temperature}")
        require(0 <= self.warmup_ratio < 1, "--warmup-ratio must be in [0, 1)")
        require(self.max_train_samples >= 0, "--max-train-samples must be >= 0")
        require(
            self.lora_r >= 1 and 0 <= self.lora_dropout < 1,
            "LoRA needs r >= 1 and 0 <= dropout < 1",
        )
        if self.method in STUDENT_METHODS:
            require(
                bool(self.teacher),
                f"--method {self.method} needs --teacher: a fine-tuned teacher folder",
            )
        if self.ensemble:
            require(
                self.method in STUDENT_METHODS,
                f"--ensemble is for students (odd/even/layers), not --method {self.method}",
            )
            require(
                self.weight_hidden == 0,
                "--ensemble averages logits; --weight-hidden needs the one teacher's hidden states",
            )
        if self.method == "layers":
            require(bool(self.layers), "--method layers needs --layers, e.g. --layers 0,2,4")
        try:
            self.loss_weights()
        except ValueError as error:
            raise UserError(str(error)) from None

    def loss_weights(self) -> LossWeights:
        return LossWeights(
            self.weight_classification,
            self.weight_divergence,
            self.weight_cosine,
            self.weight_hidden,
        )


@dataclass(frozen=True)
class LossWeights:
    classification: float = 1.0
    divergence: float = 1.0
    cosine: float = 1.0
    hidden: float = 0.0

    def __post_init__(self) -> None:
        values = (self.classification, self.divergence, self.cosine, self.hidden)
        if min(values) < 0 or sum(values) <= 0:
            raise ValueError(f"loss weights must be >= 0 with a positive sum, got {values}")

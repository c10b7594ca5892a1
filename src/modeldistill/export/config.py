"""The export stage's settings (`ExportConfig`, the `export` flags), apart from the work in
`export.export` so that `export --help` and a mistyped flag answer before torch is imported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modeldistill.inference.folder import DEFAULT_MAX_LENGTH
from modeldistill.settings import option, require

# How model.int8.onnx is quantised (export.onnx.quantize_int8 does the work).
QUANTIZATION_METHODS = ("static", "dynamic")
# The default widest calibrated input range (max - min) of a GELU-fed MatMul that static int8
# quantises. One uint8 step of such a range is range/255; on the shipped MiniLM student the first
# layer's down-projection (range 25.8: a step of 0.1 where most values are below 2) cost 1.3 points
# of verdict agreement with fp32, the other two (17 and 7) 0.2 points together (none per channel).
GELU_INPUT_RANGE = 20.0
# SmoothQuant's alpha for static int8 (export.smoothing): how much of each input channel's range
# moves into the weights. Chosen on the shipped student's validation split: mean |dP| against
# fp32 0.0064 without, 0.0047 at 0.7, 0.0043 at 0.8 (0.3 and 0.5 were worse than none).
SMOOTHING_ALPHA = 0.8
# Outlier input channels of a GELU-fed MatMul (export.outliers): those whose calibrated max |x|
# exceeds this many times the 99th percentile of the channels' maxima are split off in fp32.
# On the shipped student that finds one channel of layer 0's down-projection (25.6 against 6.3
# and below) and two of layer 1's (16.9 and 14.4 against 6.2); layer 2 has none.
OUTLIER_FACTOR = 2.0
# One weight scale per output channel: on a trained student's real fp32 weights (the general
# recipe's seed 42) it agreed with fp32 on 99.3% of validation verdicts where one scale per matrix
# agreed on 98.3% (docs/inference.md); the shipped file's dequantised weights had hidden that.
PER_CHANNEL = True


@dataclass
class ExportConfig:
    # No default: a bare `export` from the project root used to replace the shipped models/default.
    out: Path | None = option(None, "folder to write the deployable model to (required)")
    overwrite: bool = option(
        False, "replace --out if it already holds files (otherwise an existing folder is refused)"
    )
    onnx: bool = option(False, "also write model.onnx (fp32, dynamic batch and sequence axes)")
    int8: bool = option(False, "also write model.int8.onnx (int8; implies --onnx)")
    quantization: str = option(
        "static",
        "int8 method: static (activation scales calibrated on training texts, so a text's scores "
        "do not depend on its batch) or dynamic (scales per batch, the earlier method)",
        choices=list(QUANTIZATION_METHODS),
    )
    gelu_input_range: float = option(
        GELU_INPUT_RANGE,
        "static int8: a GELU-fed MatMul (feed-forward down-projection, classifier after tanh) is "
        "quantised when its calibrated input range (max - min) is at most this, else kept fp32 "
        "(0: all fp32; a large value: all int8)",
    )
    smoothing_alpha: float = option(
        SMOOTHING_ALPHA,
        "static int8: SmoothQuant strength, the share of each input channel's range moved from "
        "the activations into the weights of the MatMuls not fed by a GELU (0: off; below 1)",
    )
    outlier_factor: float = option(
        OUTLIER_FACTOR,
        "static int8: a GELU-fed MatMul's input channels whose calibrated max |x| exceeds this "
        "many times the 99th percentile of its channels' maxima are multiplied in fp32 and the "
        "rest in int8, scaled without them (0: off; else above 1)",
    )
    per_channel: bool = option(
        PER_CHANNEL,
        "int8 weights: one scale per output channel (static: 7-bit, so that CPUs without VNNI "
        "cannot saturate), or with --no-per-channel one per matrix (8-bit)",
    )
    calibration_texts: int = option(
        512, "training texts that calibrate static int8 (drawn from the --data training split)"
    )
    data: list[str] = option(
        [],
        "dataset whose validation split fits the temperature and tunes the positive label's "
        "threshold, and whose training split calibrates static int8 (repeat the flag, or give a "
        "recipe file, for several sources: the same --data as training)",
        repeat=True,
    )
    max_length: int = option(
        DEFAULT_MAX_LENGTH, "tokens per text at inference; longer is truncated"
    )
    name: str | None = option(None, "model name shown by the API (default: the --out folder name)")
    opset: int = option(17, "ONNX opset version")
    positive_label: str | None = option(
        None,
        "the label whose probability decides the binary verdict (alias --toxic-label; default: "
        "`hate` when the model has that label)",
    )
    task_title: str | None = option(
        None, "what the model classifies, in a few words, for the card and the page"
    )
    positive_meaning: str | None = option(
        None, "one line on what the positive label means, for the card and the page"
    )
    deobfuscate: bool = option(
        True,
        "serve with obfuscation undone (lookalike letters, bidi overrides, invisible joiners, "
        "letter spacing, leetspeak): recorded in config.json's text_prep",
    )
    keep_fp32: bool = option(
        True,
        "keep model.safetensors and model.onnx beside model.int8.onnx (--no-keep-fp32 ships int8 only)",
    )

    def __post_init__(self) -> None:
        require(
            self.out is not None,
            "--out is required: name the folder to write (an existing one needs --overwrite)",
        )
        self.out = Path(self.out)
        require(
            8 <= self.max_length <= 4096, f"--max-length must be 8..4096, got {self.max_length}"
        )
        require(11 <= self.opset <= 21, f"--opset must be 11..21, got {self.opset}")
        require(
            self.quantization in QUANTIZATION_METHODS,
            f"--quantization must be one of {', '.join(QUANTIZATION_METHODS)}",
        )
        require(self.calibration_texts >= 1, "--calibration-texts must be at least 1")
        require(
            self.gelu_input_range >= 0,
            f"--gelu-input-range must be at least 0, got {self.gelu_input_range}",
        )
        require(
            0 <= self.smoothing_alpha < 1,
            f"--smoothing-alpha must be at least 0 and below 1, got {self.smoothing_alpha}",
        )
        require(
            self.outlier_factor == 0 or self.outlier_factor > 1,
            f"--outlier-factor must be 0 (off) or above 1, got {self.outlier_factor}",
        )
        require(
            self.keep_fp32 or self.int8,
            "--no-keep-fp32 needs --int8: something must be left to serve",
        )
        for flag, value in (
            ("--task-title", self.task_title),
            ("--positive-meaning", self.positive_meaning),
        ):
            require(
                value is None or (bool(value.strip()) and "\n" not in value),
                f"{flag} must be one non-empty line",
            )
        self.onnx = self.onnx or self.int8  # int8 is quantised from the fp32 graph

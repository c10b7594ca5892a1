"""The export stage's settings (`ExportConfig`, the `export` flags), apart from the work in
`export.export` so that `export --help` and a mistyped flag answer before torch is imported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modeldistill.inference.folder import DEFAULT_MAX_LENGTH
from modeldistill.settings import option, require


@dataclass
class ExportConfig:
    # No default: a bare `export` from the project root used to replace the shipped models/default.
    out: Path | None = option(None, "folder to write the deployable model to (required)")
    overwrite: bool = option(
        False, "replace --out if it already holds files (otherwise an existing folder is refused)"
    )
    onnx: bool = option(False, "also write model.onnx (fp32, dynamic batch and sequence axes)")
    int8: bool = option(False, "also write model.int8.onnx (dynamic int8; implies --onnx)")
    data: list[str] = option(
        [],
        "dataset whose validation split tunes the positive label's threshold (repeat the flag, or "
        "give a recipe file, for several sources: the same --data as training)",
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

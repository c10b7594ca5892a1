"""The predict stage's settings (`PredictConfig`) and the row type its readers and engines share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modeldistill.inference.backends import BACKEND_HELP, require_backend
from modeldistill.inference.folder import DEFAULT_MAX_WINDOWS, MAX_WINDOWS_HELP
from modeldistill.settings import available_cpus, option, require

SUFFIXES = (".txt", ".csv", ".jsonl", ".parquet")

OUTPUT_SUFFIXES = (".jsonl", ".csv", ".parquet")

ENGINES = ("local", "ray")

# Longer texts are cut before tokenising: far past any max_length, and a bound on memory per row.
MAX_CHARS_LIMIT = 1_000_000

MAX_WORKERS = 256


@dataclass
class PredictConfig:
    model: str | None = option(
        None, "model folder (default: $MODELDISTILL_MODEL or models/default)"
    )
    backend: str = option("auto", BACKEND_HELP)
    # 8: the fewest CPU-seconds per text of 4..128 for the int8 model on this project's machine
    # (docs/scale.md); smaller batches pad less and stay in cache.
    batch_size: int = option(8, "texts per forward pass")
    json: bool = option(False, "print predictions as JSON (command-line texts only)")
    input: str | None = option(
        None,
        "what to classify: a .txt (a text a line), .csv, .jsonl or .parquet file, "
        "a folder of them or a quoted glob ('posts/*.csv'); with --engine ray also a URL",
    )
    output: str | None = option(
        None,
        "file to write: .jsonl, .csv or .parquet, one row per input row "
        "(--engine ray: a folder or URL that receives one Parquet shard per input file)",
    )
    text_column: str = option("text", "column (.csv, .parquet) or key (.jsonl) holding the text")
    resume: bool = option(True, "continue after the rows already in --output")
    chunk_size: int = option(1024, "rows read, scored and written at a time")
    max_chars: int = option(20_000, "longer texts are cut to this many characters (and truncated)")
    max_windows: int = option(DEFAULT_MAX_WINDOWS, MAX_WINDOWS_HELP + " (an error in its row)")
    workers: int = option(
        0, "batches scored at once, each on its own thread (0: one per available core)"
    )
    threads: int = option(
        1,
        "ONNX Runtime threads inside each batch; with --engine ray, batches each actor scores "
        "at once, single-threaded, and the CPUs it reserves",
    )
    engine: str = option("local", "where files are scored", choices=list(ENGINES))
    address: str | None = option(
        None, "Ray cluster to join (e.g. ray://head:10001 or auto); default: start a local Ray"
    )
    actors: int = option(1, "Ray actors, each holding one copy of the model (--engine ray)")

    def __post_init__(self) -> None:
        require_backend(self.backend)
        require(self.max_windows >= 1, f"--max-windows must be at least 1, got {self.max_windows}")
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.chunk_size >= 1, f"--chunk-size must be at least 1, got {self.chunk_size}")
        require(
            1 <= self.max_chars <= MAX_CHARS_LIMIT,
            f"--max-chars must be 1..{MAX_CHARS_LIMIT}, got {self.max_chars}",
        )
        require(
            0 <= self.workers <= MAX_WORKERS,
            f"--workers must be 0..{MAX_WORKERS}, got {self.workers}",
        )
        require(1 <= self.threads <= MAX_WORKERS, f"--threads must be 1..{MAX_WORKERS}")
        require(1 <= self.actors <= MAX_WORKERS, f"--actors must be 1..{MAX_WORKERS}")
        require(
            (self.input is None) == (self.output is None),
            "--input and --output go together",
        )
        require(self.engine == "ray" or self.address is None, "--address needs --engine ray")
        if self.engine == "local" and self.output is not None:
            suffix = Path(self.output).suffix.lower()
            require(
                suffix in OUTPUT_SUFFIXES,
                f"--output must end in {', '.join(OUTPUT_SUFFIXES)}, got {self.output}",
            )
        if self.engine == "ray":
            require(self.input is not None, "--engine ray needs --input and --output")
            require(
                Path(self.output).suffix.lower() not in OUTPUT_SUFFIXES,
                "--engine ray writes Parquet shards into a folder: give --output a folder",
            )

    def worker_count(self) -> int:
        return self.workers or available_cpus()


@dataclass
class Row:
    """One input row: its file, number in that file (1-based), the line it starts on (for
    Parquet, the row number again), and a text or why it cannot be scored."""

    row: int
    line: int
    text: str | None
    error: str | None = None
    file: str = ""

"""Score files past one machine on Ray Data: `modeldistill predict --engine ray`.

    modeldistill predict --engine ray --input 'posts/*.jsonl' --output scores/
    modeldistill predict --engine ray --address auto --actors 8 --threads 4 \\
        --input s3://bucket/posts/ --output s3://bucket/scores/

Ray Data reads the input files (local paths or any fsspec URL), each whole in one task, and our
own readers cut them into rows, so rows, line numbers and errors are exactly those of the local
engine. A pool of `--actors` actors, each holding one copy of the model (shipped through Ray's
object store, so cluster nodes need no copy of the model folder) and scoring with `--threads`
threads, classifies the rows. The driver writes one Parquet shard per input file as soon as all
of that file's rows are back: `<stem>-<hash of its path>.parquet`, with `file`, `row`, `line` to
join the scores back to the input. A rerun skips input files whose shard exists. Ray is an
optional dependency: `pip install 'modeldistill[ray]'`.
"""

from __future__ import annotations

import glob
import hashlib
import io
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from modeldistill.errors import UserError
from modeldistill.inference.backends import BACKEND_FILES
from modeldistill.inference.classifier import Classifier
from modeldistill.predict.config import SUFFIXES, PredictConfig, Row
from modeldistill.predict.local import score_columns, score_rows
from modeldistill.predict.readers import read_handle
from modeldistill.predict.writers import arrow_schema

INSTALL_HINT = (
    "--engine ray needs Ray Data, which is not installed: pip install 'modeldistill[ray]' "
    "(or pip install 'ray[data]')"
)
# Bounds what one input file costs the task that reads it whole.
MAX_FILE_BYTES = 2 << 30
BLOCK_BYTES = 256 << 10


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the extra that `ray` alone does not install
    except ImportError as error:
        raise UserError(INSTALL_HINT) from error
    return ray


def list_inputs(spec: str) -> tuple[Any, list[str]]:
    """(fsspec filesystem, sorted file paths on it) for a file, folder or glob, local or URL."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(spec)
    except (ImportError, ValueError) as error:
        raise UserError(f"cannot open {spec}: {error}") from error
    if glob.has_magic(root):
        found = [path for path in fs.glob(root) if fs.isfile(path)]
    elif fs.isdir(root):
        found = fs.find(root)
    elif fs.isfile(root):
        found = [root]
    else:
        raise UserError(f"input not found: {spec}")
    files = sorted(path for path in found if Path(path).suffix.lower() in SUFFIXES)
    if not files:
        raise UserError(f"no {', '.join(SUFFIXES)} files in {spec}")
    for path in files:
        size = fs.size(path)
        if size is not None and size > MAX_FILE_BYTES:
            raise UserError(
                f"{path} is {size / 2**30:.1f} GiB; Ray reads each file whole, so split "
                f"inputs into files under {MAX_FILE_BYTES / 2**30:.0f} GiB"
            )
    return fs, files


def shard_name(file: str) -> str:
    """The output shard of one input file: stable across runs, unique per path."""
    digest = hashlib.sha256(file.encode("utf-8")).hexdigest()[:12]
    return f"{Path(file).stem}-{digest}.parquet"


def _model_files(classifier: Classifier) -> dict[str, bytes]:
    """The files an actor needs to load the model: all but other backends' weights."""
    skip = {name for b, name in BACKEND_FILES.items() if b != classifier.backend}
    return {
        path.name: path.read_bytes()
        for path in sorted(classifier.path.iterdir())
        if path.is_file() and path.name not in skip
    }


def _parse(
    batch: dict[str, Any], names: dict[str, str], text_column: str, chunk_size: int
) -> Iterator[dict]:
    """The rows of whole input files, a chunk at a time; each carries its file's row count so
    the driver knows when a file is complete."""
    for data, path in zip(batch["bytes"], batch["path"], strict=True):
        file = names.get(str(path), str(path))
        rows = list(read_handle(io.BytesIO(data), file, text_column, chunk_size))
        for start in range(0, len(rows), chunk_size):
            part = rows[start : start + chunk_size]
            yield {
                "file": [row.file for row in part],
                "row": [row.row for row in part],
                "line": [row.line for row in part],
                "text": [row.text for row in part],
                "error": [row.error for row in part],
                "rows_in_file": [len(rows)] * len(part),
            }


class _Scorer:
    """One Ray actor: one model copy, `threads` batches scored at a time."""

    def __init__(
        self,
        model_files: Any,
        backend: str,
        batch_size: int,
        threads: int,
        cut: int,
        max_windows: int,
    ):
        import ray

        model_files = ray.get(model_files)  # one copy in the object store, fetched per node
        folder = Path(tempfile.mkdtemp(prefix="modeldistill-model-"))
        for name, data in model_files.items():
            (folder / name).write_bytes(data)
        self.classifier = Classifier.load(
            folder, backend=backend, batch_size=batch_size, threads=1, max_windows=max_windows
        )
        self.pool = ThreadPoolExecutor(threads)
        self.cut = cut

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        data = batch.to_pydict()
        rows = [
            Row(row, line, text, error, file)
            for file, row, line, text, error in zip(
                data["file"], data["row"], data["line"], data["text"], data["error"], strict=True
            )
        ]
        probs, truncated, windows = score_rows(self.classifier, rows, self.pool, self.cut)
        columns = score_columns(self.classifier, rows, probs, truncated, windows)
        del columns["text"]  # the input holds it; the shard keeps ids to join it back
        columns["rows_in_file"] = data["rows_in_file"]
        schema = arrow_schema(self.classifier.labels, text=False)
        schema = schema.append(pa.field("rows_in_file", pa.int64()))
        return pa.Table.from_pydict(columns, schema=schema)


def _user_error(error: BaseException) -> UserError | None:
    """The UserError a Ray task raised (Ray wraps it in its own exception types)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UserError):
            return error
        seen.add(id(error))
        error = getattr(error, "cause", None) or error.__cause__
    return None


def _write_shard(fs: Any, path: str, parts: list[Any], schema: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = (
        pa.concat_tables(parts).drop_columns(["rows_in_file"]) if parts else schema.empty_table()
    )
    table = table.sort_by("row").cast(schema)
    tmp = path + ".tmp"
    with fs.open(tmp, "wb") as handle:
        pq.write_table(table, handle)
    fs.mv(tmp, path)  # a shard appears whole or not at all: reruns trust every shard they see


def predict_ray(model_dir: Path, config: PredictConfig) -> int:
    ray = _import_ray()
    import fsspec
    import pyarrow.compute as pc

    fs, paths = list_inputs(config.input)
    # Rows name their file as the user would: a local path, or the full URL of a remote one.
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    names = {path: path if local else fs.unstrip_protocol(path) for path in paths}
    files = list(names.values())
    out_fs, out_root = fsspec.core.url_to_fs(config.output)
    out_fs.makedirs(out_root, exist_ok=True)
    shards = {file: f"{out_root.rstrip('/')}/{shard_name(file)}" for file in files}
    if not config.resume:
        for shard in shards.values():
            if out_fs.exists(shard):
                out_fs.rm(shard)
    pending = [file for file in files if not out_fs.exists(shards[file])]
    wanted = set(pending)
    done = len(files) - len(pending)
    if done:
        print(f"resuming: {done} of {len(files)} files already in {config.output}", file=sys.stderr)
    if not pending:
        return 0
    # Loaded here too: a bad model fails before Ray starts, and the driver needs the labels.
    classifier = Classifier.load(
        model_dir,
        backend=config.backend,
        batch_size=config.batch_size,
        max_windows=config.max_windows,
    )
    schema = arrow_schema(classifier.labels, text=False)

    # Ray Data's own bar on a terminal; in logs and pipes, only its warnings.
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = sys.stderr.isatty()
    # Small blocks, so that one big input file is spread over all actors. (A streaming
    # repartition would need a CPU of its own, which the actors may all hold: it deadlocks.)
    context.target_max_block_size = BLOCK_BYTES
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    started = not ray.is_initialized()
    if started:
        ray.init(address=config.address, include_dashboard=False, logging_level="WARNING")
    counts = {"scored": 0, "errors": 0}
    start = time.perf_counter()
    try:
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        dataset = ray.data.read_binary_files(
            [path for path, file in names.items() if file in wanted],
            include_paths=True,
            filesystem=PyFileSystem(FSSpecHandler(fs)),
            num_cpus=0,
        ).map_batches(
            _parse,
            fn_kwargs={
                "names": names,
                "text_column": config.text_column,
                "chunk_size": config.chunk_size,
            },
            batch_size=1,
            num_cpus=0,
        )
        dataset = dataset.map_batches(
            _Scorer,
            fn_constructor_kwargs={
                "model_files": ray.put(_model_files(classifier)),
                "backend": classifier.backend,
                "batch_size": config.batch_size,
                "threads": config.threads,
                "cut": config.max_chars,
                "max_windows": config.max_windows,
            },
            batch_size=None,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=config.actors),
            num_cpus=config.threads,
            # A failed actor fails the run (a rerun resumes), rather than retrying on arguments
            # that may have left the object store.
            max_restarts=0,
        )
        partial: dict[str, list[Any]] = {}
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            for file in pc.unique(batch["file"]).to_pylist():
                part = batch.filter(pc.equal(batch["file"], file))
                partial.setdefault(file, []).append(part)
                for line, error in zip(
                    part["line"].to_pylist(), part["error"].to_pylist(), strict=True
                ):
                    if error is not None:
                        print(f"{file}: line {line}: {error}", file=sys.stderr)
                        counts["errors"] += 1
                counts["scored"] += part["error"].null_count
                got = sum(table.num_rows for table in partial[file])
                if got == part["rows_in_file"][0].as_py():
                    _write_shard(out_fs, shards[file], partial.pop(file), schema)
        for file in pending:  # empty files, and any whose rows all came in
            if not out_fs.exists(shards[file]):
                _write_shard(out_fs, shards[file], partial.pop(file, []), schema)
    except Exception as error:
        user_error = _user_error(error)
        if user_error is not None:
            raise UserError(str(user_error)) from None
        raise
    finally:
        if started:
            ray.shutdown()
    seconds = time.perf_counter() - start
    print(
        f"{config.output}: {counts['scored']} scored, {counts['errors']} errors in "
        f"{len(pending)} files ({done} already there); {counts['scored'] / seconds:.0f} texts/s "
        f"({config.actors} actors x {config.threads} threads)",
        file=sys.stderr,
    )
    return 0

"""How fast `modeldistill predict --input` scores a 100,000-row file, against ONNX Runtime alone.

    python scripts/scalebench.py --data ../shared/data --out runs/scalebench.json            # all
    python scripts/scalebench.py --part raw     # or predict, ray1, ray2: one part per run

Builds the file (in /tmp, never in the repository) from the text columns of the data folder's
sources, shuffled with a fixed seed and repeated up to --rows, one text a line. Then, each part
adding its figures to --out:
- raw: ONNX Runtime alone on the same texts, tokenised beforehand and sorted by length over the
  whole file (a bound that streaming cannot beat): texts/s per batch size and session layout
  (one session on all threads; one single-threaded session called from one thread per core;
  one session per core) on a --sample of the texts, then the best layout on every text.
- predict: `modeldistill predict --input FILE --output .jsonl` as a user runs it, texts/s and
  peak RSS, against the peak RSS of a process that only loads the model and scores 32 texts.
- ray1, ray2: `--engine ray` with 1 and 2 actors, wall time including Ray's start.
Wrap each part in /work/pause-training.sh on a machine shared with a training job.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("raw", "predict", "ray1", "ray2")
FOOTPRINT = """
import sys
from modeldistill.inference.classifier import Classifier
texts = open(sys.argv[2], encoding="utf-8").read().splitlines()[:32]
Classifier.load(sys.argv[1], threads=1).predict(texts)
"""


def source_texts(data: Path) -> list[str]:
    """Every text of the sources in the data folder, whitespace collapsed to single spaces."""
    texts = [
        p.read_text(encoding="utf-8")
        for p in sorted((data / "hate_speech18/all_files").glob("*.txt"))
    ]
    tables = [
        (data / "davidson2017/labeled_data.csv", "tweet", ","),
        *((p, "text", "\t") for p in sorted((data / "hatexplain").glob("*.tsv"))),
        *((p, "text", ",") for p in sorted((data / "hatemojibuild").glob("*.csv"))),
        (data / "toxigen_statements/statements.csv", "text", ","),
    ]
    for path, column, delimiter in tables:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        with path.open(newline="", encoding="utf-8") as handle:
            texts += [
                row[column] for row in csv.DictReader(handle, delimiter=delimiter, quoting=quoting)
            ]
    return [text for text in (" ".join(t.split()) for t in texts) if text]


def build_file(data: Path, rows: int, path: Path) -> dict:
    texts = source_texts(data)
    random.Random(0).shuffle(texts)
    lines = [texts[i % len(texts)] for i in range(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "path": str(path),
        "rows": rows,
        "distinct_texts": len(texts),
        "bytes": path.stat().st_size,
    }


def _session(model: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(
        str(model / "model.int8.onnx"), options, providers=["CPUExecutionProvider"]
    )


def _batches(encodings: list, size: int, names: list[str]) -> list[dict]:
    """Padded inputs of `size` encodings each, sorted by length over all of them."""
    lengths = np.array([len(e.ids) for e in encodings])
    order = np.argsort(lengths, kind="stable")
    out = []
    for start in range(0, len(order), size):
        rows = order[start : start + size]
        ids = np.zeros((len(rows), lengths[rows].max()), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, i in enumerate(rows):
            ids[r, : lengths[i]] = encodings[i].ids
            mask[r, : lengths[i]] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        out.append({name: feeds[name] for name in names})
    return out


def _run(sessions: list, callers: int, batches: list[dict]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to score every batch, `callers` threads
    taking batches in turn."""
    for feeds in batches[:2]:
        sessions[0].run(None, feeds)
    began, cpu = time.perf_counter(), time.process_time()
    if callers == 1:
        for feeds in batches:
            sessions[0].run(None, feeds)
    else:
        with ThreadPoolExecutor(callers) as pool:
            jobs = enumerate(batches)
            list(pool.map(lambda job: sessions[job[0] % len(sessions)].run(None, job[1]), jobs))
    return time.perf_counter() - began, time.process_time() - cpu


def part_raw(model: Path, path: Path, sample: int, batch_sizes: list[int]) -> dict:
    """The layouts at batch 32, then the batch sizes for the best layout, on `sample` texts;
    then the best of all on every text."""
    from tokenizers import Tokenizer

    cores = len(os.sched_getaffinity(0))
    texts = path.read_text(encoding="utf-8").splitlines()
    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(json.loads((model / "inference.json").read_text())["max_length"])
    began = time.perf_counter()
    encodings = tokenizer.encode_batch(texts)
    tokenise_s = time.perf_counter() - began
    layouts = {
        f"1 session x {cores} threads, 1 caller": lambda: ([_session(model, cores)], 1),
        f"1 session x 1 thread, {cores} callers": lambda: ([_session(model, 1)], cores),
        f"{cores} sessions x 1 thread, {cores} callers": lambda: (
            [_session(model, 1) for _ in range(cores)],
            cores,
        ),
    }
    names = [item.name for item in _session(model, 1).get_inputs()]
    sweep = []

    def measure(layout: str, batch: int) -> dict:
        sessions, callers = layouts[layout]()
        wall, cpu = _run(sessions, callers, _batches(encodings[:sample], batch, names))
        row = {"layout": layout, "batch_size": batch, "texts_per_s": sample / wall}
        row["texts_per_cpu_s"] = sample / cpu
        print(f"raw {layout}, batch {batch}: {sample / wall:.0f} texts/s", flush=True)
        sweep.append(row)
        return row

    best_layout = max((measure(layout, 32) for layout in layouts), key=lambda r: r["texts_per_s"])
    for batch in batch_sizes:
        if batch != 32:
            measure(best_layout["layout"], batch)
    best = max(sweep, key=lambda r: r["texts_per_s"])
    sessions, callers = layouts[best["layout"]]()
    wall, cpu = _run(sessions, callers, _batches(encodings, best["batch_size"], names))
    print(f"raw best on all {len(texts)} texts: {len(texts) / wall:.0f} texts/s", flush=True)
    return {
        "sample": sample,
        "mean_tokens": float(np.mean([len(e.ids) for e in encodings])),
        "tokenise_texts_per_s_one_thread": len(texts) / tokenise_s,
        "sweep": sweep,
        "best": {
            **best,
            "texts_per_s_all_rows": len(texts) / wall,
            "texts_per_cpu_s_all_rows": len(texts) / cpu,
        },
    }


def _measure(command: list[str]) -> dict:
    """Wall time, peak RSS (MB) and the stderr tail of one child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TQDM_DISABLE": "1"}
    began = time.perf_counter()
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr[-2000:]}")
    rate = re.findall(r"; (\d+) texts/s", stderr)
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "reported_texts_per_s": int(rate[-1]) if rate else None,
        "command": " ".join(command),
    }


def _predict(model: Path, path: Path, output: Path, *extra: str) -> list[str]:
    return [
        *(sys.executable, "-m", "modeldistill", "predict", "--model", str(model)),
        *("--input", str(path), "--output", str(output), "--no-resume", *extra),
    ]


def part_predict(model: Path, path: Path, rows: int, out_dir: Path) -> dict:
    footprint = _measure([sys.executable, "-c", FOOTPRINT, str(model), str(path)])
    output = out_dir / "predict.jsonl"
    run = _measure(_predict(model, path, output))
    written = sum(1 for _ in output.open(encoding="utf-8"))
    assert written == rows, f"{written} output rows for {rows} input rows"
    run["end_to_end_texts_per_s"] = rows / run["wall_s"]
    run["texts_per_cpu_s"] = rows / run["cpu_s"]
    run["model_footprint_peak_rss_mb"] = footprint["peak_rss_mb"]
    run["rss_above_footprint_mb"] = run["peak_rss_mb"] - footprint["peak_rss_mb"]
    print(json.dumps(run, indent=2), flush=True)
    return run


def part_ray(model: Path, path: Path, rows: int, out_dir: Path, actors: int) -> dict:
    output = out_dir / f"ray{actors}"
    run = _measure(_predict(model, path, output, "--engine", "ray", "--actors", str(actors)))
    run["end_to_end_texts_per_s"] = rows / run["wall_s"]
    print(json.dumps(run, indent=2), flush=True)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    parser.add_argument("--model", type=Path, default=ROOT / "models/default")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--file", type=Path, default=Path("/tmp/modeldistill-scalebench/100k.txt"))
    parser.add_argument("--out", type=Path, default=ROOT / "runs/scalebench.json")
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--sample", type=int, default=4000, help="texts per raw layout/batch")
    parser.add_argument("--batch-sizes", default="8,16,32,64,128", help="raw batch sizes")
    args = parser.parse_args()
    if not 1 <= args.rows <= 10_000_000 or not 1 <= args.sample <= args.rows:
        parser.error("--rows must be 1..10,000,000 and --sample 1..--rows")
    if ROOT in args.file.resolve().parents:
        parser.error("--file must lie outside the repository (it holds the data sources' texts)")
    report = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if not args.file.is_file() or report.get("file", {}).get("rows") != args.rows:
        report["file"] = build_file(args.data, args.rows, args.file)
    out_dir = args.file.parent
    for part in PARTS if args.part == "all" else [args.part]:
        load = os.getloadavg()[0]
        if part == "raw":
            sizes = [int(size) for size in args.batch_sizes.split(",")]
            result = part_raw(args.model, args.file, args.sample, sizes)
        elif part == "predict":
            result = part_predict(args.model, args.file, args.rows, out_dir)
        else:
            result = part_ray(args.model, args.file, args.rows, out_dir, int(part[-1]))
        result["load_average_before"] = load
        result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        report[part] = result
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if "raw" in report and "predict" in report:
        raw = report["raw"]["best"]["texts_per_s_all_rows"]
        mine = report["predict"]["reported_texts_per_s"]
        print(f"predict {mine} texts/s = {100 * mine / raw:.0f}% of raw ONNX Runtime ({raw:.0f})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

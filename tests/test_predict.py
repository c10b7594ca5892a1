"""`modeldistill predict` in-process on the tiny model: texts, .txt/.csv/.jsonl/.parquet files,
folders and globs, bad rows, resume, order with several workers. Run: pytest tests/test_predict.py"""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from modeldistill.cli import main
from predict_helpers import fp32_model, write_inputs
from predict_helpers import read_jsonl as _jsonl


@pytest.fixture(scope="module")
def model(tiny_bert_dir, tmp_path_factory) -> str:
    return fp32_model(tiny_bert_dir, tmp_path_factory.mktemp("model"))


def test_texts_on_the_command_line(model, capsys):
    assert main(["predict", "--model", model, "hello there", "kick them all out"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].endswith("kick them all out")
    assert main(["predict", "--model", model, "--json", "hello", "word " * 200]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [item["text"] for item in payload] == ["hello", "word " * 200]
    assert [item["truncated"] for item in payload] == [False, True]
    assert set(payload[0]["scores"]) == {"noHate", "hate", "idk/skip", "relation"}


def test_txt_file_keeps_every_row_and_reports_bad_lines(model, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_bytes(b"first text\n\nthird text\n\xff\xfe broken\r\nlast line without newline")
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", model, "--input", str(source), "--output", str(out)]) == 0
    rows = _jsonl(out)
    assert [row["row"] for row in rows] == [1, 2, 3, 4, 5]
    assert [row["error"] is None for row in rows] == [True, False, True, False, True]
    assert rows[1]["error"] == "empty line" and "not UTF-8" in rows[3]["error"]
    assert rows[4]["text"] == "last line without newline" and rows[4]["label"] is not None
    err = capsys.readouterr().err
    assert "line 2: empty line" in err and "line 4: undecodable" in err
    assert "3 scored, 2 errors" in err


def test_csv_with_text_column(model, tmp_path):
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "body"])
        writer.writerows([[1, "a normal post"], [2, "a post\nover two lines"], [3, ""], [4, "end"]])
    out = tmp_path / "out.csv"
    argv = ["predict", "--model", model, "--input", str(source), "--output", str(out)]
    assert main([*argv, "--text-column", "nope"]) == 2
    assert main([*argv, "--text-column", "body"]) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["row"] for row in rows] == ["1", "2", "3", "4"]
    assert [row["line"] for row in rows] == ["2", "3", "5", "6"]  # physical line each row starts on
    assert rows[1]["text"] == "a post\nover two lines" and rows[2]["error"] == "empty text"
    assert float(rows[0]["p_hate"]) > 0 and rows[0]["label"]


def test_jsonl_bad_rows(model, tmp_path):
    source = tmp_path / "in.jsonl"
    lines = ['{"text": "fine"}', "{broken", '{"other": 1}', '{"text": 5}', '"a bare string"', ""]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", model, "--input", str(source), "--output", str(out)]) == 0
    errors = [row["error"] for row in _jsonl(out)]
    assert errors[0] is None and errors[4] is None
    assert errors[1].startswith("invalid JSON") and errors[2] == "no 'text' key"
    assert errors[3] == "the text is a int, not a string" and errors[5] == "empty line"


def test_resume_skips_rows_already_written(model, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("".join(f"post number {n}\n" for n in range(1, 31)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ["predict", "--model", model, "--input", str(source), "--output", str(out)]
    assert main([*argv, "--chunk-size", "7"]) == 0
    full = _jsonl(out)

    # As if killed mid-write: 12 whole rows (one of them marked) and half of the 13th.
    kept = full[:12]
    kept[5] = {**kept[5], "label": "MARKER"}
    text = "".join(json.dumps(row) + "\n" for row in kept) + json.dumps(full[12])[:20]
    out.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert main([*argv, "--chunk-size", "7"]) == 0
    assert "resuming: 12 rows already" in capsys.readouterr().err
    resumed = _jsonl(out)
    assert resumed[5]["label"] == "MARKER"  # not rescored
    assert [row["row"] for row in resumed] == list(range(1, 31))
    assert resumed[12:] == full[12:]

    assert main([*argv, "--no-resume"]) == 0
    assert _jsonl(out)[5]["label"] != "MARKER"


def test_resume_csv_refuses_other_columns(model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("one\ntwo\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    out.write_text("something,else\n1,2\n", encoding="utf-8")
    argv = ["predict", "--model", model, "--input", str(source), "--output", str(out)]
    assert main(argv) == 2
    assert main([*argv, "--no-resume"]) == 0
    assert len(out.read_text().splitlines()) == 3


def test_usage_errors_exit_2(model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MODELDISTILL_MODEL", str(tmp_path / "no-model-here"))
    assert main(["predict", "hello"]) == 2
    assert "default model not found" in capsys.readouterr().err
    assert main(["predict", "--model", model]) == 2  # nothing to classify
    assert main(["predict", "--model", model, "--input", str(tmp_path / "x.txt")]) == 2
    out = str(tmp_path / "o.jsonl")
    assert (
        main(["predict", "--model", model, "--input", str(tmp_path / "x.txt"), "--output", out])
        == 2
    )
    assert "input file not found" in capsys.readouterr().err
    assert main(["predict", "--model", model, "--input", "a.pdf", "--output", out]) == 2
    assert main(["predict", "--model", model, "  "]) == 2


def _predict(model: str, source, out, *extra: str) -> int:
    return main(["predict", "--model", model, "--input", str(source), "--output", str(out), *extra])


def test_folder_of_mixed_files_to_parquet(model, tmp_path, capsys):
    files = write_inputs(tmp_path / "in", rows_per_file=40)
    out = tmp_path / "out.parquet"
    assert _predict(model, tmp_path / "in", out) == 0
    table = pq.read_table(out).to_pylist()
    assert [(row["file"], row["row"]) for row in table] == [
        (str(path), n) for path in files for n in range(1, 41)
    ]
    by_file = {(row["file"], row["row"]): row for row in table}
    assert by_file[(str(files[0]), 4)]["error"] == "empty line"
    assert by_file[(str(files[1]), 1)]["line"] == 2  # after the csv header
    assert by_file[(str(files[2]), 6)]["error"].startswith("invalid JSON")
    assert by_file[(str(files[3]), 8)]["error"] == "no 'text' value"
    good = [row for row in table if row["error"] is None]
    assert len(good) == 160 - 3
    assert all(abs(sum(row[f"p_{label}"] for label in LABELS) - 1) < 1e-5 for row in good)
    err = capsys.readouterr().err
    assert f"{files[2]}: line 6: invalid JSON" in err and "157 scored, 3 errors" in err
    assert not (tmp_path / "out.parquet.parts").exists()

    # A glob picks the same files; the same rows as JSON lines give the same scores.
    assert _predict(model, tmp_path / "in" / "*.*", tmp_path / "out.jsonl") == 0
    lines = _jsonl(tmp_path / "out.jsonl")
    assert [(r["file"], r["row"], r["label"]) for r in lines] == [
        (r["file"], r["row"], r["label"]) for r in table
    ]
    assert all(
        a["scores"] is None or abs(a["scores"]["hate"] - b["p_hate"]) < 1e-6
        for a, b in zip(lines, table, strict=True)
    )


LABELS = ["noHate", "hate", "idk/skip", "relation"]


def test_several_workers_keep_order_and_scores(model, tmp_path):
    files = write_inputs(tmp_path / "in", rows_per_file=150)
    runs = {}
    for workers in (1, 3):
        out = tmp_path / f"w{workers}.jsonl"
        argv = ["--workers", str(workers), "--chunk-size", "37", "--batch-size", "5"]
        assert _predict(model, tmp_path / "in", out, *argv) == 0
        runs[workers] = _jsonl(out)
    assert [(r["file"], r["row"]) for r in runs[3]] == [
        (str(path), n) for path in files for n in range(1, 151)
    ]
    for one, three in zip(runs[1], runs[3], strict=True):
        assert (one["label"], one["error"], one["text"]) == (
            three["label"],
            three["error"],
            three["text"],
        )
        if one["scores"] is not None:
            assert max(abs(one["scores"][k] - three["scores"][k]) for k in one["scores"]) < 1e-6


def test_parquet_output_resumes_from_closed_parts(model, tmp_path, monkeypatch, capsys):
    from modeldistill.predict import writers

    source = tmp_path / "in.txt"
    source.write_text("".join(f"post number {n}\n" for n in range(1, 101)), encoding="utf-8")
    out = tmp_path / "out.parquet"
    argv = ["--chunk-size", "10", "--workers", "2"]
    assert _predict(model, source, out, *argv) == 0
    full = pq.read_table(out).to_pylist()

    # A run interrupted after 50 rows (parts of 20) closes what it wrote; a killed one would
    # also leave a half-written part behind.
    monkeypatch.setattr(writers.ParquetWriter, "PART_ROWS", 20)
    real_write = writers.ParquetWriter.write

    def write_then_stop(self, columns):
        real_write(self, columns)
        if 20 * self.next_part + self.rows_in_part >= 50:
            raise KeyboardInterrupt

    monkeypatch.setattr(writers.ParquetWriter, "write", write_then_stop)
    assert _predict(model, source, out, "--no-resume", *argv) == 130
    parts = tmp_path / "out.parquet.parts"
    assert not out.exists() and len(list(parts.glob("part-*.parquet"))) == 3
    (parts / "part-000003.parquet.tmp").write_bytes(b"PAR1 half a file")
    monkeypatch.setattr(writers.ParquetWriter, "write", real_write)
    capsys.readouterr()
    assert _predict(model, source, out, *argv) == 0
    assert "resuming: 50 rows already" in capsys.readouterr().err
    assert pq.read_table(out).to_pylist() == full
    assert not parts.exists()

    # A finished file is resumed from too: nothing left to do, nothing changes.
    assert _predict(model, source, out, *argv) == 0
    assert pq.read_table(out).to_pylist() == full


def test_ray_engine_without_ray_says_how_to_install(model, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    source = tmp_path / "in.txt"
    source.write_text("hello\n", encoding="utf-8")
    assert _predict(model, source, tmp_path / "out", "--engine", "ray") == 2
    assert "pip install 'modeldistill[ray]'" in capsys.readouterr().err
    assert _predict(model, source, tmp_path / "out.jsonl", "--engine", "ray") == 2
    assert _predict(model, source, tmp_path / "o.jsonl", "--address", "auto") == 2

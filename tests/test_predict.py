"""`modeldistill predict` in-process on the tiny model: texts, .txt/.csv/.jsonl files, bad rows,
resume. Run: pytest tests/test_predict.py"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from modeldistill.cli import main
from modeldistill.export import export_model


@pytest.fixture(scope="module")
def model(tiny_bert_dir, tmp_path_factory) -> str:
    # fp32 ONNX only: its scores do not depend on batch companions, so reruns compare exactly.
    return str(export_model(tiny_bert_dir, tmp_path_factory.mktemp("model") / "m", int8=False))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


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

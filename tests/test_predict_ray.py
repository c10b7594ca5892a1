"""`modeldistill predict --engine ray` on a local 2-CPU Ray: the same rows, ids and scores as the
local engine, one Parquet shard per input file, and a rerun that redoes only missing shards.
Run: pytest tests/test_predict_ray.py (about a minute: starting Ray dominates)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modeldistill.cli import main
from predict_helpers import fp32_model, write_inputs

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _shards(folder) -> list[dict]:
    return pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("*.parquet"))).to_pylist()


def test_ray_matches_local_keeps_ids_and_resumes(tiny_bert_dir, tmp_path, local_ray, capsys):
    model = fp32_model(tiny_bert_dir, tmp_path)
    files = write_inputs(tmp_path / "in", rows_per_file=75)
    base = ["predict", "--model", model, "--input", str(tmp_path / "in")]
    assert main([*base, "--output", str(tmp_path / "local.parquet")]) == 0
    local = {
        (r["file"], r["row"]): r for r in pq.read_table(tmp_path / "local.parquet").to_pylist()
    }

    out = tmp_path / "ray-out"
    ray_args = [
        *base,
        "--output",
        str(out),
        "--engine",
        "ray",
        "--actors",
        "2",
        "--chunk-size",
        "40",
    ]
    assert main(ray_args) == 0
    shards = sorted(out.glob("*.parquet"))
    assert len(shards) == len(files)
    rows = _shards(out)
    assert len(rows) == len(local) == 300
    assert {(r["file"], r["row"]) for r in rows} == set(local)
    for row in rows:
        mine = local[(row["file"], row["row"])]
        assert (row["line"], row["label"], row["error"], row["toxic"]) == (
            mine["line"],
            mine["label"],
            mine["error"],
            mine["toxic"],
        )
        for key in (k for k in row if k.startswith("p_") or k == "score"):
            assert (row[key] is None) == (mine[key] is None)
            assert row[key] is None or abs(row[key] - mine[key]) <= 1e-6
    assert sum(r["error"] is not None for r in rows) == 3
    assert "c.jsonl: line 6: invalid JSON" in capsys.readouterr().err
    # Each shard holds its own file's rows, in order.
    for shard in shards:
        table = pq.read_table(shard)
        assert len(set(table["file"].to_pylist())) == 1
        assert table["row"].to_pylist() == list(range(1, 76))

    # A partial run: one shard missing (and a half-written one left behind). Only it is redone.
    before = {shard.name: shard.stat().st_mtime_ns for shard in shards}
    shards[2].unlink()
    (out / (shards[2].name + ".tmp")).write_bytes(b"half")
    assert main(ray_args) == 0
    assert "resuming: 3 of 4 files" in capsys.readouterr().err
    after = {shard.name: shard.stat().st_mtime_ns for shard in sorted(out.glob("*.parquet"))}
    assert after.keys() == before.keys()
    assert [name for name in after if after[name] != before[name]] == [shards[2].name]
    assert _shards(out) == rows

    assert main(ray_args) == 0  # nothing left: nothing rewritten
    assert {s.name: s.stat().st_mtime_ns for s in out.glob("*.parquet")} == after


def test_ray_reports_a_bad_input_as_a_usage_error(tiny_bert_dir, tmp_path, local_ray, capsys):
    model = fp32_model(tiny_bert_dir, tmp_path)
    (tmp_path / "in.csv").write_text("body\nhello\n", encoding="utf-8")
    argv = ["predict", "--model", model, "--engine", "ray", "--input", str(tmp_path / "in.csv")]
    assert main([*argv, "--output", str(tmp_path / "out")]) == 2
    assert "has no 'text' column" in capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "out"), "--text-column", "body"]) == 0
    assert pq.read_table(next((tmp_path / "out").glob("*.parquet")))["label"][0].as_py()

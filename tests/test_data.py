"""Data loading, the original project's split, and every bad-data case the CLI must reject."""

from __future__ import annotations

import json

import pytest

from modeldistill.cli import main
from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits
from modeldistill.errors import UserError


def test_split_reproduces_original_project(real_data_dir):
    summary = load_splits(DataConfig(data=str(real_data_dir))).summary()
    assert summary["labels"] == ["noHate", "hate", "idk/skip", "relation"]
    counts = {name: list(part["per_class"].values()) for name, part in summary["splits"].items()}
    assert counts == {
        "train": [7601, 970, 54, 130],
        "validation": [952, 114, 11, 17],
        "test": [954, 112, 8, 21],
    }


def test_paper_protocol_uses_authors_balanced_subsets(real_data_dir):
    splits = load_splits(DataConfig(data=str(real_data_dir), protocol="paper"))
    assert splits.labels == ["noHate", "hate"]
    assert len(splits.train) + len(splits.validation) == 1914
    assert len(splits.test) == 478
    assert sorted(set(splits.test["label"])) == [0, 1]


def test_data_command_prints_json(real_data_dir, capsys):
    assert main(["data", "--data", str(real_data_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {name: part["rows"] for name, part in summary["splits"].items()} == {
        "train": 8755,
        "validation": 1094,
        "test": 1095,
    }


def test_csv_labels_numbered_by_first_appearance(small_csv):
    splits = load_splits(DataConfig(data=str(small_csv), stratify=True))
    assert splits.labels == ["noHate", "hate", "idk/skip", "relation"]
    assert len(splits.train) + len(splits.validation) + len(splits.test) == 72


def test_jsonl_and_parquet_with_integer_labels(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {"text": [f"sentence number {i}" for i in range(60)], "label": [i % 2 for i in range(60)]}
    )
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "d.parquet")
    for name in ("d.jsonl", "d.parquet"):
        splits = load_splits(DataConfig(data=str(tmp_path / name), stratify=True))
        assert splits.labels == ["0", "1"]
        assert sorted(set(splits.train["label"])) == [0, 1]


def _authors_layout(root, texts: dict[str, bytes], labels: dict[str, str]):
    (root / "all_files").mkdir(parents=True)
    lines = ["file_id,user_id,subforum_id,num_contexts,label"]
    for file_id, label in labels.items():
        lines.append(f"{file_id},1,1,0,{label}")
    (root / "annotations_metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for file_id, content in texts.items():
        (root / "all_files" / f"{file_id}.txt").write_bytes(content)
    return root


def _run_data(capsys, path, *extra) -> tuple[int, str]:
    code = main(["data", "--data", str(path), *extra])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_folder", "data not found"),
        ("missing_file", "data file not found"),
        ("folder_without_metadata", "without annotations_metadata.csv"),
        ("missing_column", "lacks column(s) label"),
        ("missing_text_file", "text file"),
        ("empty_text", "empty text"),
        ("not_utf8_csv", "is not UTF-8"),
        ("not_utf8_text_file", "is not UTF-8"),
        ("too_few_rows", "split"),
        ("class_missing_from_a_split", "has no example of class"),
        ("bad_integer_labels", "0..K-1"),
    ],
)
def test_bad_data_gives_one_line_error_and_exit_2(case, expected, tmp_path, capsys):
    path = tmp_path / "data.csv"
    rows = "".join(f"row {i},{'a' if i % 2 else 'b'}\n" for i in range(40))
    if case == "missing_folder":
        path = tmp_path / "nowhere"
    elif case == "missing_file":
        path = tmp_path / "nowhere.csv"
    elif case == "folder_without_metadata":
        path = tmp_path
    elif case == "missing_column":
        path.write_text("text,category\nhello,a\n", encoding="utf-8")
    elif case == "missing_text_file":
        path = _authors_layout(tmp_path / "hs", {"1_1": b"hello"}, {"1_1": "noHate", "1_2": "hate"})
    elif case == "empty_text":
        path.write_text("text,label\n" + rows + "   ,a\n", encoding="utf-8")
    elif case == "not_utf8_csv":
        path.write_bytes(b"text,label\n" + rows.encode() + "caf\xe9,a\n".encode("latin-1"))
    elif case == "not_utf8_text_file":
        path = _authors_layout(tmp_path / "hs", {"1_1": b"caf\xe9"}, {"1_1": "noHate"})
    elif case == "too_few_rows":
        path.write_text("text,label\nhello,a\nworld,b\n", encoding="utf-8")
    elif case == "class_missing_from_a_split":
        path.write_text("text,label\n" + rows + "rare one,c\n", encoding="utf-8")
    elif case == "bad_integer_labels":
        path.write_text(
            "text,label\n" + "".join(f"row {i},{i % 2 * 5}\n" for i in range(40)), encoding="utf-8"
        )
    code, err = _run_data(capsys, path)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    assert err.count("\n") == 1  # exactly one line


def test_stratify_keeps_a_rare_class_in_every_split(tmp_path):
    path = tmp_path / "d.csv"
    rows = "".join(f"row {i},{'rare' if i % 10 == 0 else 'common'}\n" for i in range(100))
    path.write_text("text,label\n" + rows, encoding="utf-8")
    splits = load_splits(DataConfig(data=str(path), stratify=True))
    for name in ("train", "validation", "test"):
        assert set(splits[name]["label"]) == {0, 1}


def test_config_rejects_impossible_settings():
    with pytest.raises(UserError, match="held-out"):
        DataConfig(held_out=1.5)


def _repetitive_csv(path):
    """40 distinct texts, each written twice (once with other case and punctuation)."""
    lines = ["text,label"]
    for i in range(40):
        label = "praise" if i % 2 else "complaint"
        lines += [f"review number {i} here,{label}", f"Review NUMBER {i} here!!,{label}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_single_source_is_deduplicated_without_moving_a_row(tmp_path, capsys):
    from modeldistill.data.sources.build import check_no_leak, duplicate_key

    data = str(_repetitive_csv(tmp_path / "reviews.csv"))
    kept = load_splits(DataConfig(data=data))
    counted = load_splits(DataConfig(data=data, deduplicate=False))
    assert sum(len(counted[name]) for name in ("train", "validation", "test")) == 80
    assert sum(len(kept[name]) for name in ("train", "validation", "test")) == 40
    check_no_leak(kept)
    with pytest.raises(AssertionError, match="also in train"):
        check_no_leak(counted)
    for name in ("train", "validation", "test"):
        # Only removals: every kept row is in the split the seeded cut gave it.
        assert set(kept[name]["text"]) <= set(counted[name]["text"])
    overlap = kept.overlap
    assert overlap["duplicates"] + overlap["held_out_elsewhere"] == 40 and overlap["dropped"]
    assert len({duplicate_key(t) for t in kept.train["text"]}) == len(kept.train)

    assert main(["data", "--data", data]) == 0
    printed = capsys.readouterr().out
    assert (
        f"repeated texts: {overlap['duplicates']} within a split, "
        f"{overlap['held_out_elsewhere']} also in a more held-out split; dropped"
    ) in printed


def test_the_authors_folder_keeps_its_original_cut_and_counts_its_repeats(real_data_dir):
    counted = load_splits(DataConfig(data=str(real_data_dir)))
    assert [len(counted[n]) for n in ("train", "validation", "test")] == [8755, 1094, 1095]
    assert counted.overlap == {"duplicates": 74, "held_out_elsewhere": 222, "dropped": False}
    dropped = load_splits(DataConfig(data=str(real_data_dir), deduplicate=True))
    assert [len(dropped[n]) for n in ("train", "validation", "test")] == [8493, 1068, 1087]

"""Several sources: each shared folder's reader and label map, the recipe file and its errors,
de-duplication and the guarantee that no held-out text is trained on."""

from __future__ import annotations

import csv
import itertools
import json
import shutil
from pathlib import Path

import pytest

from modeldistill.cli import main
from modeldistill.data.config import DataConfig
from modeldistill.data.sources.build import build_rows, check_no_leak, duplicate_key
from modeldistill.data.sources.recipe import SHARED_DATA, SourceSpec, read_recipe, specs_from_values
from modeldistill.data.splits import load_splits
from modeldistill.errors import UserError
from modeldistill.text import TextPrep

SAMPLE_ROWS = 120


def _head(source: Path, target: Path, rows: int = SAMPLE_ROWS) -> None:
    """The header and the first `rows` lines of a published tab-separated file (no quoting)."""
    with source.open(encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(rows + 1)]
    target.write_text("".join(lines), encoding="utf-8")


def _head_csv(source: Path, target: Path, rows: int) -> None:
    """The first `rows` records of a published CSV file (quoted fields may span lines)."""
    import pandas as pd

    pd.read_csv(source, dtype=str, keep_default_na=False, nrows=rows).to_csv(target, index=False)


@pytest.fixture(scope="module")
def shared_sample(tmp_path_factory) -> Path:
    """Every shared source cut to a small sample, in its published layout, under a temp folder."""
    if not (SHARED_DATA / "davidson2017" / "labeled_data.csv").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    root = tmp_path_factory.mktemp("shared-sample")
    for name, files in {
        "davidson2017": ["labeled_data.csv"],
        "hatemojibuild": ["train.csv", "validation.csv", "test.csv"],
        "toxigen_statements": ["statements.csv"],
    }.items():
        (root / name).mkdir()
        for file in files:
            _head_csv(
                SHARED_DATA / name / file,
                root / name / file,
                400 if name in ("toxigen_statements", "davidson2017") else SAMPLE_ROWS,
            )
    (root / "hatexplain").mkdir()
    for file in ("train.tsv", "valid.tsv", "test.tsv"):
        _head(SHARED_DATA / "hatexplain" / file, root / "hatexplain" / file)
    hs18 = root / "hate_speech18"
    (hs18 / "all_files").mkdir(parents=True)
    with (SHARED_DATA / "hate_speech18" / "annotations_metadata.csv").open(
        encoding="utf-8"
    ) as handle:
        reader = csv.DictReader(handle)
        rows = list(itertools.islice(reader, 300))
    with (hs18 / "annotations_metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        name = f"{row['file_id']}.txt"
        shutil.copyfile(
            SHARED_DATA / "hate_speech18" / "all_files" / name, hs18 / "all_files" / name
        )
    return root


def _spec(root: Path, loader: str, **extra) -> SourceSpec:
    return SourceSpec(loader=loader, path=str(root / loader), **extra)


@pytest.mark.parametrize(
    ("loader", "expected_originals"),
    [
        ("hate_speech18", {"hate": "hate", "noHate": "not_hate"}),
        ("davidson2017", {"0": "hate", "1": "not_hate", "2": "not_hate"}),
        ("hatexplain", {"hatespeech": "hate", "offensive": "not_hate", "normal": "not_hate"}),
        ("hatemojibuild", {"1": "hate", "0": "not_hate"}),
        ("toxigen_statements", {"hate": "hate", "neutral": "not_hate"}),
    ],
)
def test_each_loader_maps_its_labels(shared_sample, loader, expected_originals):
    rows, reports = build_rows([_spec(shared_sample, loader)], 1234, 0.2, TextPrep(clean=True))
    seen = {(row.original_label, row.label) for row in rows}
    for original, mapped in seen:
        assert expected_originals.get(original, mapped) == mapped
    assert {original for original, _ in seen} & set(expected_originals)
    assert all(row.source == loader and row.text for row in rows)
    assert {row.split for row in rows} <= {"train", "validation", "test"}
    assert reports[loader].read >= len(rows)


def test_hatemoji_keeps_its_official_split(shared_sample):
    rows, _ = build_rows([_spec(shared_sample, "hatemojibuild")], 1234, 0.2, TextPrep())
    assert {row.split for row in rows} == {"train", "validation", "test"}
    assert sum(row.split == "test" for row in rows) <= SAMPLE_ROWS


def test_hatexplain_is_pooled_and_resplit_by_seed(shared_sample):
    first, _ = build_rows([_spec(shared_sample, "hatexplain")], 1234, 0.2, TextPrep())
    again, _ = build_rows([_spec(shared_sample, "hatexplain")], 1234, 0.2, TextPrep())
    other, _ = build_rows([_spec(shared_sample, "hatexplain")], 7, 0.2, TextPrep())
    assert [(r.text, r.split) for r in first] == [(r.text, r.split) for r in again]
    assert [r.split for r in first] != [r.split for r in other]
    # The mirror's test file is mostly "normal"; re-split, each split keeps the pooled balance.
    for split in ("train", "test"):
        part = [r.label for r in first if r.split == split]
        assert 0 < part.count("hate") < len(part)


def test_duplicate_key_ignores_case_space_mentions_and_links():
    assert duplicate_key("RT @bob: They are   VERMIN! http://t.co/x") == duplicate_key(
        "they are vermin"
    )
    assert duplicate_key("<user> they are vermin") == duplicate_key("They are vermin.")
    assert duplicate_key("they are vermin") != duplicate_key("they are not vermin")


def _table(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def test_duplicates_are_kept_once_in_the_most_held_out_split(tmp_path):
    texts = [(f"sentence number {i} about the weather", "not_hate") for i in range(60)]
    texts += [(f"they are vermin number {i}", "hate") for i in range(20)]
    first = _table(tmp_path / "a.csv", texts)
    # The second source repeats every text of the first, respelt and in reverse order (so split
    # differently): all are duplicates across sources.
    second = _table(tmp_path / "b.csv", [(f"  {t.upper()}!! @someone", y) for t, y in texts[::-1]])
    specs = specs_from_values([str(first), str(second)])
    rows, reports = build_rows(specs, 1234, 0.2, TextPrep(clean=True))
    keys = [duplicate_key(row.text) for row in rows]
    assert len(keys) == len(set(keys)) == len(texts)
    assert reports["a"].duplicates + reports["a"].held_out_elsewhere + reports[
        "b"
    ].duplicates + reports["b"].held_out_elsewhere == len(texts)
    # Each text stays in the most held-out split either source put it in.
    alone = {
        spec.name: {
            duplicate_key(r.text): r.split
            for r in build_rows([spec], 1234, 0.2, TextPrep(clean=True))[0]
        }
        for spec in specs
    }
    order = ["test", "validation", "train"]
    for row in rows:
        key = duplicate_key(row.text)
        assert row.split == min(alone["a"][key], alone["b"][key], key=order.index)


def test_no_test_text_reaches_training(tmp_path):
    texts = [(f"message {i} is fine", "not_hate") for i in range(80)] + [
        (f"group {i} are parasites", "hate") for i in range(40)
    ]
    source = _table(tmp_path / "one.csv", texts)
    copy = _table(tmp_path / "copy.csv", texts)
    splits = load_splits(DataConfig(data=[str(source), str(copy)]))
    check_no_leak(splits)
    assert len(splits.train) + len(splits.validation) + len(splits.test) == len(texts)


def test_hate_speech18_keeps_the_original_test_rows(real_data_dir):
    single = load_splits(DataConfig(data=str(real_data_dir)))
    several = load_splits(
        DataConfig(data=[str(real_data_dir), str(SHARED_DATA / "toxigen_statements")])
    )
    check_no_leak(several)
    hs18_test = {
        t
        for t, s in zip(several.test["raw_text"], several.test["source"], strict=True)
        if s == "hate_speech18"
    }
    original = set(single.test["text"])
    # De-duplication may only remove repeats; nothing else enters or leaves.
    assert hs18_test <= original and len(original) - len(hs18_test) < 20


def test_caps_and_weights_apply_to_training_rows_only(tmp_path):
    texts = [(f"calm sentence {i}", "not_hate") for i in range(100)] + [
        (f"they are vermin {i}", "hate") for i in range(100)
    ]
    recipe = tmp_path / "recipe.yaml"
    _table(tmp_path / "posts.csv", texts)
    recipe.write_text(
        "sources:\n  - loader: table\n    path: posts.csv\n    max_train_rows: 50\n    weight: 1.5\n",
        encoding="utf-8",
    )
    splits = load_splits(DataConfig(data=[str(recipe)]))
    assert len(splits.train) == 75  # 50 kept, then half of them again
    assert len(splits.validation) + len(splits.test) == 40


def _group_table(path: Path) -> Path:
    rows = [(f"Muslims run the bakery on street {i}", "not_hate") for i in range(40)]
    rows += [(f"muslims are vermin, says post {i}", "hate") for i in range(40)]
    rows += [(f"the bus was late on day {i}", "not_hate") for i in range(40)]
    return _table(path, rows)


def test_counterfactual_copies_name_another_group_and_keep_the_label(tmp_path):
    _group_table(tmp_path / "posts.csv")
    plain, augmented = tmp_path / "plain.yaml", tmp_path / "augmented.yaml"
    plain.write_text("sources:\n  - loader: table\n    path: posts.csv\n", encoding="utf-8")
    augmented.write_text(
        "sources:\n  - loader: table\n    path: posts.csv\n    counterfactual: 2\n",
        encoding="utf-8",
    )
    before = load_splits(DataConfig(data=[str(plain)]))
    after = load_splits(DataConfig(data=[str(augmented)]))
    check_no_leak(after)
    # held-out splits are untouched; each training row naming one group gets two copies
    assert after.validation["text"] == before.validation["text"]
    assert after.test["text"] == before.test["text"]
    naming = [t for t in before.train["text"] if "uslim" in t]
    assert len(after.train) == len(before.train) + 2 * len(naming)
    hate = after.labels.index("hate")
    copies = [
        (text, label)
        for text, label in zip(after.train["text"], after.train["label"], strict=True)
        if text not in set(before.train["text"])
    ]
    assert len(copies) == 2 * len(naming)
    for text, label in copies:
        assert "uslim" not in text
        # the sentence's words decide its label, whichever group it names
        assert (label == hate) == ("vermin" in text)


def test_hard_negatives_repeat_non_hateful_rows_that_name_a_group(tmp_path):
    _group_table(tmp_path / "posts.csv")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "sources:\n  - loader: table\n    path: posts.csv\n    hard_negative_weight: 3\n",
        encoding="utf-8",
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text("sources:\n  - loader: table\n    path: posts.csv\n", encoding="utf-8")
    before = load_splits(DataConfig(data=[str(plain)]))
    after = load_splits(DataConfig(data=[str(recipe)]))
    bakery = sum("bakery" in t for t in before.train["text"])
    assert sum("bakery" in t for t in after.train["text"]) == 3 * bakery
    for word in ("vermin", "bus"):  # hateful rows and rows naming no group count once
        assert sum(word in t for t in after.train["text"]) == sum(
            word in t for t in before.train["text"]
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sources:\n  - loader: templates\n    counterfactual: 9", "counterfactual must be 0 to 8"),
        ("sources:\n  - loader: templates\n    counterfactual: 0.5", "must be a whole number"),
        ("sources:\n  - loader: templates\n    hard_negative_weight: 0.5", "at least 1"),
        ("sources: [", "not valid YAML"),
        ("sources: []", "names no source"),
        ("- loader: davidson2017", "mapping with a `sources:` list"),
        ("sources:\n  - loader: nosuch", "unknown source loader 'nosuch'"),
        ("sources:\n  - loader: davidson2017\n    colour: red", "unknown key(s) colour"),
        ("sources:\n  - loader: table", "the table loader needs a path"),
        ("sources:\n  - loader: table\n    path: missing.csv", "not found"),
        ("sources:\n  - loader: davidson2017\n    weight: 0", "weight must be positive"),
        (
            "sources:\n  - loader: davidson2017\n    label_map: {'0': toxic}",
            "label_map values must be hate, not_hate or null",
        ),
    ],
)
def test_bad_recipe_files_get_one_line_errors(tmp_path, capsys, content, message):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(content, encoding="utf-8")
    assert main(["data", "--data", str(recipe)]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error and "Traceback" not in error


def test_unmapped_and_empty_sources_are_refused(tmp_path):
    posts = _table(tmp_path / "posts.csv", [("hello there", "spam"), ("they are vermin", "hate")])
    other = _table(tmp_path / "other.csv", [("hello there", "not_hate")])
    with pytest.raises(UserError, match="label\\(s\\) 'spam' not in its label map"):
        load_splits(DataConfig(data=[str(posts), str(other)]))
    recipe = tmp_path / "recipe.json"
    recipe.write_text(
        json.dumps(
            {
                "sources": [
                    {
                        "loader": "table",
                        "path": "posts.csv",
                        "label_map": {"spam": None, "hate": None},
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(UserError, match="no usable rows"):
        load_splits(DataConfig(data=[str(recipe)]))


def test_unknown_source_names_are_refused(capsys):
    assert main(["data", "--data", "nosuch_source", "--data", "davidson2017"]) == 2
    assert "unknown source 'nosuch_source'" in capsys.readouterr().err


def test_recipe_paths_are_relative_to_the_recipe(tmp_path):
    (tmp_path / "sub").mkdir()
    _table(tmp_path / "sub" / "posts.csv", [("a", "hate")])
    recipe = tmp_path / "sub" / "r.yaml"
    recipe.write_text(
        "sources:\n  - loader: table\n    path: posts.csv\n    name: mine\n", encoding="utf-8"
    )
    (spec,) = read_recipe(recipe)
    assert spec.name == "mine" and Path(spec.path) == (tmp_path / "sub" / "posts.csv").resolve()


def test_data_command_prints_rows_per_source(shared_sample, capsys):
    argv = ["data", "--json"]
    for name in ("davidson2017", "hatexplain", "toxigen_statements"):
        argv += ["--data", str(shared_sample / name)]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["labels"] == ["not_hate", "hate"]
    assert set(summary["sources"]) == {"davidson2017", "hatexplain", "toxigen_statements"}
    total = sum(
        sum(counts.values())
        for report in summary["sources"].values()
        for counts in report["rows"].values()
    )
    assert total == sum(part["rows"] for part in summary["splits"].values())


def test_text_preparation_cleans_and_names_emoji():
    prep = TextPrep(clean=True, emoji_names=True)
    assert prep("RT @bob: I would love to 🔪 some &amp; http://x.y/z") == (
        "RT @user : I would love to kitchen knife some & http"
    )
    assert TextPrep()("keep @bob &amp; 🔪") == "keep @bob &amp; 🔪"


def test_emoji_names_skip_only_texts_that_cannot_hold_an_emoji():
    """ASCII texts skip the emoji library (it costs as much as the model); the result is the same
    as running it on every text."""
    import emoji

    prep = TextPrep(emoji_names=True)
    texts = [
        "plain_words :) <3 1 # *",
        "café déjà vu",
        "keycap 1\ufe0f\u20e3 here",
        "a 🔪 b",
        "🏳️‍🌈",
    ]
    for text in texts:
        slow = emoji.demojize(text, delimiters=(" ", " ")).replace("_", " ")
        assert prep(text) == " ".join(slow.split())


def test_a_several_source_model_records_and_reapplies_its_text_preparation(tiny_bert_dir, tmp_path):
    """Training writes the preparation into config.json; the Classifier applies it to raw texts,
    so serving sees what training saw."""
    from modeldistill.inference.classifier import Classifier
    from modeldistill.train.run import TrainConfig, train

    hateful = [(f"they are vermin 🐀 number {i}", "hate") for i in range(24)]
    calm = [(f"see you at @bob's place {i} &amp; bring 🍕", "not_hate") for i in range(24)]
    first = _table(tmp_path / "first.csv", hateful[:12] + calm[:12])
    second = _table(tmp_path / "second.csv", hateful[12:] + calm[12:])
    data = DataConfig(data=[str(first), str(second)], emoji_names=True)
    out = train(
        TrainConfig(
            method="teacher",
            base_model=str(tiny_bert_dir),
            out=tmp_path / "model",
            epochs=1,
            batch_size=16,
            progress=False,
        ),
        data,
    )
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "not_hate", "1": "hate"}
    assert config["modeldistill"]["text_prep"] == {"clean": True, "emoji_names": True}
    # the sources as read are recorded: the card lists them even if the files later change
    from modeldistill.artifacts import read_run_config
    from modeldistill.export.modelcard import training_sources

    run = read_run_config(out)
    assert [spec["name"] for spec in run.data["sources"]] == ["first", "second"]
    second.unlink()
    assert [spec.name for spec in training_sources(run)] == ["first", "second"]
    _table(second, hateful[12:] + calm[12:])
    classifier = Classifier.load(out, backend="torch")
    raw, prepared = "see you at @alice's 🍕 &amp; 🐀", "see you at @user 's pizza & rat"
    assert classifier.tokenize([raw])[0].ids == classifier.tokenize([prepared])[0].ids
    assert classifier.predict([raw])[0].scores == classifier.predict([prepared])[0].scores

    # Its export tunes the threshold on the same sources and writes a card that lists them with
    # their scores and the behavioural check.
    from modeldistill.artifacts import read_check, read_metrics
    from modeldistill.export.export import ExportConfig, export_model

    exported = export_model(out, ExportConfig(out=tmp_path / "export", data=data.data), data)
    metrics = read_metrics(exported / "metrics.json")
    assert set(metrics.by_source) == {"first", "second"} and metrics.threshold is not None
    check = read_check(exported / "check.json")
    assert check is not None and check.num_cases > 500 and check.sentences is None
    card = (exported / "README.md").read_text()
    for text in ("## Sources", "| first |", "Test split per source", "## Behavioural check"):
        assert text in card
    assert "hate_speech18" not in card


def test_evaluate_reports_pooled_and_per_source_binary_metrics(tiny_bert_dir, tmp_path, capsys):
    texts = [(f"they are vermin {i}", "hate") for i in range(30)] + [
        (f"lovely weather {i}", "not_hate") for i in range(30)
    ]
    first = _table(tmp_path / "first.csv", texts[::2])
    second = _table(tmp_path / "second.csv", texts[1::2])
    argv = ["evaluate", str(tiny_bert_dir), "--data", str(first), "--data", str(second), "--json"]
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out)
    # The tiny model has hate_speech18's four labels: it is scored hate vs the rest.
    assert metrics["labels"] == ["not_hate", "hate"] and set(metrics["by_source"]) == {
        "first",
        "second",
    }
    assert (
        sum(part["num_examples"] for part in metrics["by_source"].values())
        == metrics["num_examples"]
    )
    assert 0.0 <= metrics["roc_auc"] <= 1.0


def test_held_out_identity_sentences_are_validation_only(tiny_bert_dir, tmp_path, capsys):
    from conftest import REPO_ROOT

    recipe = str(REPO_ROOT / "recipes" / "identity-heldout.yaml")
    rows, _ = build_rows(specs_from_values([recipe]), 1234, 0.2, TextPrep())
    assert rows and {row.split for row in rows} == {"validation"}
    assert {row.label for row in rows} == {"hate", "not_hate"}
    output = tmp_path / "heldout.json"
    argv = ["evaluate", str(tiny_bert_dir), "--data", recipe, "--split", "validation"]
    assert main([*argv, "--json", "--output", str(output)]) == 0
    assert json.loads(output.read_text())["num_examples"] == len(rows)
    capsys.readouterr()
    # nothing to train on and no test split: the stages that need them say so
    assert main([*argv[:-2], "--split", "test"]) != 0
    assert "the test split is empty" in capsys.readouterr().err
    with pytest.raises(UserError, match="the train split is empty"):
        load_splits(DataConfig(data=[recipe]))


def test_a_recipe_records_how_its_texts_are_prepared(tmp_path):
    from conftest import REPO_ROOT
    from modeldistill.text import TextPrep

    general = REPO_ROOT / "recipes" / "general.yaml"
    shipped = json.loads((REPO_ROOT / "models/default/config.json").read_text(encoding="utf-8"))
    # `data --data recipes/general.yaml` prepares texts as the shipped model was trained; export
    # switched de-obfuscation on for serving only (the model was trained before it existed).
    recorded = TextPrep.from_dict(shipped["modeldistill"]["text_prep"])
    assert recorded == TextPrep(True, True).with_deobfuscation()
    assert DataConfig(data=[str(general)]).text_prep == TextPrep(True, True)
    assert DataConfig(data=[str(general)], emoji_names=False).text_prep == TextPrep(True, False)
    # the next recipe trains on de-obfuscated text, as serving reads it
    following = REPO_ROOT / "recipes" / "general-next.yaml"
    assert DataConfig(data=[str(following)]).text_prep == recorded

    recipe = tmp_path / "r.yaml"
    recipe.write_text("text_prep:\n  emojis: true\nsources:\n  - loader: templates\n")
    with pytest.raises(UserError, match="unknown text_prep key"):
        _ = DataConfig(data=[str(recipe)]).text_prep
    recipe.write_text("sources:\n  - loader: templates\n")
    assert DataConfig(data=[str(recipe)]).text_prep == TextPrep(clean=True, emoji_names=False)


def test_scoring_a_model_uses_the_preparation_its_config_records(tmp_path, small_csv):

    folder = tmp_path / "model"
    folder.mkdir()
    block = {"modeldistill": {"text_prep": {"clean": True, "emoji_names": True}}}
    (folder / "config.json").write_text(json.dumps(block))
    assert DataConfig(data=str(small_csv)).as_model_was_trained(folder).emoji_names is True
    given = DataConfig(data=str(small_csv), emoji_names=False)
    assert given.as_model_was_trained(folder).emoji_names is False
    (folder / "config.json").write_text("{}")
    assert DataConfig(data=str(small_csv)).as_model_was_trained(folder).emoji_names is None

"""Training on the tiny model: each method runs, writes a loadable folder, and logs its losses;
LoRA adapters round-trip and merged equals unmerged; the 2-process accelerate run works."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from modeldistill.artifacts import read_train_log
from modeldistill.cli import main
from modeldistill.data.config import DataConfig
from modeldistill.train.run import TrainConfig, train


@pytest.fixture(scope="module")
def data_config(tmp_path_factory):
    import csv

    path = tmp_path_factory.mktemp("data") / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(48):
            writer.writerow(
                [
                    f"sentence {i} about {'them' if i % 4 == 1 else 'weather'}",
                    ["noHate", "hate", "idk/skip", "relation"][i % 4],
                ]
            )
    return DataConfig(data=str(path), stratify=True)


def _tiny_teacher(tiny_bert_dir, data_config, out, **extra):
    config = TrainConfig(
        method="teacher",
        base_model=str(tiny_bert_dir),
        out=out,
        epochs=1,
        batch_size=16,
        progress=False,
        **extra,
    )
    return train(config, data_config)


@pytest.fixture(scope="module")
def teacher_dir(tiny_bert_dir, data_config, tmp_path_factory):
    return _tiny_teacher(tiny_bert_dir, data_config, tmp_path_factory.mktemp("runs") / "teacher")


def _log(folder):
    return [record.to_dict() for record in read_train_log(folder)]


def test_teacher_fine_tuning_writes_a_loadable_folder(teacher_dir):
    lines = _log(teacher_dir)
    assert (
        len(lines) == 1
        and math.isfinite(lines[0]["train_loss"])
        and math.isfinite(lines[0]["val_loss"])
    )
    model = AutoModelForSequenceClassification.from_pretrained(teacher_dir)
    assert model.config.id2label == {0: "noHate", 1: "hate", 2: "idk/skip", 3: "relation"}
    assert model.config.modeldistill["method"] == "teacher"
    metrics = json.loads((teacher_dir / "metrics.json").read_text())
    assert metrics["split"] == "test" and len(metrics["confusion_matrix"]) == 4
    run_config = json.loads((teacher_dir / "run_config.json").read_text())
    assert run_config["train"]["learning_rate"] == 5e-5 and run_config["data"]["split_seed"] == 1234
    assert not list(teacher_dir.rglob("*.bin")) and not list(teacher_dir.rglob("*.pt"))


def test_two_steps_of_distillation_give_finite_losses_for_every_term(
    teacher_dir, data_config, tmp_path
):
    config = TrainConfig(
        method="odd",
        teacher=str(teacher_dir),
        out=tmp_path / "odd",
        epochs=1,
        batch_size=16,
        max_train_samples=32,
        weight_hidden=1.0,
        progress=False,
    )
    out = train(config, data_config)
    line = _log(out)[0]
    for key in (
        "train_loss",
        "train_loss_classification",
        "train_loss_divergence",
        "train_loss_cosine",
        "train_loss_hidden",
    ):
        assert math.isfinite(line[key]), key
    student = AutoModelForSequenceClassification.from_pretrained(out)
    assert student.config.num_hidden_layers == 2
    assert student.config.modeldistill["layer_map"] == [0, 2]


def test_lora_adapter_round_trip_and_merged_equals_unmerged(tiny_bert_dir, data_config, tmp_path):
    from peft import PeftModel

    out = train(
        TrainConfig(
            method="lora",
            base_model=str(tiny_bert_dir),
            out=tmp_path / "lora",
            epochs=1,
            progress=False,
        ),
        data_config,
    )
    tokenizer = AutoTokenizer.from_pretrained(out)
    batch = tokenizer(
        ["they should all leave", "nice weather today"], return_tensors="pt", padding=True
    )

    base = AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir)
    adapted = PeftModel.from_pretrained(base, out / "adapter").eval()
    # Adapters start at B = 0 (a no-op); give them weight so the round trip means something.
    with torch.no_grad():
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    adapted.save_pretrained(tmp_path / "adapter2")
    reloaded = PeftModel.from_pretrained(
        AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir), tmp_path / "adapter2"
    ).eval()
    with torch.no_grad():
        unmerged = adapted(**batch).logits
        assert torch.allclose(reloaded(**batch).logits, unmerged, atol=1e-6)
        plain = (
            AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir).eval()(**batch).logits
        )
        assert not torch.allclose(plain, unmerged, atol=1e-3)  # the adapters change the output
        merged = adapted.merge_and_unload()(**batch).logits
    assert torch.allclose(merged, unmerged, atol=1e-5)

    # The trained folder's merged model equals base + its saved adapter.
    with torch.no_grad():
        folder_model = (
            AutoModelForSequenceClassification.from_pretrained(out).eval()(**batch).logits
        )
        from_adapter = (
            PeftModel.from_pretrained(
                AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir), out / "adapter"
            )
            .eval()(**batch)
            .logits
        )
    assert torch.allclose(folder_model, from_adapter, atol=1e-5)


@pytest.mark.slow
def test_experiment_run_writes_results_report_and_plots(
    tiny_bert_dir, data_config, tmp_path, capsys
):
    code = main(
        [
            "run",
            "--data",
            data_config.data[0],
            "--stratify",
            "--out",
            str(tmp_path / "exp"),
            "--base-model",
            str(tiny_bert_dir),
            "--methods",
            "teacher,odd,even,lora",
            "--epochs",
            "1",
            "--no-progress",
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert set(results["methods"]) == {"teacher", "odd", "even", "lora"}
    report = (tmp_path / "exp" / "report.md").read_text()
    for method in ("teacher", "odd", "even", "lora"):
        assert f"| {method} |" in report
        assert (tmp_path / "exp" / f"confusion_{method}.png").stat().st_size > 1000
    assert (tmp_path / "exp" / "loss_curves.png").is_file()


def _flags(add_arguments) -> set[str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return {flag for action in parser._actions for flag in action.option_strings}


def test_run_takes_every_train_flag_with_the_same_meaning():
    from modeldistill.train import cli as train_cli

    # `run` trains several methods (--methods); every other `train` flag is accepted.
    assert _flags(train_cli.add_arguments) - _flags(train_cli.add_run_arguments) == {"--method"}
    for add_arguments in (train_cli.add_arguments, train_cli.add_run_arguments):
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        help_of = {f: a.help for a in parser._actions for f in a.option_strings}
        assert "pre-trained" in help_of["--base-model"] and "fine-tuned" in help_of["--teacher"]


def test_run_teacher_names_a_fine_tuned_folder(capsys, data_config, tiny_bert_dir, tmp_path):
    """`run --teacher` once meant the pre-trained model; now it is the fine-tuned teacher folder,
    and a pre-trained one is refused with the flag to use instead."""
    argv = ["run", "--data", data_config.data[0], "--stratify", "--out", str(tmp_path / "exp")]
    assert main([*argv, "--teacher", str(tiny_bert_dir), "--methods", "odd"]) == 2
    assert "the pre-trained model to start from is --base-model" in capsys.readouterr().err
    assert main([*argv, "--finetuned-teacher", str(tiny_bert_dir), "--methods", "odd"]) == 2
    assert "--finetuned-teacher is now called --teacher" in capsys.readouterr().err


def test_student_without_teacher_is_refused(capsys, data_config, tmp_path):
    code = main(
        ["train", "--method", "odd", "--data", data_config.data[0], "--out", str(tmp_path / "x")]
    )
    assert code == 2 and "needs --teacher" in capsys.readouterr().err


@pytest.mark.slow
def test_two_process_accelerate_run(tiny_bert_dir, data_config, tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--cpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "modeldistill",
        "train",
        "--method",
        "teacher",
        "--base-model",
        str(tiny_bert_dir),
        "--data",
        data_config.data[0],
        "--stratify",
        "--out",
        str(out),
        "--epochs",
        "1",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert (out / "metrics.json").is_file() and (out / "model.safetensors").is_file()
    assert len(_log(out)) == 1  # only the main process writes the log


def _odd_student(teacher_dir, data_config, out, **extra):
    config = TrainConfig(
        method="odd",
        teacher=str(teacher_dir),
        out=out,
        epochs=1,
        batch_size=16,
        max_train_samples=32,
        progress=False,
        **extra,
    )
    return AutoModelForSequenceClassification.from_pretrained(train(config, data_config))


def test_an_ensemble_of_one_teacher_twice_teaches_what_the_teacher_alone_does(
    teacher_dir, data_config, tiny_bert_dir, tmp_path
):
    """The student learns from the mean of the teachers' logits: the same teacher twice changes
    nothing; a second, different teacher changes what the student learns."""
    alone = _odd_student(teacher_dir, data_config, tmp_path / "alone")
    twice = _odd_student(teacher_dir, data_config, tmp_path / "twice", ensemble=[str(teacher_dir)])
    for name, tensor in alone.state_dict().items():
        assert torch.equal(tensor, twice.state_dict()[name]), name
    assert twice.config.modeldistill["ensemble"] == [str(teacher_dir)]

    other = _tiny_teacher(tiny_bert_dir, data_config, tmp_path / "other-teacher", seed=7)
    mixed = _odd_student(teacher_dir, data_config, tmp_path / "mixed", ensemble=[str(other)])
    assert not torch.equal(
        alone.state_dict()["classifier.weight"], mixed.state_dict()["classifier.weight"]
    )


def test_ensemble_is_refused_where_it_means_nothing(capsys, data_config, teacher_dir, tmp_path):
    argv = ["train", "--data", data_config.data[0], "--stratify", "--out", str(tmp_path / "x")]
    assert main([*argv, "--method", "teacher", "--ensemble", str(teacher_dir)]) == 2
    assert "--ensemble is for students" in capsys.readouterr().err
    student = ["--method", "odd", "--teacher", str(teacher_dir), "--ensemble", str(teacher_dir)]
    assert main([*argv, *student, "--weight-hidden", "1"]) == 2
    assert "--weight-hidden" in capsys.readouterr().err
    assert main([*argv, *student[:-1], str(tmp_path / "nowhere")]) == 2
    assert "has no config.json" in capsys.readouterr().err


def _reviews_csv(path, labels=("praise", "complaint")):
    texts = {
        "praise": ["great service thank you", "lovely food and staff", "fast delivery, happy"],
        "complaint": ["the parcel never came", "cold food and rude staff", "refund still missing"],
    }
    with path.open("w", encoding="utf-8") as handle:
        handle.write("text,label\n")
        for label in labels:
            for repeat in range(8):
                for text in texts[label]:
                    handle.write(f'"{text} {repeat}",{label}\n')
    return path


def test_any_labels_end_to_end_name_their_positive_class(tiny_bert_dir, tmp_path, capsys):
    data = str(_reviews_csv(tmp_path / "reviews.csv"))
    out = tmp_path / "exp"
    argv = ["run", "--data", data, "--stratify", "--out", str(out), "--methods", "teacher"]
    argv += ["--base-model", str(tiny_bert_dir), "--epochs", "1", "--no-progress"]
    # No `hate` label: refused before any training, naming the flag and the labels.
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.splitlines() == [error]
    assert "--positive-label" in error and "praise, complaint" in error
    assert not (out / "teacher").exists()

    assert main([*argv, "--positive-label", "complaint"]) == 0
    printed = capsys.readouterr().out
    assert "complaint P/R/F1" in printed and "nan" not in printed
    report = (out / "report.md").read_text()
    assert "| complaint precision | complaint recall | complaint F1 |" in report
    assert "nan" not in report

    deploy = tmp_path / "deploy"
    exported = ["export", str(out / "teacher"), "--out", str(deploy), "--data", data, "--stratify"]
    assert main(exported) == 2
    assert "--positive-label" in capsys.readouterr().err
    assert main([*exported, "--positive-label", "complaint"]) == 0
    card = (deploy / "README.md").read_text()
    assert "complaint-vs-rest F1" in card and "nan" not in card
    assert ": 1 epoch," in card and card.count("`model.safetensors`") == 1
    assert "hate" not in card.lower() and "moderator" not in card


def test_a_source_with_one_label_is_refused(tmp_path, capsys):
    data = str(_reviews_csv(tmp_path / "praise.csv", labels=("praise",)))
    assert main(["data", "--data", data]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        f"modeldistill data: error: {data} has one label (praise): a classifier needs at least two"
    )

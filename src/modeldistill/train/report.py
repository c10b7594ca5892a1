"""The experiment's report.md and plots, from the model folders' metrics and train logs."""

from __future__ import annotations

from pathlib import Path

from modeldistill.artifacts import METRICS_FILE, read_json_object, read_metrics, read_train_log
from modeldistill.labels import HATE


def _best_epoch_line(folder: Path, best_epoch: int) -> dict:
    lines = [record.to_dict() for record in read_train_log(folder)]
    return next((line for line in lines if line["epoch"] == best_epoch), lines[-1] if lines else {})


def write_report(out: Path, folders: dict[str, Path], positive: str = HATE) -> Path:
    """report.md and its PNG plots, from the files the runs wrote (nothing is recomputed);
    `positive` is the label whose precision, recall and F1 are shown."""
    plots = plot_runs(out, folders)
    rows = [
        "| model | layers | train loss (total / CE / KL / cos) | test accuracy | macro-F1 "
        f"| {positive} precision | {positive} recall | {positive} F1 "
        "| parameters | size (MB) | train time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    all_metrics = {
        method: read_metrics(folder / METRICS_FILE) for method, folder in folders.items()
    }
    for method, folder in folders.items():
        metrics = all_metrics[method]
        model_config = read_json_object(folder / "config.json")
        line = _best_epoch_line(folder, metrics.best_epoch or 0)
        parts = [
            line.get(k)
            for k in (
                "train_loss",
                "train_loss_classification",
                "train_loss_divergence",
                "train_loss_cosine",
            )
        ]
        loss = " / ".join("–" if value is None else f"{value:.4f}" for value in parts)
        scores = metrics.positive_scores(positive)
        shown = [scores.precision, scores.recall, scores.f1] if scores is not None else [None] * 3
        positive_cells = " | ".join("–" if v is None else f"{v:.4f}" for v in shown)
        rows.append(
            f"| {method} | {model_config.get('num_hidden_layers', '?')} | {loss} | {metrics.accuracy:.4f} "
            f"| {metrics.macro_f1:.4f} | {positive_cells} "
            f"| {metrics.parameters:,} | {metrics.size_bytes / 1e6:.1f} | {metrics.train_seconds or 0:.0f} |"
        )
    per_class = [
        "",
        "Per-class test F1:",
        "",
        "| model | " + " | ".join(metrics.labels) + " |",
        "|---|" + "---|" * len(metrics.labels),
    ]
    for method, m in all_metrics.items():
        per_class.append(
            f"| {method} | " + " | ".join(f"{m.per_class[k].f1:.4f}" for k in m.labels) + " |"
        )
    text = "\n".join(
        [
            "# Distillation experiment",
            "",
            f"Test split: {metrics.num_examples:,} rows. Training loss is the mean over the best "
            "epoch (by validation macro-F1), whose weights were kept.",
            "",
            *rows,
            *per_class,
            "",
            *[f"![{title}]({name})" for title, name in plots],
            "",
        ]
    )
    path = out / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def plot_runs(out: Path, folders: dict[str, Path]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    written = []
    components = (
        "train_loss_classification",
        "train_loss_divergence",
        "train_loss_cosine",
        "train_loss_hidden",
    )
    fig, axes = plt.subplots(1, len(folders), figsize=(4 * len(folders), 3.2), squeeze=False)
    for axis, (method, folder) in zip(axes[0], folders.items(), strict=True):
        lines = [record.to_dict() for record in read_train_log(folder)]
        epochs = [line["epoch"] for line in lines]
        for key in ("train_loss", *components, "val_loss"):
            if lines and lines[0].get(key) is not None:
                axis.plot(
                    epochs,
                    [line[key] for line in lines],
                    marker="o",
                    label=key.replace("train_loss_", ""),
                )
        axis.set_title(method)
        axis.set_xlabel("epoch")
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=110)
    plt.close(fig)
    written.append(("loss components per epoch", "loss_curves.png"))

    fig, axis = plt.subplots(figsize=(5, 3.5))
    for method, folder in folders.items():
        lines = [record.to_dict() for record in read_train_log(folder)]
        axis.plot(
            [line["epoch"] for line in lines],
            [line["val_macro_f1"] for line in lines],
            marker="o",
            label=method,
        )
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation macro-F1")
    axis.legend()
    fig.tight_layout()
    fig.savefig(out / "val_macro_f1.png", dpi=110)
    plt.close(fig)
    written.append(("validation macro-F1 per epoch", "val_macro_f1.png"))

    for method, folder in folders.items():
        metrics = read_metrics(folder / METRICS_FILE)
        fig, axis = plt.subplots(figsize=(4.2, 3.8))
        matrix = metrics.confusion_matrix
        axis.imshow(matrix, cmap="Blues")
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                axis.text(j, i, str(count), ha="center", va="center", fontsize=8)
        ticks = range(len(metrics.labels))
        axis.set_xticks(ticks, metrics.labels, rotation=30, fontsize=8)
        axis.set_yticks(ticks, metrics.labels, fontsize=8)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(f"{method} (test)")
        fig.tight_layout()
        name = f"confusion_{method}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append((f"confusion matrix: {method}", name))
    return written

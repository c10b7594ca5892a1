"""The model card (`README.md`) of an exported folder: text from templates, figures from artifacts.

`templates/model_card.md` holds the card's text; `templates/dataset_<name>.md` holds what is
particular to a known dataset (what it is about, its language, limits, label notes), and
`templates/dataset_generic.md` what is said of any other dataset. Every figure comes from the
folder's artifacts: `inference.json`, `metrics.json`, `run_config.json` and `config.json`.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Any

from modeldistill import __version__
from modeldistill.artifacts import CheckSummary, InferenceSettings, Metrics, RunConfig
from modeldistill.inference.backends import BACKEND_FILES

TEMPLATES = Path(__file__).parent / "templates"
# The Hub id of the model `embedded:all-MiniLM-L6-v2` ships offline.
EMBEDDED_BASE = "sentence-transformers/all-MiniLM-L6-v2"
KNOWN_DATASETS = ("hate_speech18", "several_sources")
SEVERAL_SOURCES = "several_sources"
_BLOCK = re.compile(r"^\[(\w+)\]\n", re.MULTILINE)


def training_sources(run: RunConfig | None) -> list | None:
    """The sources of a several-source run (as its recipe names them today), else None."""
    from modeldistill.data.config import DataConfig
    from modeldistill.data.sources.recipe import specs_from_values
    from modeldistill.errors import UserError

    values = run.data.get("data") if run else None
    if not values or isinstance(values, str):
        return None
    try:
        if not DataConfig(data=list(values)).multi_source:
            return None
        return specs_from_values(list(values))
    except UserError:  # the recipe is not where training read it: name the values only
        return None


def dataset_name(data: str | None, run: RunConfig | None) -> str | None:
    """The dataset's name: the one export tuned the threshold on, else the one training read
    (a run on several sources is named SEVERAL_SOURCES by the caller, which has its sources)."""
    source = data or (run.data_source() if run else None)
    if source is None:
        return None
    known = next((name for name in KNOWN_DATASETS if name in source), None)
    return known or Path(source).name


def dataset_text(dataset: str | None) -> dict[str, str]:
    """The card's dataset-specific blocks: the dataset's own template, else the generic one."""
    path = TEMPLATES / f"dataset_{dataset}.md"
    if dataset is None or dataset not in KNOWN_DATASETS:
        path = TEMPLATES / "dataset_generic.md"
    text = path.read_text(encoding="utf-8")
    names = _BLOCK.findall(text)
    values = [part.removesuffix("\n") for part in _BLOCK.split(text)[2::2]]
    blocks = dict(zip(names, values, strict=True))
    where = dataset or "the data it was trained on"
    return {key: Template(value).safe_substitute(dataset=where) for key, value in blocks.items()}


def base_model(config: dict[str, Any], run: RunConfig | None) -> str | None:
    """The pre-trained model everything started from (a student's teacher was fine-tuned from it)."""
    block = _block(config)
    base = block.get("base_model") or (run.train.base_model if run else None)
    if not base:
        return None
    return EMBEDDED_BASE if str(base).startswith("embedded:") else str(base)


def training_summary(run: RunConfig | None, block: dict[str, Any]) -> str:
    """How the model was trained, from the resolved config written next to it."""
    if run is None:
        return "No run_config.json came with the model, so its training is not described here."
    train = run.train
    parts = [
        f"`modeldistill train --method {train.method}`: {train.epochs} epochs, "
        f"learning rate {train.learning_rate}, batch {train.batch_size}, seed {train.seed}"
    ]
    if block.get("layer_map"):
        parts.append(
            f"layers {block['layer_map']} (0-based) of the {block.get('teacher_layers', '?')}-layer "
            f"fine-tuned teacher `{block.get('teacher', '?')}`"
        )
    if train.method not in ("teacher", "lora"):
        parts.append(
            f"loss = {train.weight_classification} × cross-entropy ("
            f"class weights: {train.class_weighting}) + {train.weight_divergence} × KL at "
            f"temperature T = {train.temperature} (× T²) + {train.weight_cosine} × cosine"
            + (f" + {train.weight_hidden} × hidden-state MSE" if train.weight_hidden else "")
        )
    if train.method == "lora":
        parts.append(
            f"LoRA rank {train.lora_r}, alpha {train.lora_alpha} on "
            f"{', '.join(train.lora_targets)}, merged into the weights"
        )
    if block.get("best_epoch"):
        parts.append(f"kept epoch {block['best_epoch']} (best validation macro-F1)")
    return "; ".join(parts) + ". The full settings are in `run_config.json`."


def measured_summary(metrics: Metrics | None) -> str:
    if metrics is None:
        return "No metrics.json came with the model, so no test metrics are reported here."
    hate_f1 = metrics.hate.f1 if metrics.hate else float("nan")
    how = (
        "argmax labels"
        if metrics.threshold is None
        else f"P(hate) at the threshold {metrics.threshold:.4f}, as the API decides; ROC-AUC "
        f"{metrics.roc_auc:.4f}"
    )
    return (
        f"On the {metrics.split} split ({metrics.num_examples} texts): accuracy "
        f"{metrics.accuracy:.4f}, macro-F1 {metrics.macro_f1:.4f}, hate-vs-rest F1 {hate_f1:.4f} "
        f"({how}); measured by `modeldistill evaluate` with the `{metrics.backend}` backend"
        + (" of this folder." if metrics.backend != "torch" else ", before export.")
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def sources_section(specs: list, metrics: Metrics | None) -> str:
    """Every source with its license, citation and label map, and its test scores."""
    from modeldistill.data.sources.loaders import LOADERS

    rows = []
    for spec in specs:
        loader = LOADERS[spec.loader]
        mapping = ", ".join(f"{k} → {v or 'dropped'}" for k, v in spec.label_map.items())
        rows.append(
            [
                spec.name,
                loader.description,
                loader.license or "the user's",
                loader.citation,
                mapping,
            ]
        )
    text = "\n\n## Sources\n" + _table(["source", "what", "license", "citation", "label map"], rows)
    if metrics is not None and metrics.by_source:
        scores = [
            [
                name,
                str(part.num_examples),
                f"{part.hate.f1:.4f}" if part.hate else "–",
                f"{part.macro_f1:.4f}",
                "–" if part.roc_auc is None else f"{part.roc_auc:.4f}",
                f"{part.accuracy:.4f}",
            ]
            for name, part in metrics.by_source.items()
        ]
        text += "\n\nTest split per source (texts as published, this folder's backend):\n\n"
        text += _table(["source", "texts", "hate F1", "macro-F1", "ROC-AUC", "accuracy"], scores)
    return text


def check_section(check: CheckSummary | None) -> str:
    """The behavioural check's table, when export ran it."""
    if check is None:
        return ""
    cases = [
        [name, case.expected or "", str(case.n), f"{case.accuracy:.1%}"]
        for name, case in check.cases.items()
    ]
    groups = [[name, str(group.n), f"{group.accuracy:.1%}"] for name, group in check.groups.items()]
    verdict = "all targets met" if check.passed else "missed: " + "; ".join(check.failures)
    return (
        f"\n\n## Behavioural check\n`modeldistill check`: {check.accuracy:.1%} of "
        f"{check.num_cases} template sentences right ({verdict}).\n\n"
        + _table(["case type", "expected", "n", "accuracy"], cases)
        + "\n\n"
        + _table(["group", "n", "accuracy"], groups)
    )


def eval_results(metrics: Metrics | None, dataset: str | None) -> list[Any] | None:
    """The Hub's model-index entries for the test metrics (none without a metrics file)."""
    from huggingface_hub import EvalResult

    if metrics is None or dataset is None:
        return None
    common = {
        "task_type": "text-classification",
        "dataset_type": dataset,
        "dataset_name": dataset,
        "dataset_split": metrics.split,
    }
    figures = [
        ("accuracy", "accuracy", metrics.accuracy),
        ("f1", "macro F1", metrics.macro_f1),
        ("f1", "weighted F1", metrics.weighted_f1),
    ]
    if metrics.hate is not None:
        figures.append(("f1", "hate F1", metrics.hate.f1))
    return [
        EvalResult(metric_type=kind, metric_name=label, metric_value=value, **common)
        for kind, label, value in figures
    ]


def render_model_card(
    out_dir: Path,
    config: dict[str, Any],
    info: InferenceSettings,
    metrics: Metrics | None,
    run: RunConfig | None,
    check: CheckSummary | None = None,
) -> str:
    """The card's text (YAML metadata and Markdown body) for the exported folder `out_dir`."""
    from huggingface_hub import ModelCardData

    block = _block(config)
    specs = training_sources(run)
    dataset = SEVERAL_SOURCES if specs else dataset_name(info.data, run)
    sections = (sources_section(specs, metrics) if specs else "") + check_section(check)
    text = dataset_text(dataset)
    card_data = ModelCardData(
        model_name=info.name,
        language=text["language"] or None,
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=[
            *text["tags"].split(),
            "modeldistill",
            *(["distillation"] if block.get("method") else []),
        ],
        base_model=base_model(config, run),
        datasets=[spec.name for spec in specs] if specs else [dataset] if dataset else None,
        eval_results=eval_results(metrics, dataset),
    )
    files = [f for f in ("model.safetensors", *BACKEND_FILES.values()) if (out_dir / f).is_file()]
    body = Template((TEMPLATES / "model_card.md").read_text(encoding="utf-8")).substitute(
        name=info.name,
        layers=config.get("num_hidden_layers", "?"),
        subject=text["subject"],
        version=__version__,
        method=f" (method: {block['method']})" if block.get("method") else "",
        intended_use=text["intended_use"],
        toxic_label=info.toxic_label,
        threshold=f"{info.threshold:.4f}",
        limits=text["limits"],
        max_length=info.max_length,
        labels=", ".join(f"`{label}`" for label in info.labels),
        label_notes=text["label_notes"],
        threshold_source=info.threshold_source,
        training=training_summary(run, block),
        sections=sections,
        measured=measured_summary(metrics),
        files=", ".join(f"`{f}`" for f in files),
    )
    return f"---\n{card_data.to_yaml()}\n---\n\n{body}"


def write_model_card(out_dir: Path, text: str) -> Path:
    """Save a card `render_model_card` wrote as the folder's README.md."""
    from huggingface_hub import ModelCard

    path = out_dir / "README.md"
    ModelCard(text).save(path)
    return path


def _block(config: dict[str, Any]) -> dict[str, Any]:
    """The `modeldistill` block training writes into config.json (empty for other models)."""
    block = config.get("modeldistill")
    return block if isinstance(block, dict) else {}

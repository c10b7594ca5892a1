"""The model card (`README.md`) of an exported folder: text from templates, figures from artifacts.

`templates/model_card.md.j2` (Jinja2) holds the card's text; `templates/dataset_<name>.md.j2` sets
what is particular to a known dataset (what it is about, its language and tags, limits, label
notes, whether it is hate speech), and `templates/dataset_generic.md.j2` what is said of any other
data, from the task export recorded (`--task-title`, `--positive-meaning`). Every figure comes from
the folder's artifacts: `inference.json`, `metrics.json`, `run_config.json`, `check.json` and
`config.json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from modeldistill import __version__
from modeldistill.artifacts import CheckSummary, InferenceSettings, Metrics, RunConfig
from modeldistill.inference.backends import BACKEND_FILES
from modeldistill.labels import describe_task
from modeldistill.reporting import markdown_environment

TEMPLATES = Path(__file__).parent / "templates"
# The Hub id of the model `embedded:all-MiniLM-L6-v2` ships offline.
EMBEDDED_BASE = "sentence-transformers/all-MiniLM-L6-v2"
KNOWN_DATASETS = ("hate_speech18", "several_sources")
SEVERAL_SOURCES = "several_sources"


def training_sources(run: RunConfig | None) -> list | None:
    """The sources of a several-source run, as training recorded them (`sources` in
    run_config.json), or for runs older than that record as their recipe names them today;
    else None."""
    from modeldistill.data.config import DataConfig
    from modeldistill.data.sources.recipe import SourceSpec, specs_from_values
    from modeldistill.errors import UserError

    recorded = run.data.get("sources") if run else None
    if isinstance(recorded, list) and recorded:
        try:
            return [SourceSpec(**spec) for spec in recorded]
        except (TypeError, UserError):
            pass  # written by another version: fall back to the recipe
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


def environment() -> jinja2.Environment:
    env = markdown_environment(TEMPLATES)
    env.filters["pct"] = _percent
    return env


def dataset_template(dataset: str | None) -> str:
    """The template of what is particular to the data: the dataset's own, else the generic one."""
    return f"dataset_{dataset}.md.j2" if dataset in KNOWN_DATASETS else "dataset_generic.md.j2"


def task_of(info: InferenceSettings) -> dict[str, Any]:
    """The task export recorded (title, positive label and what it means), as the page shows it."""
    return describe_task(info.task_title, info.toxic_label, info.positive_meaning)


def base_model(config: dict[str, Any], run: RunConfig | None) -> str | None:
    """The pre-trained model everything started from (a student's teacher was fine-tuned from it)."""
    block = _block(config)
    base = block.get("base_model") or (run.train.base_model if run else None)
    if not base:
        return None
    return EMBEDDED_BASE if str(base).startswith("embedded:") else str(base)


def eval_results(metrics: Metrics | None, dataset: str | None, positive: str) -> list[Any] | None:
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
    scores = metrics.positive_scores(positive)
    if scores is not None:
        figures.append(("f1", f"{positive} F1", scores.f1))
    return [
        EvalResult(metric_type=kind, metric_name=label, metric_value=value, **common)
        for kind, label, value in figures
    ]


def source_rows(specs: list) -> list[list[str]]:
    """Every source with its license, citation and label map."""
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
    return rows


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def by_source_rows(metrics: Metrics | None, positive: str) -> list[list[str]]:
    """The test scores of each source (none for a one-source run)."""
    if metrics is None:
        return []
    rows = []
    for name, part in metrics.by_source.items():
        scores = part.positive_scores(positive)
        rows.append(
            [
                name,
                str(part.num_examples),
                _score(scores.f1 if scores else None),
                f"{part.macro_f1:.4f}",
                _score(part.roc_auc),
                f"{part.accuracy:.4f}",
            ]
        )
    return rows


def check_rows(check: CheckSummary | None) -> tuple[list[list[str]], list[list[str]]]:
    """The behavioural check's case and group tables."""
    if check is None:
        return [], []
    cases = [
        [name, case.expected or "", str(case.n), f"{case.accuracy:.1%}"]
        for name, case in check.cases.items()
    ]
    friendly = check.friendly_fpr or {}
    groups = [
        [name, str(group.n), f"{group.accuracy:.1%}", _percent(friendly.get(name))]
        for name, group in check.groups.items()
    ]
    return cases, groups


# How many of the weakest case types and most-flagged groups the card's limits name.
WEAKEST_SHOWN = 3


def check_weak_points(check: CheckSummary | None) -> dict[str, list[str]] | None:
    """The check's lowest case types and the groups whose friendly, neutral and self-description
    sentences it flags most: the card's limits say them in words, where a reader deciding whether
    to trust a verdict looks first."""
    if check is None:
        return None
    cases = sorted(check.cases.items(), key=lambda item: item[1].accuracy)[:WEAKEST_SHOWN]
    friendly = sorted((check.friendly_fpr or {}).items(), key=lambda item: -item[1])
    return {
        "cases": [f"{name} ({case.accuracy:.0%} right)" for name, case in cases],
        "groups": [f"{name} ({share:.0%})" for name, share in friendly[:WEAKEST_SHOWN] if share],
    }


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def bias_rows(bias) -> list[list[str]]:
    return [
        [
            name,
            str(group.mentions),
            str(group.non_hateful),
            _percent(group.fpr),
            _score(group.subgroup_auc),
            _score(group.bpsn_auc),
            _score(group.bnsp_auc),
        ]
        for name, group in bias.groups.items()
    ]


def reliability_rows(metrics: Metrics | None) -> list[list[str]]:
    if metrics is None or not metrics.reliability:
        return []
    return [
        [
            f"{row.low:.1f}–{row.high:.1f}",
            str(row.count),
            _score(row.mean_predicted),
            _percent(row.observed_rate),
        ]
        for row in metrics.reliability
        if row.count
    ]


def obfuscation_rows(check: CheckSummary | None) -> list[list[str]]:
    if check is None or not check.obfuscations:
        return []
    return [
        [name, _percent(score.recall), _percent(score.false_positive_rate)]
        for name, score in check.obfuscations.items()
    ]


def positive_phrase(metrics: Metrics | None, positive: str) -> str:
    """The "<label>-vs-rest F1 x" of the card's measured line; the F1 of a label the test split
    does not score is left unsaid rather than printed as nan."""
    scores = metrics.positive_scores(positive) if metrics is not None else None
    return f"{positive}-vs-rest F1 {scores.f1:.4f}" if scores else f"no `{positive}` scores"


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
    env = environment()
    positive = info.toxic_label
    task = task_of(info)
    # A known dataset's hate-speech text fits only the hate-speech task: another positive label,
    # or a task the user described, gets the generic text with their words.
    values = {
        "dataset_template": dataset_template(dataset if task["hate_speech"] else None),
        "dataset": dataset or "the data it was trained on",
        "task": task,
    }
    about = env.get_template(values["dataset_template"]).make_module(values)
    card_data = ModelCardData(
        model_name=info.name,
        language=about.language or None,
        license="apache-2.0",
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=[*about.tags, "modeldistill", *(["distillation"] if block.get("method") else [])],
        base_model=base_model(config, run),
        datasets=[spec.name for spec in specs] if specs else [dataset] if dataset else None,
        eval_results=eval_results(metrics, dataset, positive),
    )
    # A backend's file once, even where two names lead to it (torch reads model.safetensors).
    names = dict.fromkeys(("model.safetensors", *BACKEND_FILES.values()))
    cases, groups = check_rows(check)
    # The test split's bias (real texts) when the metrics have it, else the check's sentences.
    bias = metrics.bias if metrics is not None and metrics.bias is not None else None
    bias_source = "test split"
    if bias is None and check is not None and check.bias is not None:
        bias, bias_source = check.bias, "check's sentences"
    body = env.get_template("model_card.md.j2").render(
        **values,
        info=info,
        positive=positive,
        layers=config.get("num_hidden_layers", "?"),
        version=__version__,
        block=block,
        run=run,
        sources=source_rows(specs) if specs else [],
        by_source=by_source_rows(metrics, positive),
        check=check,
        check_cases=cases,
        check_groups=groups,
        weak_points=check_weak_points(check),
        metrics=metrics,
        positive_scores=positive_phrase(metrics, positive),
        obfuscations=obfuscation_rows(check),
        bias=bias,
        bias_source=bias_source,
        bias_rows=bias_rows(bias) if bias is not None else [],
        reliability_rows=reliability_rows(metrics),
        files=[name for name in names if (out_dir / name).is_file()],
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

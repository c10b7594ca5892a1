"""Behavioural check: does a model flag the hate a moderator must catch, and only that?

    modeldistill check models/default
    modeldistill check runs/general/export --min-accuracy 0.85 --json

Sentences come from this repository's own templates (`templates.py`): for each protected group
in `lexicon.py`, neutral and positive mentions, negated hate, counter-speech, abuse of objects and
of one person for what they did, and profanity must not be flagged; derogation, dehumanisation,
threats, slurs, hate phrased as an opinion or a question, and misspelt hate must be. For every
identity group of `identity.py` (more groups than `lexicon.py`), support, solidarity, people's own
identity, facts and news, praise and counter-speech that names the hate must not be flagged, and
politely phrased hate must be; the summary adds bias per group (`evaluate/bias.py`). A sentence
is flagged when the model's P(hate) reaches its tuned threshold, exactly as the API decides.
The command prints accuracy per case type and per group and exits 1 when a target is missed.

Its obfuscation section (`check/obfuscation.py`) scores the hateful and harmless sentences written
the ways people dodge filters, and the same sentences alone and in batches. Its targets are
reported on their own (`obfuscation_passed`) and count in the verdict only with
--require-obfuscation: a model exported before text preparation could undo obfuscation would
otherwise fail every check, `export --data` included, for what it was never built to do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from modeldistill.artifacts import BiasReport, CaseScore, CheckSummary
from modeldistill.check.obfuscation import (
    MAX_FALSE_POSITIVE_RISE,
    MIN_RECALL_SHARE,
    batch_invariance,
    format_obfuscations,
    obfuscation_failures,
    score_obfuscations,
)
from modeldistill.errors import UserError
from modeldistill.evaluate.bias import bias_report, format_bias
from modeldistill.inference.backends import BACKEND_HELP, require_backend
from modeldistill.settings import option, require

# The case types whose sentences are not hateful and name a group in a friendly or neutral way
# (supportive, neutral and self-description sentences): each group's share of them flagged is the
# friendly-sentence false-positive rate that issue #19's ship rule bounds and the card reports.
FRIENDLY_CASES = (
    "support and equal rights",
    "solidarity and allyship",
    "praise of contribution",
    "positive mention",
    "facts and news",
    "neutral mention",
    "own identity",
)


def friendly_group_fpr(sentences: list[dict]) -> dict[str, float]:
    """Per group, by name: the share of its friendly, neutral and self-description sentences
    (`sentences` as `CheckSummary.sentences` holds them) that were flagged."""
    from modeldistill.synthetic.lexicon import NO_GROUP

    flagged: dict[str, list[bool]] = defaultdict(list)
    for row in sentences:
        if row["case"] in FRIENDLY_CASES and row["group"] != NO_GROUP:
            flagged[row["group"]].append(bool(row["flagged"]))
    return {group: sum(rows) / len(rows) for group, rows in sorted(flagged.items())}


@dataclass
class CheckConfig:
    min_accuracy: float = option(0.85, "fail when fewer than this share of all cases are right")
    min_case_accuracy: float = option(0.60, "fail when any case type is below this share")
    max_group_gap: float = option(
        0.10, "fail when any group's accuracy is this far below the mean over groups"
    )
    obfuscation: bool = option(True, "score the obfuscation and batch-invariance section")
    require_obfuscation: bool = option(
        False, "count the obfuscation section's targets in the verdict (exit 1 when missed)"
    )
    backend: str = option("auto", BACKEND_HELP)
    out: Path | None = option(None, "also write the full result (every sentence) as JSON here")
    misses: bool = option(False, "also list every sentence the model got wrong, by case type")

    def __post_init__(self) -> None:
        require_backend(self.backend)
        for name in ("min_accuracy", "min_case_accuracy", "max_group_gap"):
            value = getattr(self, name)
            require(
                0.0 <= value <= 1.0, f"--{name.replace('_', '-')} must be in [0, 1], got {value}"
            )


def _accuracy(items: list[bool]) -> float:
    return sum(items) / len(items) if items else 0.0


def run_check(classifier, config: CheckConfig | None = None) -> CheckSummary:
    """Score every check sentence; accuracy overall, per case type and per group, and the verdict."""
    from modeldistill.synthetic.cases import check_sentences
    from modeldistill.synthetic.lexicon import NO_GROUP
    from modeldistill.synthetic.support_frames import SUPPORT_CASES

    config = config or CheckConfig()
    if classifier.toxic_label is None:
        raise UserError(f"{classifier.path} has no 'hate' label, so it cannot be checked")
    sentences = check_sentences()
    # An int8 model quantises activations per batch, and batches are sorted by length, so a
    # sentence's P(hate) moves a little with its neighbours: the identity case types are scored
    # in batches of their own, so the original case types score exactly as before they existed.
    parts = [sentence.case in SUPPORT_CASES for sentence in sentences]
    scored = {}
    for part in (False, True):
        texts = [s.text for s, p in zip(sentences, parts, strict=True) if p == part]
        scored[part] = iter(classifier.predict(texts))
    predictions = [next(scored[part]) for part in parts]
    by_case: dict[str, list[bool]] = defaultdict(list)
    by_group: dict[str, list[bool]] = defaultdict(list)
    rows = []
    for sentence, prediction in zip(sentences, predictions, strict=True):
        flagged = prediction.toxic
        right = flagged == (sentence.label == "hate")
        by_case[sentence.case].append(right)
        if sentence.group != NO_GROUP:
            by_group[sentence.group].append(right)
        rows.append(
            {
                "text": sentence.text,
                "case": sentence.case,
                "group": sentence.group,
                "expected": sentence.label,
                "flagged": flagged,
                "p_hate": round(prediction.scores[classifier.toxic_label], 6),
                "right": right,
            }
        )
    bias = _bias(rows)
    cases = {name: _accuracy(values) for name, values in by_case.items()}
    groups = {name: _accuracy(values) for name, values in by_group.items()}
    overall = _accuracy([row["right"] for row in rows])
    group_mean = sum(groups.values()) / len(groups)
    failures = []
    if overall < config.min_accuracy:
        failures.append(f"accuracy {overall:.3f} < {config.min_accuracy}")
    failures += [
        f"case {name!r} {value:.3f} < {config.min_case_accuracy}"
        for name, value in cases.items()
        if value < config.min_case_accuracy
    ]
    failures += [
        f"group {name!r} {value:.3f} is {group_mean - value:.3f} below the group mean {group_mean:.3f}"
        for name, value in groups.items()
        if group_mean - value > config.max_group_gap
    ]
    section: dict = {}
    if config.obfuscation or config.require_obfuscation:
        scores = score_obfuscations(classifier)
        batches = batch_invariance(classifier)
        missed = obfuscation_failures(scores, batches)
        section = {
            "obfuscations": scores,
            "batch_invariance": batches,
            "obfuscation_failures": missed,
            "obfuscation_passed": not missed,
        }
        if config.require_obfuscation:
            failures += missed
    return CheckSummary(
        model=str(classifier.path),
        threshold=classifier.threshold,
        num_cases=len(rows),
        accuracy=overall,
        cases={
            name: CaseScore(
                accuracy=cases[name], n=len(by_case[name]), expected=_expected(rows, name)
            )
            for name in cases
        },
        groups={name: CaseScore(accuracy=groups[name], n=len(by_group[name])) for name in groups},
        group_mean=group_mean,
        targets={
            "min_accuracy": config.min_accuracy,
            "min_case_accuracy": config.min_case_accuracy,
            "max_group_gap": config.max_group_gap,
            **(
                {
                    "min_obfuscated_recall_share": MIN_RECALL_SHARE,
                    "max_obfuscated_false_positive_rise": MAX_FALSE_POSITIVE_RISE,
                    "max_batch_flips": 0,
                    "require_obfuscation": float(config.require_obfuscation),
                }
                if section
                else {}
            ),
        },
        failures=failures,
        passed=not failures,
        bias=bias,
        friendly_fpr=friendly_group_fpr(rows),
        sentences=rows,
        **section,
    )


def _bias(rows: list[dict]) -> BiasReport:
    """Bias per identity group on the check's sentences; a sentence's group is the one its frame
    was filled with (a lexicon would miss slurs and sentences without spaces)."""
    import numpy as np

    from modeldistill.synthetic.identity import IDENTITIES

    groups = np.array([row["group"] for row in rows])
    return bias_report(
        np.array([row["expected"] == "hate" for row in rows]),
        np.array([row["p_hate"] for row in rows]),
        np.array([row["flagged"] for row in rows]),
        {identity.key: groups == identity.key for identity in IDENTITIES},
    )


def _expected(rows: list[dict], case: str) -> str:
    return next(row["expected"] for row in rows if row["case"] == case)


def format_misses(result: CheckSummary) -> str:
    """Every sentence the model got wrong, grouped by case type, with its P(hate): what a reader
    needs to see why a case type falls short (a word a source labels otherwise, one frame read as
    another), which the shares alone do not show."""
    wrong: dict[str, list[dict]] = defaultdict(list)
    for row in result.sentences or []:
        if not row["right"]:
            wrong[row["case"]].append(row)
    if not wrong:
        return "no sentence wrong"
    lines = []
    for case, rows in wrong.items():
        lines.append(f"{case} ({len(rows)} wrong, expected {rows[0]['expected']}):")
        lines += [f"  {row['p_hate']:.3f}  {row['text']}" for row in rows]
    return "\n".join(lines)


def format_report(result: CheckSummary) -> str:
    lines = [
        f"behavioural check of {result.model} (threshold {result.threshold:.4f}): "
        f"{result.accuracy:.1%} of {result.num_cases} cases right",
        "",
        f"{'case type':<30}{'expected':>10}{'n':>6}{'accuracy':>10}",
    ]
    for name, case in result.cases.items():
        lines.append(f"{name:<30}{case.expected:>10}{case.n:>6}{case.accuracy:>10.1%}")
    friendly = result.friendly_fpr or {}
    lines += ["", f"{'group':<30}{'n':>6}{'accuracy':>10}{'friendly flagged':>18}"]
    for name, group in result.groups.items():
        share = f"{friendly[name]:.1%}" if name in friendly else "–"
        lines.append(f"{name:<30}{group.n:>6}{group.accuracy:>10.1%}{share:>18}")
    if result.obfuscations:
        lines += ["", *format_obfuscations(result.obfuscations, result.batch_invariance)]
        if result.obfuscation_passed:
            lines.append("obfuscation targets met")
        else:
            counted = "" if result.targets.get("require_obfuscation") else " (not counted)"
            missed = "; ".join(result.obfuscation_failures or [])
            lines.append(f"obfuscation targets missed{counted}: {missed}")
    if result.bias is not None:
        lines += ["", format_bias(result.bias)]
    lines.append("")
    lines.append("passed" if result.passed else "missed: " + "; ".join(result.failures))
    return "\n".join(lines)

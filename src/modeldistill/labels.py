"""The label scheme of the product's binary task, written once.

Several-source data is mapped onto `hate` / `not_hate` (ids 0 = not_hate, 1 = hate); a model with a
`hate` label is scored hate-vs-rest against any data with one. The positive class of a binary
decision (the label whose probability meets the threshold) is a property of the task: `hate` by
default only when the labels have one, else the user names it with `--positive-label`.
"""

from __future__ import annotations

from modeldistill.errors import UserError

HATE = "hate"
NOT_HATE = "not_hate"
# Label ids of a several-source model: not_hate = 0, hate = 1.
BINARY_LABELS = (NOT_HATE, HATE)
DEFAULT_TOXIC_LABEL = HATE
# What a model with the `hate` label and no task of its own recorded is about (every folder
# exported before `--task-title` existed): the hate-speech wording of the card and the page.
HATE_TASK_TITLE = "hate speech"
HATE_MEANING = "an attack on people for who they are"


def describe_task(title: str | None, positive: str | None, meaning: str | None) -> dict:
    """The task as the page shows it: title, positive label, what it means, and whether it is
    the hate-speech task (whose wording is shown only then)."""
    hate_speech = title is None and positive == HATE
    return {
        "title": HATE_TASK_TITLE if hate_speech else title,
        "positive_label": positive,
        "positive_meaning": HATE_MEANING if hate_speech and meaning is None else meaning,
        "hate_speech": hate_speech,
    }


POSITIVE_LABEL_FLAG = "--positive-label"


def positive_label(requested: str | None, labels: list[str], whose: str = "the model's") -> str:
    """The positive class of the binary decision: the one asked for, else `hate` when the labels
    have it; otherwise a one-line error that names the flag and the labels to choose from."""
    choices = ", ".join(labels)
    if requested is not None:
        if requested not in labels:
            raise UserError(
                f"positive label {requested!r} is not one of {whose} labels ({choices}): "
                f"choose one with {POSITIVE_LABEL_FLAG}"
            )
        return requested
    if DEFAULT_TOXIC_LABEL in labels:
        return DEFAULT_TOXIC_LABEL
    raise UserError(
        f"{whose} labels are {choices}, none of them {DEFAULT_TOXIC_LABEL!r}: name the positive "
        f"class of the decision with {POSITIVE_LABEL_FLAG} LABEL"
    )

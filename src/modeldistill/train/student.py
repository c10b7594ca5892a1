"""Half-depth students made from a fine-tuned teacher's odd or even layers.

`odd` keeps teacher layers 1, 3, 5, … counted from 1 (0-based 0, 2, 4, …), `even` keeps 2, 4, 6, …
(0-based 1, 3, 5, …); an explicit list of 0-based teacher layers is accepted too. Embeddings, pooler
and classification head are copied from the teacher, so a student starts as the teacher with half
its transformer blocks removed. The map is written into the student's config as
`modeldistill.layer_map` (0-based teacher index of each student layer).
"""

from __future__ import annotations

import copy
import re

import torch
from transformers import PreTrainedModel

from modeldistill.errors import UserError

# BERT, RoBERTa, ELECTRA and friends name blocks `encoder.layer.N.`; DistilBERT `transformer.layer.N.`.
_BLOCK_KEY = re.compile(
    r"^(?P<prefix>.*(?:encoder|transformer)\.layer\.)(?P<index>\d+)(?P<rest>\..*)$"
)


def layer_map(selection: str | list[int], teacher_layers: int) -> list[int]:
    """0-based teacher layer for each student layer, checked against the teacher's depth."""
    if selection == "odd":
        chosen = list(range(0, teacher_layers, 2))
    elif selection == "even":
        chosen = list(range(1, teacher_layers, 2))
    elif isinstance(selection, (list, tuple)):
        chosen = [int(index) for index in selection]
    else:
        raise UserError(
            f"layer selection must be 'odd', 'even' or a list of layers, got {selection!r}"
        )
    if not chosen:
        raise UserError(
            f"the layer selection {selection!r} keeps no layer of a {teacher_layers}-layer teacher"
        )
    out_of_range = [index for index in chosen if not 0 <= index < teacher_layers]
    if out_of_range:
        raise UserError(f"teacher has layers 0..{teacher_layers - 1}; cannot take {out_of_range}")
    if len(set(chosen)) != len(chosen):
        raise UserError(f"layer list {chosen} repeats a layer")
    return chosen


def make_student(teacher: PreTrainedModel, selection: str | list[int]) -> PreTrainedModel:
    """A new model of the teacher's class with the selected layers; every weight copied and checked."""
    mapping = layer_map(selection, teacher.config.num_hidden_layers)
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(mapping)
    previous = getattr(teacher.config, "modeldistill", None) or {}
    config.modeldistill = {
        **previous,
        "layer_selection": selection if isinstance(selection, str) else "custom",
        "layer_map": mapping,
        "teacher_layers": teacher.config.num_hidden_layers,
    }
    student = type(teacher)(config)
    teacher_state = teacher.state_dict()
    student_state = student.state_dict()
    copied = {}
    for key, tensor in student_state.items():
        source_key = _teacher_key(key, mapping)
        if source_key not in teacher_state:
            raise AssertionError(f"student weight {key} has no teacher weight {source_key}")
        source = teacher_state[source_key]
        assert source.shape == tensor.shape, (
            f"{key}: student {tuple(tensor.shape)} != teacher {tuple(source.shape)}"
        )
        copied[key] = source.detach().clone()
    student.load_state_dict(copied, strict=True)
    return student.to(next(teacher.parameters()).device)


def _teacher_key(student_key: str, mapping: list[int]) -> str:
    match = _BLOCK_KEY.match(student_key)
    if match is None:
        return student_key  # embeddings, pooler, head: same name in both
    return f"{match['prefix']}{mapping[int(match['index'])]}{match['rest']}"


def copied_from_teacher(student: PreTrainedModel, teacher: PreTrainedModel) -> bool:
    """True when every student weight equals the teacher weight its layer map points to."""
    mapping = student.config.modeldistill["layer_map"]
    teacher_state = teacher.state_dict()
    return all(
        torch.equal(tensor, teacher_state[_teacher_key(key, mapping)])
        for key, tensor in student.state_dict().items()
    )

"""Student layer maps: the copied weights are exactly the teacher's, and the map is saved."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from modeldistill.errors import UserError
from modeldistill.train.student import copied_from_teacher, layer_map, make_student


@pytest.fixture(scope="module")
def teacher(tiny_bert_dir):
    return AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir).eval()


@pytest.mark.parametrize(
    "selection, expected", [("odd", [0, 2]), ("even", [1, 3]), ([3, 0], [3, 0]), ([1], [1])]
)
def test_student_copies_the_selected_teacher_layers(teacher, selection, expected, tmp_path):
    student = make_student(teacher, selection)
    assert student.config.num_hidden_layers == len(expected)
    assert student.config.modeldistill["layer_map"] == expected
    assert copied_from_teacher(student, teacher)
    for student_index, teacher_index in enumerate(expected):
        s = student.bert.encoder.layer[student_index].attention.self.query.weight
        t = teacher.bert.encoder.layer[teacher_index].attention.self.query.weight
        assert torch.equal(s, t)
    assert torch.equal(student.classifier.weight, teacher.classifier.weight)
    assert torch.equal(
        student.bert.embeddings.word_embeddings.weight,
        teacher.bert.embeddings.word_embeddings.weight,
    )
    student.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert reloaded.config.modeldistill["layer_map"] == expected
    assert reloaded.config.id2label == teacher.config.id2label


def test_odd_and_even_differ_from_each_other(teacher):
    odd, even = make_student(teacher, "odd"), make_student(teacher, "even")
    assert not torch.equal(
        odd.bert.encoder.layer[0].output.dense.weight,
        even.bert.encoder.layer[0].output.dense.weight,
    )


def test_layer_map_for_a_12_layer_teacher():
    assert layer_map("odd", 12) == [0, 2, 4, 6, 8, 10]
    assert layer_map("even", 12) == [1, 3, 5, 7, 9, 11]


@pytest.mark.parametrize("selection", [[4], [0, 0], [], "middle", [-1]])
def test_bad_layer_selection_is_refused(selection):
    with pytest.raises(UserError):
        layer_map(selection, 4)

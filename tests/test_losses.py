"""Each loss term on inputs small enough to check by hand."""

from __future__ import annotations

import math

import pytest
import torch

from modeldistill.train import losses


def test_classification_loss_is_log_k_for_uniform_logits():
    logits = torch.zeros(2, 4)
    assert losses.classification_loss(logits, torch.tensor([0, 3])).item() == pytest.approx(
        math.log(4)
    )


def test_class_weights_weight_each_example_by_its_class():
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3)]])  # p(label) = 1/2 and 1/4
    labels = torch.tensor([0, 0])
    weights = torch.tensor([2.0, 1.0])
    # weighted mean over examples: (2·ln2 + 2·ln4) / (2 + 2)
    expected = (2 * math.log(2) + 2 * math.log(4)) / 4
    assert losses.classification_loss(logits, labels, weights).item() == pytest.approx(expected)


def test_divergence_matches_hand_computed_kl():
    student = torch.tensor([[0.0, 0.0]])  # q = (1/2, 1/2)
    teacher = torch.tensor([[math.log(3), 0.0]])  # p = (3/4, 1/4)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert losses.divergence_loss(student, teacher, 1.0).item() == pytest.approx(expected, rel=1e-6)


def test_divergence_softens_with_temperature_and_scales_by_t_squared():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3), 0.0]])
    p = math.sqrt(3) / (1 + math.sqrt(3))  # softmax of (ln3 / 2, 0)
    expected = 4 * (p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5))
    assert losses.divergence_loss(student, teacher, 2.0).item() == pytest.approx(expected, rel=1e-6)


def test_divergence_is_zero_for_identical_logits_and_averaged_over_batch():
    logits = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 3.0]])
    assert losses.divergence_loss(logits, logits.clone()).item() == pytest.approx(0.0, abs=1e-7)
    one = losses.divergence_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3), 0.0]]))
    two = losses.divergence_loss(torch.zeros(2, 2), torch.tensor([[math.log(3), 0.0]] * 2))
    assert two.item() == pytest.approx(one.item())


def test_cosine_loss_is_one_minus_cosine_averaged():
    student = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    teacher = torch.tensor([[0.0, 1.0], [2.0, 2.0], [-1.0, 0.0]])  # cos 0, 1, -1
    assert losses.cosine_loss(student, teacher).item() == pytest.approx((1 + 0 + 2) / 3)


def test_hidden_state_loss_follows_layer_map_and_ignores_padding():
    zeros = torch.zeros(1, 2, 2)
    student_hidden = (zeros, torch.ones(1, 2, 2))  # embeddings, student layer 0
    teacher_hidden = (zeros, torch.full((1, 2, 2), 5.0), torch.full((1, 2, 2), 3.0))
    mask = torch.tensor([[1, 0]])
    # student layer 0 came from teacher layer 1, whose output is 3: (1-3)² on the one real token
    assert losses.hidden_state_loss(
        student_hidden, teacher_hidden, [1], mask
    ).item() == pytest.approx(4.0)
    assert losses.hidden_state_loss(
        student_hidden, teacher_hidden, [0], mask
    ).item() == pytest.approx(16.0)


def test_combine_is_the_plain_mean_with_equal_weights_and_skips_zero_weights():
    terms = {
        "classification": torch.tensor(3.0),
        "divergence": torch.tensor(6.0),
        "cosine": torch.tensor(0.0),
    }
    assert losses.combine(terms, losses.LossWeights()).item() == pytest.approx(3.0)
    weighted = losses.LossWeights(classification=1.0, divergence=0.0, cosine=1.0)
    assert losses.combine(terms, weighted).item() == pytest.approx(1.5)


def test_weights_must_be_non_negative_with_positive_sum():
    with pytest.raises(ValueError):
        losses.LossWeights(0, 0, 0, 0)
    with pytest.raises(ValueError):
        losses.LossWeights(-1, 1, 1, 0)

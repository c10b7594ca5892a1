"""Distillation loss terms, each a pure function of tensors (see tests/test_losses.py for
hand-computed values).

The original project averaged three terms with equal weight at temperature 1:
cross-entropy on the labels, KL(teacher || student) on temperature-softened distributions scaled by
T² (Hinton et al. 2015, so gradients keep their size as T grows), and a cosine embedding loss
between the two logit vectors. An optional fourth term matches hidden states layer by layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Defined with the training config (no torch there); the loss terms' weights by name.
from modeldistill.train.config import LossWeights


def classification_loss(
    student_logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    return F.cross_entropy(student_logits, labels, weight=class_weights)


def divergence_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """KL(p_teacher,T || p_student,T) averaged over the batch, times T²."""
    student_log_probs = F.log_softmax(student_logits / temperature, dim=-1)
    teacher_log_probs = F.log_softmax(teacher_logits / temperature, dim=-1)
    kl = F.kl_div(student_log_probs, teacher_log_probs, reduction="batchmean", log_target=True)
    return kl * temperature**2


def cosine_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Mean of 1 − cos(student, teacher) over the batch."""
    target = torch.ones(student_logits.shape[0], device=student_logits.device)
    return F.cosine_embedding_loss(student_logits, teacher_logits, target)


def hidden_state_loss(
    student_hidden: tuple[torch.Tensor, ...],
    teacher_hidden: tuple[torch.Tensor, ...],
    layer_map: list[int],
    attention_mask: torch.Tensor,
) -> torch.Tensor:
    """MSE between each student layer's output and the output of the teacher layer it was copied
    from, over real (unpadded) tokens. Index 0 of `*_hidden` is the embedding output."""
    mask = attention_mask.unsqueeze(-1).to(student_hidden[0].dtype)
    per_layer = []
    for student_index, teacher_index in enumerate(layer_map):
        difference = (student_hidden[student_index + 1] - teacher_hidden[teacher_index + 1]) * mask
        per_layer.append(difference.pow(2).sum() / (mask.sum() * difference.shape[-1]))
    return torch.stack(per_layer).mean()


def combine(terms: dict[str, torch.Tensor], weights: LossWeights) -> torch.Tensor:
    """Weighted average of the terms present (equal weights give the original's plain mean)."""
    used = {name: getattr(weights, name) for name in terms if getattr(weights, name) > 0}
    total = sum(weight * terms[name] for name, weight in used.items())
    return total / sum(used.values())

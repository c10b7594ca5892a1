"""Bias per identity group as the field measures it: false-positive rates and Borkan's AUCs.

Per group: the false-positive rate on the non-hateful texts that mention it (Dixon et al. 2018),
and Borkan et al.'s (2019) three ROC-AUCs of P(hate):

- subgroup AUC: within the texts that mention the group. Low: the model cannot tell hate about
  the group from other talk about it.
- BPSN (background positive, subgroup negative): the group's non-hateful texts against the other
  texts' hateful ones. Low: naming the group pushes friendly texts up, towards false positives.
- BNSP (background negative, subgroup positive): the group's hateful texts against the other
  texts' non-hateful ones. Low: hate about the group scores below other friendly texts, so it
  is missed.

`evaluate` finds the mentions with the identity lexicon (`synthetic/identity.py`); the check knows
each sentence's group from its frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from modeldistill.artifacts import BiasReport, GroupBias
from modeldistill.synthetic.identity import IDENTITIES, mentioned_groups

# An FPR on a handful of texts swings by tens of points from one text; the gap between groups is
# taken only over groups with at least this many non-hateful mentions (the table shows them all).
GAP_MIN_NON_HATEFUL = 10


def roc_auc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float | None:
    """ROC-AUC as the Mann-Whitney statistic: the chance that a positive outscores a negative,
    ties counting half. Written with numpy (it equals sklearn's roc_auc_score, tested) because
    `check` runs in the core install, which has no scikit-learn."""
    if not len(positive_scores) or not len(negative_scores):
        return None
    scores = np.r_[positive_scores, negative_scores].astype(np.float64)
    # Average ranks (1-based) of tied scores, as the statistic needs.
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1
    ranks = (first_rank + (counts - 1) / 2.0)[inverse]
    n_pos, n_neg = len(positive_scores), len(negative_scores)
    u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def group_bias(
    is_hate: np.ndarray, p_hate: np.ndarray, flagged: np.ndarray, in_group: np.ndarray
) -> GroupBias:
    """One group's figures; `in_group` marks the texts that mention it, the rest are background."""
    is_hate, in_group = np.asarray(is_hate, bool), np.asarray(in_group, bool)
    p_hate, flagged = np.asarray(p_hate, float), np.asarray(flagged, bool)
    background = ~in_group
    negatives = in_group & ~is_hate
    return GroupBias(
        mentions=int(in_group.sum()),
        non_hateful=int(negatives.sum()),
        fpr=float(flagged[negatives].mean()) if negatives.any() else None,
        subgroup_auc=roc_auc(p_hate[in_group & is_hate], p_hate[negatives]),
        bpsn_auc=roc_auc(p_hate[background & is_hate], p_hate[negatives]),
        bnsp_auc=roc_auc(p_hate[in_group & is_hate], p_hate[background & ~is_hate]),
    )


def bias_report(
    is_hate: np.ndarray,
    p_hate: np.ndarray,
    flagged: np.ndarray,
    membership: Mapping[str, np.ndarray],
    min_non_hateful: int = GAP_MIN_NON_HATEFUL,
) -> BiasReport:
    """Every group's figures (in `membership`'s order) and the largest FPR gap between two groups
    with at least `min_non_hateful` non-hateful mentions."""
    is_hate, flagged = np.asarray(is_hate, bool), np.asarray(flagged, bool)
    groups = {
        name: group_bias(is_hate, p_hate, flagged, members) for name, members in membership.items()
    }
    rated = {
        name: group.fpr
        for name, group in groups.items()
        if group.fpr is not None and group.non_hateful >= min_non_hateful
    }
    low = min(rated, key=rated.get) if rated else None
    high = max(rated, key=rated.get) if rated else None
    return BiasReport(
        groups=groups,
        overall_fpr=float(flagged[~is_hate].mean()) if (~is_hate).any() else None,
        fpr_gap=rated[high] - rated[low] if rated else None,
        fpr_gap_groups=[low, high] if rated else [],
        gap_min_non_hateful=min_non_hateful,
    )


def text_membership(texts: Iterable[str]) -> dict[str, np.ndarray]:
    """Group key -> which texts mention the group (the identity lexicon), for every group."""
    found = [mentioned_groups(text) for text in texts]
    return {
        identity.key: np.array([identity.key in groups for groups in found], dtype=bool)
        for identity in IDENTITIES
    }


def format_bias(report: BiasReport) -> str:
    def number(value: float | None, percent: bool = False) -> str:
        if value is None:
            return "-"
        return f"{value:.1%}" if percent else f"{value:.3f}"

    lines = [
        f"bias per identity group (FPR at the threshold on non-hateful mentions; "
        f"overall FPR {number(report.overall_fpr, True)})",
        f"{'group':<14}{'mentions':>9}{'non-hate':>9}{'FPR':>8}{'subgroup':>10}{'BPSN':>8}{'BNSP':>8}",
    ]
    for name, group in report.groups.items():
        lines.append(
            f"{name:<14}{group.mentions:>9}{group.non_hateful:>9}{number(group.fpr, True):>8}"
            f"{number(group.subgroup_auc):>10}{number(group.bpsn_auc):>8}{number(group.bnsp_auc):>8}"
        )
    if report.fpr_gap is not None:
        low, high = report.fpr_gap_groups
        lines.append(
            f"largest FPR gap {report.fpr_gap:.1%} ({low} to {high}; groups with at least "
            f"{report.gap_min_non_hateful} non-hateful mentions)"
        )
    return "\n".join(lines)

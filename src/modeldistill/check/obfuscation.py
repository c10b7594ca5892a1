"""The check's obfuscation section: the check's hateful and harmless sentences as written and
through each obfuscation of `synthetic/obfuscate.py`, and the same sentences scored alone and in
batches.

Targets: under every obfuscation, recall at least 95% of the recall on the sentences as written
and a false-positive rate at most 2 points above theirs (odd characters must not read as hate);
no verdict may change with the batch a text was sent in.
"""

from __future__ import annotations

from collections import defaultdict

from modeldistill.artifacts import BatchInvariance, ObfuscationScore
from modeldistill.labels import HATE

PLAIN = "plain"
MIN_RECALL_SHARE = 0.95
MAX_FALSE_POSITIVE_RISE = 0.02
BATCH_SIZE = 32


def _score(outcomes: list[tuple[str, bool]]) -> ObfuscationScore:
    hateful = [flagged for label, flagged in outcomes if label == HATE]
    harmless = [flagged for label, flagged in outcomes if label != HATE]
    return ObfuscationScore(
        recall=sum(hateful) / len(hateful) if hateful else 0.0,
        false_positive_rate=sum(harmless) / len(harmless) if harmless else 0.0,
        hateful=len(hateful),
        harmless=len(harmless),
    )


def score_obfuscations(classifier) -> dict[str, ObfuscationScore]:
    """Recall and false-positive rate as written ("plain") and per obfuscation."""
    from modeldistill.synthetic.obfuscate import OBFUSCATIONS, obfuscated_sentences, plain_sentences

    plain = plain_sentences()
    variants = obfuscated_sentences()
    texts = [text for text, _, _ in plain] + [variant.text for variant in variants]
    flagged = [prediction.toxic for prediction in classifier.predict(texts)]
    outcomes: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for (_, label, _), verdict in zip(plain, flagged[: len(plain)], strict=True):
        outcomes[PLAIN].append((label, verdict))
    for variant, verdict in zip(variants, flagged[len(plain) :], strict=True):
        outcomes[variant.obfuscation].append((variant.label, verdict))
    return {name: _score(outcomes[name]) for name in (PLAIN, *OBFUSCATIONS) if outcomes[name]}


def batch_invariance(classifier) -> BatchInvariance:
    """The plain check sentences scored one per call and BATCH_SIZE per call (in check order)."""
    from modeldistill.synthetic.obfuscate import plain_sentences

    texts = [text for text, _, _ in plain_sentences()]
    alone = [classifier.predict([text])[0] for text in texts]
    batched = [
        prediction
        for start in range(0, len(texts), BATCH_SIZE)
        for prediction in classifier.predict(texts[start : start + BATCH_SIZE])
    ]
    label = classifier.toxic_label
    return BatchInvariance(
        texts=len(texts),
        # predict splits a call into batches of the classifier's own size
        batch_size=min(BATCH_SIZE, classifier.batch_size),
        flips=sum(a.toxic != b.toxic for a, b in zip(alone, batched, strict=True)),
        max_probability_difference=max(
            abs(a.scores[label] - b.scores[label]) for a, b in zip(alone, batched, strict=True)
        ),
    )


def obfuscation_failures(
    scores: dict[str, ObfuscationScore], batches: BatchInvariance
) -> list[str]:
    plain = scores[PLAIN]
    failures = []
    for name, score in scores.items():
        if name == PLAIN:
            continue
        if score.recall < MIN_RECALL_SHARE * plain.recall:
            failures.append(
                f"obfuscation {name!r}: recall {score.recall:.3f} < "
                f"{MIN_RECALL_SHARE:.0%} of plain {plain.recall:.3f}"
            )
        if score.false_positive_rate > plain.false_positive_rate + MAX_FALSE_POSITIVE_RISE:
            failures.append(
                f"obfuscation {name!r}: false-positive rate {score.false_positive_rate:.3f} > "
                f"plain {plain.false_positive_rate:.3f} + {MAX_FALSE_POSITIVE_RISE}"
            )
    if batches.flips:
        failures.append(
            f"batch invariance: {batches.flips} of {batches.texts} verdicts change between "
            f"batch size 1 and {batches.batch_size} (max |dP| "
            f"{batches.max_probability_difference:.4f})"
        )
    return failures


def format_obfuscations(
    scores: dict[str, ObfuscationScore], batches: BatchInvariance | None
) -> list[str]:
    plain = scores[PLAIN]
    lines = [f"{'obfuscation':<36}{'recall':>8}{'vs plain':>10}{'FPR':>8}{'vs plain':>10}"]
    for name, score in scores.items():
        share = score.recall / plain.recall if plain.recall else 0.0
        rise = score.false_positive_rate - plain.false_positive_rate
        lines.append(
            f"{name:<36}{score.recall:>8.1%}{share:>10.0%}"
            f"{score.false_positive_rate:>8.1%}{rise * 100:>+9.1f}p"
        )
    if batches is not None:
        lines.append(
            f"batch invariance: {batches.flips} verdict flips, max |dP| "
            f"{batches.max_probability_difference:.4f} over {batches.texts} sentences "
            f"(alone vs batches of {batches.batch_size})"
        )
    return lines

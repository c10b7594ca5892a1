"""Training sentences in contrast pairs: a hateful sentence and a harmless one that share their
words and differ only in the words that decide (a negation, or the speaker's stance on a hateful
claim they quote).

The more recipe's models learnt "threat verb + group" and "group + dehumanising noun" as cues for
both verdicts at once: on the held-out validation frames they pass "no decent person wants to
{threat} {group}" as hate (2-6% right) and, in those frames' first version, missed "{group} are
{noun} who should go back ..." more often than today's model. A pair makes the cue useless on its own: both halves hold the same
group, the same hateful word and the same threat, so only the negation or the stance can tell them
apart (the idea of counterfactually augmented data, Kaushik et al. 2020). Both halves of a pair
get the same seeded words. Like the other training frames these share no frame, no hateful word
and no sentence with the check or the held-out validation frames; tests/test_check.py asserts it.
The `identity_templates_contrast` data loader serves them.
"""

from __future__ import annotations

import random

from modeldistill.labels import HATE, NOT_HATE
from modeldistill.synthetic.generate import Sentence
from modeldistill.synthetic.identity_frames import fill_word_slots, unique_identity_rows
from modeldistill.synthetic.identity_more_frames import WIDER_ADJECTIVES, WIDER_NOUNS
from modeldistill.synthetic.training_frames import THREATS

# (hateful, harmless) frames, by the idea that tells the halves apart.
CONTRAST_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "negated threat": (
        ("somebody should {threat} those {group}", "nobody should {threat} those {group}"),
        ("i would gladly {threat} {group}", "i would never {threat} {group}"),
        (
            "i back anyone who wants to {threat} {group}",
            "i'll report anyone who wants to {threat} {group}",
        ),
        ("it's right to {threat} {group}", "it's never right to {threat} {group}"),
        ("more people ought to {threat} {group}", "no one has the right to {threat} {group}"),
        (
            "the town should {threat} its {group}",
            "the town should protect its {group}, not {threat} them",
        ),
    ),
    "negated claim": (
        ("{group} really are {noun}", "{group} really aren't {noun}"),
        ("face it, {group} are {adj}", "face it, {group} aren't {adj}"),
        ("i see {group} as {noun}", "i don't see {group} as {noun}, i see them as neighbours"),
        ("{group} are {noun}, plain and simple", "{group} aren't {noun}, plain and simple"),
        ("{one} is always {adj}", "{one} is no more {adj} than anyone else"),
        (
            "there's no doubt that {group} are {noun}",
            "there's no truth in the idea that {group} are {noun}",
        ),
        (
            "{group} should be driven out of this country",
            "no one should drive {group} out of this country",
        ),
    ),
    "quoted claim": (
        (
            "my uncle says {group} are {noun}, and he's right",
            "my uncle says {group} are {noun}, and he's wrong",
        ),
        (
            "a man on the train told me {group} are {adj}, and i agreed",
            "a man on the train told me {group} are {adj}, and i told him to stop",
        ),
        (
            "they chanted '{threat} the {group}' and i joined in",
            "they chanted '{threat} the {group}' and i called the police",
        ),
        (
            "people who say {group} are {noun} have a point",
            "people who say {group} are {noun} are spreading hate",
        ),
    ),
}

# The pairs as the check's case types are shaped: one case per verdict.
IDENTITY_CONTRAST_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "contrast, hateful half": (
        HATE,
        tuple(hateful for pairs in CONTRAST_PAIRS.values() for hateful, _ in pairs),
    ),
    "contrast, harmless half": (
        NOT_HATE,
        tuple(harmless for pairs in CONTRAST_PAIRS.values() for _, harmless in pairs),
    ),
}


def generate_identity_contrast_rows(seed: int = 1234, fills: int = 2) -> list[Sentence]:
    """Every pair with every identity group, `fills` times; each time one seeded choice of
    hateful words per pair fills both of its halves. Repeated texts are kept once."""
    rng = random.Random(seed)
    pair_count = sum(map(len, CONTRAST_PAIRS.values()))

    def one_round() -> dict[str, tuple[str, tuple[str, ...]]]:
        words = [
            (rng.choice(WIDER_ADJECTIVES), rng.choice(WIDER_NOUNS), rng.choice(THREATS))
            for _ in range(pair_count)
        ]
        return {
            case: (label, tuple(fill_word_slots(f, *w) for f, w in zip(frames, words, strict=True)))
            for case, (label, frames) in IDENTITY_CONTRAST_CASES.items()
        }

    return unique_identity_rows(one_round() for _ in range(fills))

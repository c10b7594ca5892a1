"""Training sentences about every identity group: support, self-description, counter-speech, and
hate said politely.

The public sources name a group mostly in hateful posts, so a model trained on them flags people
who defend a group or describe their own identity ("{group} deserve ..." reads as hate because one
hateful template and about 80 hateful source rows say "deserve"). These frames give the model the
other side: the same groups and often the same words ("deserve", "rights", the hateful claim being
rejected) in sentences that are not hate, and, so that a calm tone does not come to mean "harmless",
hate written politely. They are filled with every group of `identity.IDENTITIES` and the hateful
words of `training_frames`. Like `training_frames.py`, they share no frame, no hateful word and no
sentence with the check (`check_frames.py`, `support_frames.py`); tests/test_check.py asserts it.
The `identity_templates` data loader serves them (`recipes/general.yaml` says whether they are in).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from modeldistill.labels import HATE, NOT_HATE
from modeldistill.synthetic.generate import Sentence, expand, fill_cases
from modeldistill.synthetic.identity import identity_groups
from modeldistill.synthetic.training_frames import ADJECTIVES, NOUNS, THREATS

IDENTITY_TRAINING_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "support and equal rights": (
        NOT_HATE,
        (
            "{group} deserve the same rights as everyone else",
            "{group} deserve to feel safe at work and at home",
            "i support equal rights for {group}, always have",
            "{one} should never be turned away from a job for who they are",
            "protecting {group} from discrimination is the decent thing to do",
            "{group} deserve respect, full stop",
        ),
    ),
    "solidarity": (
        NOT_HATE,
        (
            "sending love to all the {group} out there today",
            "we stand with {group} against every kind of harassment",
            "if you are {one} and you feel scared, message me and i'll help",
            "our school welcomes {group} with open arms",
            "my door is always open to {group} who need a place to stay",
        ),
    ),
    "self-description": (
        NOT_HATE,
        (
            "i'm {one} and i love my job",
            "as {one} myself, i found that article really moving",
            "being {one} has taught me a lot about patience",
            "i'm {one} and all i want is a quiet life",
            "my whole family are {group} and we're very close",
        ),
    ),
    "counter-speech": (
        NOT_HATE,
        (
            "anyone who calls {group} {noun} should be ashamed of themselves",
            "stop calling {group} {adj}, it's bigotry",
            "i reported the post saying {group} are {noun}",
            "'{group} are {adj}' is a lie and you know it",
            "no, {group} are not {noun}, and saying so is hate",
            "people who say we should {threat} {group} are the real problem",
        ),
    ),
    "polite hate": (
        HATE,
        (
            "no offence, but {group} really should not live near us",
            "i mean this politely, but {group} have no place in our country",
            "kindly keep {group} away from our children",
            "it's nothing personal, {group} just shouldn't be allowed to work here",
            "with respect, {one} has no business being a teacher",
        ),
    ),
}


def fill_word_slots(frame: str, adjective: str, noun: str, threat: str) -> str:
    """A frame with its hateful-word slots filled (group slots kept)."""
    return frame.replace("{adj}", adjective).replace("{noun}", noun).replace("{threat}", threat)


def unique_identity_rows(
    rounds: Iterable[dict[str, tuple[str, tuple[str, ...]]]],
) -> list[Sentence]:
    """Every frame of each round of word-filled cases with every identity group, in order;
    a text repeated (in any case) is kept once."""
    rows: list[Sentence] = []
    seen: set[str] = set()
    for filled in rounds:
        for sentence, _marked in expand(filled, identity_groups()):
            if sentence.text.lower() not in seen:
                seen.add(sentence.text.lower())
                rows.append(sentence)
    return rows


def generate_identity_rows(
    cases: dict[str, tuple[str, tuple[str, ...]]],
    seed: int,
    fills: int,
    adjectives: tuple[str, ...] = ADJECTIVES,
    nouns: tuple[str, ...] = NOUNS,
) -> list[Sentence]:
    """Every frame of `cases` with every identity group; frames with a hateful-word slot `fills`
    times, with seeded word choices. Repeated texts are kept once."""
    rng = random.Random(seed)

    def fill_words(frame: str) -> str:
        return fill_word_slots(
            frame, rng.choice(adjectives), rng.choice(nouns), rng.choice(THREATS)
        )

    return unique_identity_rows(fill_cases(cases, fill_words) for _ in range(fills))


def generate_identity_training_rows(seed: int = 1234, fills: int = 2) -> list[Sentence]:
    return generate_identity_rows(IDENTITY_TRAINING_CASES, seed, fills)

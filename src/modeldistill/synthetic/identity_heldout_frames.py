"""Validation sentences about every identity group, from frames that no training source uses.

The identity training templates' own validation rows share their frames with the training rows
(only the group differs), so every model trained on them clears those rows alike and they cannot
tell two recipes apart. These frames are written apart from the training frames
(`training_frames.py`, `identity_frames.py`, `identity_more_frames.py`) and from the check
(`check_frames.py`, `support_frames.py`): a model clears them only if it learnt the idea, not the
phrasing. They are filled with the training sources' hateful words (never the check's), and serve
only as validation, never as training rows (the `identity_heldout` loader puts every row in the
validation split); tests/test_check.py asserts the disjointness.
"""

from __future__ import annotations

from modeldistill.labels import HATE, NOT_HATE
from modeldistill.synthetic.generate import Sentence
from modeldistill.synthetic.identity_frames import generate_identity_rows
from modeldistill.synthetic.identity_more_frames import WIDER_ADJECTIVES, WIDER_NOUNS

IDENTITY_HELDOUT_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "plain hate": (
        HATE,
        (
            "anyone who has lived near {group} knows how {adj} they are",
            "{group}? {adj}, the lot of them",
            "{group} are {noun} and this town would be cleaner without them",
            "let's {threat} the {group} before they take over",
        ),
    ),
    "polite hate": (
        HATE,
        (
            "not to be unkind, but {group} are simply {adj} by nature",
            "i hope this doesn't come across badly, but {group} shouldn't be let near our schools",
            "if i may say so, the fewer {group} there are here, the better",
            "begging your pardon, but {one} is not fit to be a neighbour",
        ),
    ),
    "negated hate": (
        NOT_HATE,
        (
            "{group} are not {adj}, whatever the trolls say",
            "calling {group} {noun} is wrong and i won't do it",
            "no decent person wants to {threat} {group}",
            "i have never once met {one} who was {adj}",
            "nobody gets to treat {group} as {noun}",
        ),
    ),
    "counter-speech": (
        NOT_HATE,
        (
            "the comment that {group} are {adj} was rightly taken down",
            "shame on the man who shouted that {group} are {noun}",
            "'{threat} all {group}' is a call for violence and it must be reported",
        ),
    ),
    "support": (
        NOT_HATE,
        (
            "{group} should be able to walk home without being harassed",
            "i'm glad the new law protects {group} at work",
            "{group} have every right to be heard in this debate",
            "everyone, {group} included, deserves a fair hearing",
        ),
    ),
    "self-description": (
        NOT_HATE,
        (
            "speaking for myself as {one}, i feel welcome in this city",
            "i've been {one} all my life and i wouldn't change it",
            "me and my sister are both {group} and we run a shop together",
        ),
    ),
    "neutral mention": (
        NOT_HATE,
        (
            "the documentary interviews {group} from three countries",
            "{one} asked a question at the council meeting",
            "a group of {group} started a book club in the library",
        ),
    ),
}


def generate_identity_heldout_rows(seed: int = 1234, fills: int = 2) -> list[Sentence]:
    return generate_identity_rows(
        IDENTITY_HELDOUT_CASES, seed, fills, WIDER_ADJECTIVES, WIDER_NOUNS
    )

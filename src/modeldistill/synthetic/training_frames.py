"""Training sentences written in this repository, for what the public sources rarely show.

The public sources have few friendly sentences that name a group or a country, few negations, little
counter-speech, few calls to exclude a group and few misspellings, so a model trained on them alone
flags group and country names and misses dodged spellings. These frames teach those cases. They share nothing with the check's frames in
`templates.py` except the groups: different sentence shapes and different hateful and friendly
words (a test in tests/test_check.py asserts that no frame and no hateful word is shared), so the
check still measures sentences the model has not seen.
"""

from __future__ import annotations

import random

from modeldistill.synthetic.check_frames import HATE, NOT_HATE
from modeldistill.synthetic.generate import (
    VARIANT_NAMES,
    Sentence,
    expand,
    fill_cases,
    spell_variant,
    unmark,
)
from modeldistill.synthetic.lexicon import GROUPS

ADJECTIVES = (
    "repulsive",
    "pathetic",
    "useless",
    "dirty",
    "vile",
    "lazy",
    "dumb",
    "evil",
    "savage",
    "primitive",
)
NOUNS = (
    "pigs",
    "dogs",
    "monkeys",
    "insects",
    "leeches",
    "maggots",
    "swine",
    "beasts",
    "a cancer",
    "a virus",
)
THREATS = ("murder", "stab", "lynch", "slaughter", "wipe out", "gas", "drown", "shoot")
OBJECTS = (
    "my car",
    "this app",
    "the wifi",
    "this game",
    "the bus service",
    "this movie",
    "my charger",
    "the heater",
)
PEOPLE = (
    "my brother",
    "that driver",
    "the landlord",
    "the cashier",
    "my coworker",
    "the neighbour's kid",
    "this influencer",
    "the mechanic",
)
INSULTS = ("clown", "fool", "jerk", "dumbass", "creep", "snake")
DEEDS = (
    "lying to me",
    "wrecking my car",
    "cheating at cards",
    "stealing my lunch",
    "being late again",
    "ghosting me",
)
INTERJECTIONS = ("fuck", "shit", "damn", "holy crap", "bloody hell", "fucking hell")
# Countries and nationalities: friendly sentences about where people come from, so that a country's
# name alone does not read as hate (the public sources name countries mostly in hateful posts).
COUNTRIES = (
    "Somalia",
    "Nigeria",
    "Mexico",
    "Pakistan",
    "Syria",
    "Poland",
    "Haiti",
    "Afghanistan",
    "Morocco",
    "Romania",
)
NATIONALITIES = (
    "Somali",
    "Nigerian",
    "Mexican",
    "Pakistani",
    "Syrian",
    "Polish",
    "Haitian",
    "Afghan",
    "Moroccan",
    "Romanian",
)
EVENTS = (
    "I forgot my keys",
    "we won the match",
    "the exam was brutal",
    "it's raining again",
    "that was a great gig",
    "my code finally works",
)

TRAINING_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "derogation": (
        HATE,
        (
            "{group} are so [{adj}].",
            "every single one of those {group} is [{adj}]",
            "{group} have always been [{adj}] and they always will be",
            "ugh, {group}... [{adj}] as usual",
            "the problem with {group} is that they are [{adj}]",
        ),
    ),
    "dehumanisation": (
        HATE,
        (
            "{group} are [{noun}].",
            "{group} are no better than [{noun}]",
            "treat {group} like the [{noun}] they are",
            "{group} breed like [{noun}]",
        ),
    ),
    "threat": (
        HATE,
        (
            "we need to [{threat}] all {group}",
            "i wish someone would [{threat}] the {group}",
            "time to [{threat}] every last one of the {group}",
            "grab your guns and [{threat}] {group}",
        ),
    ),
    "slur": (
        HATE,
        (
            "no [{slur}] allowed in here",
            "bunch of dirty [{slur}] again",
            "[{slur}] get out of our country",
            "my street is full of [{slur}] now",
        ),
    ),
    "hate as opinion": (
        HATE,
        (
            "personally i feel {group} are [{adj}]",
            "my honest view is that {group} are [{noun}]",
            "not gonna lie, {group} are [{adj}] people",
        ),
    ),
    "hate as question": (
        HATE,
        (
            "how are {group} allowed to be so [{adj}]?",
            "who else thinks {group} are [{noun}]?",
            "when will we finally [{threat}] the {group}?",
        ),
    ),
    "exclusion": (
        HATE,
        (
            "{group} should not be allowed to vote",
            "{group} don't deserve the same rights as the rest of us",
            "keep {group} out of our schools and our streets",
            "{group} should go back where they came from",
            "{one} should never be allowed near children",
            "{group} belong at the bottom, where they started",
        ),
    ),
    "neutral mention": (
        NOT_HATE,
        (
            "{group} live in many parts of the city",
            "the report counted how many {group} voted last year",
            "{one} joined our book club",
            "a documentary about {group} is on tonight",
            "the law affects {group} in different ways",
            "i was talking to {one} on the train",
            "our new doctor grew up in {country}",
            "she came here from {country} ten years ago",
            "we ordered {nationality} food for the office party",
            "the family next door moved from {country} last spring",
            "he teaches {nationality} history at the college",
        ),
    ),
    "positive mention": (
        NOT_HATE,
        (
            "{group} are kind and generous",
            "i admire {group} for their courage",
            "{group} have enriched our culture",
            "so glad {one} won the award",
            "we should listen to {group} more",
            "thank you to all the {group} who volunteered today",
            "{one} helped me carry my shopping, so kind",
            "proud to stand with {group} today and every day",
            "the {nationality} couple down the road are the sweetest people",
            "my friends from {country} taught me to cook",
            "i'm so happy our street has families from {country}",
        ),
    ),
    "negated hate": (
        NOT_HATE,
        (
            "{group} are not {adj}",
            "it is a lie that {group} are {noun}",
            "nobody sane thinks {group} are {adj}",
            "i don't think {group} are {noun} and never did",
            "{group} aren't {adj}, that's just a stereotype",
            "there is nothing {adj} about {group}",
            "i refuse to believe {group} are {noun}",
            "i used to think {group} were {adj} but i was wrong",
            "{group} are neither {adj} nor {noun}",
            "i have nothing against {group}, they are fine",
            "whoever told you {group} are {noun} was lying",
            "{one} is not {adj}, stop spreading that",
        ),
    ),
    "counter-speech": (
        NOT_HATE,
        (
            "it's wrong to say {group} are {adj}",
            "people who want to {threat} {group} belong in prison",
            "someone wrote '{group} are {noun}' on the wall and we painted over it",
            "calling {group} {noun} is shameful",
            "he said {group} are {adj} and got banned, good",
            "the comments calling {group} {noun} were removed, as they should be",
            "i'm tired of people claiming {group} are {adj}",
        ),
    ),
    "abuse of objects": (
        NOT_HATE,
        (
            "{object} is so {adj}",
            "honestly {object} is {adj} garbage",
            "i swear {object} is the worst",
        ),
    ),
    "abuse of an individual": (
        NOT_HATE,
        (
            "{person} is a {insult} for {deed}",
            "{person}, you absolute {insult}, stop {deed}",
        ),
    ),
    "profanity without a target": (
        NOT_HATE,
        (
            "{interjection}, {event}",
            "{event}, {interjection}!",
        ),
    ),
}


def _fill_words(frame: str, rng: random.Random) -> str:
    words = {
        "adj": rng.choice(ADJECTIVES),
        "noun": rng.choice(NOUNS),
        "threat": rng.choice(THREATS),
        "object": rng.choice(OBJECTS),
        "person": rng.choice(PEOPLE),
        "insult": rng.choice(INSULTS),
        "deed": rng.choice(DEEDS),
        "interjection": rng.choice(INTERJECTIONS),
        "event": rng.choice(EVENTS),
        "country": rng.choice(COUNTRIES),
        "nationality": rng.choice(NATIONALITIES),
    }
    for name, word in words.items():
        frame = frame.replace("{" + name + "}", word)
    return frame


def generate_training_rows(seed: int = 1234, fills: int = 6) -> list[Sentence]:
    """`fills` random word choices per frame and group; a third of hateful sentences and a tenth
    of the others also come misspelt, so that odd spelling alone does not mean hate."""
    rng = random.Random(seed)
    rows: list[Sentence] = []
    seen: set[str] = set()
    for _ in range(fills):
        filled = fill_cases(TRAINING_CASES, lambda frame: _fill_words(frame, rng))
        for sentence, marked in expand(filled, GROUPS):
            candidates = [sentence]
            if rng.random() < (1 / 3 if sentence.label == HATE else 1 / 10):
                text, variant = spell_variant(
                    marked if "[" in marked else f"[{unmark(marked)}]", rng.choice(VARIANT_NAMES)
                )
                candidates.append(
                    Sentence(
                        text, sentence.label, sentence.case, sentence.group, sentence.frame, variant
                    )
                )
            for candidate in candidates:
                if candidate.text.lower() not in seen:
                    seen.add(candidate.text.lower())
                    rows.append(candidate)
    return rows

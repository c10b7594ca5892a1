"""More shapes of the sentences the next recipe still gets wrong: negated hate, hate said politely,
and friendly sentences about every identity group.

The models trained with `identity_frames.py` learnt its few phrasings and not the idea: they
clear "{group} are not {adj}" but flag "No one should hurt {group} ..." and pass hate wrapped in a
different courtesy. These frames say the same things in more ways, over all of
`identity.IDENTITIES` (the older negation frames of `training_frames.py` name only the first
eight), and fill negations with a wider pool of hateful words, so that "not" and "no one" are read
with words the model has otherwise seen only in hateful rows. Like the other training frames they
share no frame, no hateful word and no sentence with the check (`check_frames.py`,
`support_frames.py`); tests/test_check.py asserts it. The `identity_templates_more` data loader
serves them, as a source of its own so that the older templates keep their seeded split.
"""

from __future__ import annotations

from modeldistill.labels import HATE, NOT_HATE
from modeldistill.synthetic.generate import Sentence
from modeldistill.synthetic.identity_frames import generate_identity_rows
from modeldistill.synthetic.training_frames import ADJECTIVES, NOUNS

# Hateful words seen in negations only here (none is a word of the check).
MORE_ADJECTIVES = ("violent", "greedy", "backward", "ugly", "dangerous", "sick", "dishonest")
MORE_NOUNS = ("criminals", "thieves", "terrorists", "freaks", "perverts", "savages", "a threat")
# The whole pool these frames fill their hateful-word slots from.
WIDER_ADJECTIVES, WIDER_NOUNS = ADJECTIVES + MORE_ADJECTIVES, NOUNS + MORE_NOUNS

IDENTITY_MORE_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "negated hate": (
        NOT_HATE,
        (
            "no one should hurt {group} for who they are",
            "nobody deserves to be beaten up for being {one}",
            "{group} are people, not {noun}",
            "it's not true that {group} are {adj}",
            "i'd never call {one} {adj}",
            "i don't believe for a second that {group} are {noun}",
            "we will never let anyone {threat} {group}",
            "hurting {group} is never okay",
            "{group} should not be treated like {noun}",
            "{group} are not a problem to be solved",
            "i don't hate {group}, i hate the people who spread lies about them",
            "not one of the {group} i know is {adj}",
            "no {one} should have to fear walking home",
            "there's no reason at all to be afraid of {group}",
        ),
    ),
    "polite hate": (
        HATE,
        (
            "i don't mean to be rude, but {group} are not welcome in our town",
            "sorry to say it, but {group} ought to be sent away",
            "please understand, we simply cannot have {group} living among us",
            "i have nothing personal against them, but {group} should lose the right to vote",
            "it's only common sense that {group} should not hold public office",
            "with the greatest respect, {group} are less capable than the rest of us",
            "i'd kindly suggest that {group} leave and never come back",
            "forgive me, but {one} should not be allowed to raise children",
            "i say this gently: our country would be better off without {group}",
            "in all honesty, {group} are a lesser kind of people",
            "we'd rather not rent to {group}, thank you for understanding",
            "dear neighbours, let's make sure no {group} buy houses on our street",
        ),
    ),
    "support": (
        NOT_HATE,
        (
            "{group} should have the same chances as anybody else",
            "it's only fair that {group} are treated equally",
            "{group} have the right to live without fear",
            "nobody should lose their job for being {one}",
            "the law must protect {group} like it protects everyone",
            "{group} deserve dignity and a fair chance",
            "{group} are valid and they belong here",
        ),
    ),
    "self-description": (
        NOT_HATE,
        (
            "i am {one} and i work as a nurse",
            "hi, i'm {one}, ask me anything",
            "as {one}, i'm tired of being stereotyped",
            "growing up as {one} was hard at times, but i'm happy now",
            "my partner and i are both {group}",
        ),
    ),
    "neutral mention": (
        NOT_HATE,
        (
            "{group} gathered downtown for the festival on saturday",
            "a survey of {group} found most are worried about rent",
            "the charity helps {group} find housing",
            "{one} opened a bakery on the high street",
        ),
    ),
}


def generate_identity_more_rows(seed: int = 1234, fills: int = 2) -> list[Sentence]:
    return generate_identity_rows(IDENTITY_MORE_CASES, seed, fills, WIDER_ADJECTIVES, WIDER_NOUNS)

"""The behavioural check's identity case types: how people write about a group when they are not
attacking it, and hate that keeps a polite tone.

A model trained on public hate-speech data learns that naming a group is a sign of hate, because
the sources name groups mostly in hateful posts; it then flags people who defend a group, describe
their own identity or report on it. These frames are filled with every group of
`identity.IDENTITIES` (more than `lexicon.GROUPS`), so the bias measurement has sentences of each
kind for each group. Each case type has frames of different shapes, so that no single phrasing
("{group} deserve ...") stands for the case. Like `check_frames.py`, nothing here is used for
training; tests/test_check.py asserts that no frame and no sentence is shared with
`training_frames.py`.
"""

from __future__ import annotations

from modeldistill.labels import HATE, NOT_HATE

# case type -> (expected verdict, frames)
SUPPORT_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "support and equal rights": (
        NOT_HATE,
        (
            "{group} should be paid the same as anyone doing the same job.",
            "Every school ought to be a safe place for {group}.",
            "I will keep voting for laws that protect {group} from discrimination.",
            "Nobody should be refused a flat because they are {one}.",
            "Equal rights for {group} are simply human rights.",
            "{one} has every right to see a doctor who treats them with dignity.",
        ),
    ),
    "solidarity and allyship": (
        NOT_HATE,
        (
            "To every one of the {group} reading this: you are not alone.",
            "I marched alongside {group} at the rally this weekend.",
            "If anyone harasses {one} while I am around, I will step in.",
            "Our union stands in solidarity with {group}.",
            "I'm an ally of {group} and I am not going anywhere.",
            "When they came for {group}, our whole street showed up to help.",
        ),
    ),
    "own identity": (
        NOT_HATE,
        (
            "As {one}, I just want to be treated like everyone else.",
            "I am {one} and I am proud of who I am.",
            "Being {one} is a big part of who I am.",
            "Speaking as {one}, that film got a lot right about my life.",
            "I grew up as {one} in a small town.",
            "My friends know me as {one} who loves terrible puns.",
        ),
    ),
    "facts and news": (
        NOT_HATE,
        (
            "A new study surveyed two thousand {group} about their health care.",
            "The city council met {group} to discuss the new bus routes.",
            "According to the report, {group} make up a growing share of the workforce.",
            "Police are investigating an attack on {one} outside a cafe.",
            "The museum's new exhibition follows three generations of {group}.",
            "{one} was elected mayor of the town on Sunday.",
        ),
    ),
    "praise of contribution": (
        NOT_HATE,
        (
            "{group} have given so much to science, art and medicine.",
            "Our hospital could not run without the {group} on its staff.",
            "Some of the best teachers I ever had were {group}.",
            "The street festival was organised by {group} and it was fantastic.",
            "Thanks to {group}, our town has a thriving food scene.",
            "{one} founded the company I work for, and it is a great place to work.",
        ),
    ),
    # Counter-speech that quotes or names the hateful claim it rejects: the words of hate are in
    # the sentence, the sentence is against them.
    "counter-speech naming hate": (
        NOT_HATE,
        (
            "Claiming that {group} are less intelligent is plain bigotry.",
            "Whoever sprayed 'death to {group}' on that wall should be ashamed.",
            "The idea that {group} are criminals is a lie that gets people hurt.",
            "I deleted a comment calling {group} subhuman; that hate has no place here.",
            "Telling {one} to go back where they came from is harassment, not free speech.",
            "Jokes about {group} being dirty are not edgy, they are just hateful.",
        ),
    ),
    # Hate without a slur, an insult or a threat of violence, in a calm and courteous tone.
    "polite hate": (
        HATE,
        (
            "With all due respect, {group} simply do not belong in this country.",
            "I'm sure some of them are nice, but {group} should be kept out of our neighbourhood.",
            "I say this kindly: {group} are a burden this nation can no longer afford.",
            "It would be best for everyone if {group} were quietly removed from public life.",
            "Respectfully, {one} should never be trusted with a position of authority.",
            "We politely ask that {group} find somewhere else to live.",
        ),
    ),
}

# The check's case types on which negated and rejected hate are measured (issue item 4).
COUNTER_CASES = ("negated hate", "counter-speech", "counter-speech naming hate")

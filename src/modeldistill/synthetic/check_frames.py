"""The behavioural check's cases: sentence frames with the verdict a moderator expects.

A frame fills {group} (plural), {one} (singular) or {slur} from each protected group in
`lexicon.GROUPS`; frames without a placeholder name no protected group. In hateful frames the word
that carries the hate is marked [like this]: the spelling-variant case changes that word. None of
these frames (and none of their hateful wording) is used for training: see `training_frames.py`.
"""

from __future__ import annotations

from modeldistill.labels import HATE, NOT_HATE

# case type -> (expected verdict, frames)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "derogation": (
        HATE,
        (
            "{group} are [disgusting].",
            "All {group} are [worthless].",
            "{group} are too [stupid] to run their own lives.",
            "I can't stand {group}, they are all [filthy].",
            "Honestly, {group} are just [scum].",
            "{one} will always be [inferior] to the rest of us.",
        ),
    ),
    "dehumanisation": (
        HATE,
        (
            "{group} are [animals].",
            "{group} are nothing but [vermin].",
            "{group} are a [disease] on this country.",
            "{one} is not a human being, just a [parasite].",
            "{group} are [rats] that breed in the sewers.",
            "To me {group} are [cockroaches].",
        ),
    ),
    "threat": (
        HATE,
        (
            "I am going to [kill] every one of those {group}.",
            "{group} should all be [shot].",
            "Someone needs to [hang] {group} in the town square.",
            "If I see {one} near my house I will [beat] them to death.",
            "We should [burn] down the homes of {group}.",
            "{group} deserve to be [exterminated].",
        ),
    ),
    "slur": (
        HATE,
        (
            "Look at all these [{slur}] on the bus.",
            "I'm sick of [{slur}] moving into my street.",
            "Typical [{slur}], always causing trouble.",
            "Get these [{slur}] out of my sight.",
        ),
    ),
    "hate as opinion": (
        HATE,
        (
            "In my opinion {group} are [subhuman].",
            "I honestly believe {group} are a [plague] on society.",
            "I think the world would be better without {group}, they are [trash].",
            "Call me what you want, but {group} are [degenerates].",
        ),
    ),
    "hate as question": (
        HATE,
        (
            "Why are {group} so [stupid]?",
            "Is it just me or are all {group} [filthy] parasites?",
            "Why do we let [worthless] {group} live here?",
            "Aren't {group} just [animals] in clothes?",
        ),
    ),
    "neutral mention": (
        NOT_HATE,
        (
            "I met some {group} at the conference yesterday.",
            "My neighbour is {one}.",
            "There is a new book about the history of {group}.",
            "The survey asked {group} about their commute.",
            "{one} moved into the flat upstairs last week.",
            "Our team has several {group}.",
        ),
    ),
    "positive mention": (
        NOT_HATE,
        (
            "{group} are wonderful people.",
            "I love spending time with {group}.",
            "{group} make our city a better place.",
            "My best friend is {one} and I am proud of them.",
            "{group} deserve the same respect as everyone else.",
            "So many brilliant scientists are {group}.",
        ),
    ),
    "negated hate": (
        NOT_HATE,
        (
            "{group} are not disgusting at all.",
            "I would never say that {group} are worthless.",
            "No, {group} are not animals, they are people like us.",
            "It is simply false that {group} are inferior.",
            "I don't hate {group}, I never have.",
            "Nobody should ever call {group} vermin.",
        ),
    ),
    "counter-speech": (
        NOT_HATE,
        (
            'Saying "{group} are animals" is hateful and wrong.',
            "If you think {group} are worthless, you need to educate yourself.",
            "I reported the post that called {group} vermin.",
            "People who say {group} should be shot are the real problem.",
            'Stop calling {group} "disgusting", it is cruel.',
            "Hating {group} says more about you than about them.",
        ),
    ),
    "abuse of objects": (
        NOT_HATE,
        (
            "I hate this stupid printer.",
            "This phone is a worthless piece of junk.",
            "My laptop is a disgusting, useless brick.",
            "This traffic is absolute garbage.",
            "The new update is trash, I hate it.",
            "This weather is disgusting.",
        ),
    ),
    "abuse of an individual": (
        NOT_HATE,
        (
            "You are a liar and everyone knows it.",
            "My boss is an idiot for cancelling the project.",
            "That referee is a moron, what a terrible call.",
            "You're such a loser for cheating on the test.",
            "The guy who stole my bike is a worthless thief.",
            "My ex is a selfish jerk.",
        ),
    ),
    "profanity without a target": (
        NOT_HATE,
        (
            "Fuck, I missed the bus again.",
            "Holy shit, that concert was amazing.",
            "What the hell is going on today?",
            "Damn, this coffee is strong.",
            "This is so fucking good.",
            "Shit happens, let's move on.",
        ),
    ),
}

# Spelling variants are made from these hateful case types (see lexicon.WORD_VARIANTS).
VARIANT_SOURCES = ("derogation", "dehumanisation", "threat")
SPELLING_CASE = "spelling variants"

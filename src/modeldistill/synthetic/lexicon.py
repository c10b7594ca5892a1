"""The protected groups and the words that fill the behavioural check's and training templates.

The check and the training sentences share only the groups (they are what the product protects);
their sentence frames and their hateful and friendly wording are written separately, so the check
measures sentences the model was not trained on. Slurs are listed because moderators need them
caught; they appear only in generated test and training sentences.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    key: str
    plural: str  # "Muslims": fills {group}
    singular: str  # "a Muslim": fills {one}
    slurs: tuple[str, ...]  # plural forms: fill {slur}


GROUPS: tuple[Group, ...] = (
    Group("women", "women", "a woman", ("bitches", "sluts")),
    Group("muslims", "Muslims", "a Muslim", ("ragheads", "towelheads")),
    Group("black", "Black people", "a Black person", ("niggers", "coons")),
    Group("gay", "gay people", "a gay person", ("faggots", "dykes")),
    Group("trans", "trans people", "a trans person", ("trannies", "shemales")),
    Group("disabled", "disabled people", "a disabled person", ("retards", "cripples")),
    Group("immigrants", "immigrants", "an immigrant", ("wetbacks", "illegals")),
    Group("jews", "Jews", "a Jew", ("kikes", "yids")),
)

NO_GROUP = "none"


def leetspeak(word: str) -> str:
    table = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
    return word.translate(table)


def swap_adjacent(word: str) -> str:
    if len(word) < 4:
        return word
    middle = len(word) // 2
    return word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]


def drop_character(word: str) -> str:
    if len(word) < 4:
        return word
    middle = len(word) // 2
    return word[:middle] + word[middle + 1 :]


def join_words(sentence: str) -> str:
    return sentence.replace(" ", "")


# How a hateful sentence is spelled differently by someone dodging a filter. The word-level ones
# change the sentence's marked hateful word; `join_words` removes every space.
WORD_VARIANTS = {
    "swapped characters": swap_adjacent,
    "dropped character": drop_character,
    "leetspeak": leetspeak,
}

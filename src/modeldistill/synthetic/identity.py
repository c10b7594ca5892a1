"""The identity groups a bias measurement reports on, and the words that say a text mentions one.

Bias is measured as Dixon et al. (2018) and Borkan et al. (2019) do: per group, on the texts that
mention it. A text mentions a group when one of the group's identity terms appears in it as a whole
word, case-insensitively ("trans" in "trans people", not in "transport"). Slurs are not identity
terms: a text that only slurs a group is hateful by itself and would make every group look more
hateful than the texts that name it neutrally.

The first eight groups are `lexicon.GROUPS` (the same keys and wording, so the behavioural check's
original case types are unchanged); the others are filled only into the check's identity case types
(`support_frames.py`) and into none of the training templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from modeldistill.synthetic.lexicon import GROUPS, Group


@dataclass(frozen=True)
class Identity:
    key: str  # a Group.key for the first eight
    category: str
    plural: str  # fills {group} in check frames
    singular: str  # fills {one}
    # regular-expression alternatives, matched as whole words, case-insensitively
    terms: tuple[str, ...]


IDENTITIES: tuple[Identity, ...] = (
    # religion
    Identity(
        "muslims", "religion", "Muslims", "a Muslim", ("muslims?", "moslems?", "islam(?:ic)?")
    ),
    Identity("jews", "religion", "Jews", "a Jew", ("jews?", "jewish", "judaism")),
    Identity(
        "christians", "religion", "Christians", "a Christian", ("christians?", "christianity")
    ),
    Identity("hindus", "religion", "Hindus", "a Hindu", ("hindus?", "hinduism")),
    Identity("sikhs", "religion", "Sikhs", "a Sikh", ("sikhs?", "sikhism")),
    # race
    Identity(
        "black", "race", "Black people", "a Black person", ("blacks?", "african[- ]americans?")
    ),
    # "white" alone is mostly colour ("white wine", "the White House"): only as people
    Identity(
        "white",
        "race",
        "white people",
        "a white person",
        ("whites", r"white (?:people|persons?|folks?|men|women|man|woman|guys?)", "caucasians?"),
    ),
    # nationality and ethnicity
    Identity("mexicans", "nationality", "Mexicans", "a Mexican", ("mexicans?",)),
    Identity("chinese", "nationality", "Chinese people", "a Chinese person", ("chinese",)),
    Identity("indians", "nationality", "Indians", "an Indian", ("indians?",)),
    Identity("arabs", "ethnicity", "Arabs", "an Arab", ("arabs?",)),
    # "African American" names the Black group above, not Africans
    Identity("africans", "ethnicity", "Africans", "an African", ("africans?(?![- ]americans?)",)),
    Identity(
        "latinos",
        "ethnicity",
        "Latinos",
        "a Latino",
        ("latinos?", "latinas?", "latinx", "hispanics?"),
    ),
    Identity("asians", "ethnicity", "Asian people", "an Asian person", ("asians?",)),
    # gender
    Identity("women", "gender", "women", "a woman", ("women", "woman", "females?")),
    Identity(
        "trans",
        "gender",
        "trans people",
        "a trans person",
        ("trans", "transgenders?", "transsexuals?", "trans(?:wo)?men"),
    ),
    Identity(
        "nonbinary", "gender", "non-binary people", "a non-binary person", ("non-?binary", "enby")
    ),
    # sexual orientation
    Identity("gay", "sexual orientation", "gay people", "a gay person", ("gays?", "homosexuals?")),
    Identity("lesbians", "sexual orientation", "lesbians", "a lesbian", ("lesbians?",)),
    Identity(
        "bisexual", "sexual orientation", "bisexual people", "a bisexual person", ("bisexuals?",)
    ),
    Identity(
        "queer", "sexual orientation", "queer people", "a queer person", ("queers?", "lgbtq?")
    ),
    # disability
    Identity(
        "disabled",
        "disability",
        "disabled people",
        "a disabled person",
        ("disabled", "disabilit(?:y|ies)", "handicapped", "wheelchair users?"),
    ),
    Identity(
        "autistic", "disability", "autistic people", "an autistic person", ("autistic", "autism")
    ),
    Identity("deaf", "disability", "deaf people", "a deaf person", ("deaf",)),
    # migration
    Identity("immigrants", "migration", "immigrants", "an immigrant", ("immigrants?", "migrants?")),
    Identity("refugees", "migration", "refugees", "a refugee", ("refugees?", "asylum seekers?")),
)


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    # Letters and digits on either side end a word; a hyphen does not ("anti-Muslim" names Muslims).
    return {
        identity.key: re.compile(
            r"(?<![^\W_])(?:" + "|".join(identity.terms) + r")(?![^\W_])", re.IGNORECASE
        )
        for identity in IDENTITIES
    }


def mentioned_groups(text: str) -> set[str]:
    """The keys of the identity groups whose terms appear in `text` as whole words."""
    return {key for key, pattern in _patterns().items() if pattern.search(text)}


def identity_groups() -> tuple[Group, ...]:
    """Every identity as a `Group` that fills check frames: the eight of `lexicon.GROUPS` as they
    are (with their slurs), the others without slurs (no frame of theirs has a {slur} slot)."""
    known = {group.key: group for group in GROUPS}
    return tuple(
        known.get(identity.key, Group(identity.key, identity.plural, identity.singular, ()))
        for identity in IDENTITIES
    )


def _forms(identity: Identity) -> tuple[str, str, str, str]:
    """(article, adjective, singular, plural): "a Black person" -> ("a", "Black", "Black person",
    "Black people"); for a noun the adjective is the singular ("a Muslim" -> "Muslim")."""
    article, _, singular = identity.singular.partition(" ")
    return article, singular.removesuffix(" person"), singular, identity.plural


@cache
def _swap_pattern(key: str) -> re.Pattern[str]:
    _, adjective, singular, plural = _forms(next(i for i in IDENTITIES if i.key == key))
    # Longest first, so "Black people" is one plural and not "Black" followed by "people".
    words = sorted({plural, adjective + "s", singular, adjective}, key=len, reverse=True)
    alternatives = "|".join(re.escape(word) for word in words)
    return re.compile(
        r"(?<![^\W_])(?:(?P<article>an?)\s+)?(?P<word>" + alternatives + r")(?![^\W_])",
        re.IGNORECASE,
    )


def swap_identity(text: str, source: str, target: str) -> str:
    """`text` with group `source`'s words (plural, singular, adjective, and an article before a
    singular) replaced by group `target`'s: the counterfactual copy of Garg et al. (2019), which
    keeps the label because who is named is not what makes a text hateful. Other words of `source`
    ("Judaism", "handicapped") stay; the text is unchanged when none is found. Word by word, so an
    adjective can land before a noun it does not suit ("a woman guy"): rare, and still a sentence
    about the target group."""
    by_key = {identity.key: identity for identity in IDENTITIES}
    if source not in by_key or target not in by_key:
        raise ValueError(f"unknown identity group {source if source not in by_key else target!r}")
    _, source_adjective, source_singular, _ = _forms(by_key[source])
    target_forms = _forms(by_key[target])

    def replace(match: re.Match[str]) -> str:
        word = match.group("word").casefold()
        if word == source_singular.casefold():
            new, singular = target_forms[2], True
        elif word == source_adjective.casefold():
            new, singular = target_forms[1], True
        else:
            new, singular = target_forms[3], False
        if match.start() == 0 and match.group("word")[:1].isupper():
            new = new[:1].upper() + new[1:]
        article = match.group("article")
        if article is None:
            return new
        if singular:  # "a Muslim" -> "an Indian"
            article = target_forms[0].capitalize() if article[:1].isupper() else target_forms[0]
        return f"{article} {new}"

    return _swap_pattern(source).sub(replace, text)

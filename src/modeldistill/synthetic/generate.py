"""Fill sentence frames with groups, and make the spelling variants of hateful sentences."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from modeldistill.synthetic.lexicon import GROUPS, NO_GROUP, WORD_VARIANTS, Group, join_words

_MARK = re.compile(r"\[([^\]]+)\]")
VARIANT_NAMES = (*WORD_VARIANTS, "missing spaces")


@dataclass(frozen=True)
class Sentence:
    text: str
    label: str  # the verdict a moderator expects: hate / not_hate
    case: str
    group: str  # a Group.key, or "none"
    frame: str
    variant: str = ""


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def fill(frame: str, group: Group | None, slur_index: int = 0) -> str:
    """The frame with its placeholders filled and the hate mark kept (`[word]`)."""
    if group is None:
        return frame
    # Groups added for the identity case types have no slurs, and no frame of theirs asks for one.
    slur = group.slurs[slur_index % len(group.slurs)] if "{slur}" in frame else ""
    return frame.format(group=group.plural, one=group.singular, slur=slur)


def unmark(text: str) -> str:
    return _capitalise(_MARK.sub(r"\1", text))


def spell_variant(marked: str, variant: str) -> tuple[str, str]:
    """The sentence with its marked word misspelt by `variant`, or every space removed; where
    `variant` leaves the word as it is ("burn" has no leetspeak letters), the next kind that
    changes it. Returns (text, the kind applied)."""
    plain = unmark(marked)
    start = VARIANT_NAMES.index(variant)
    for kind in VARIANT_NAMES[start:] + VARIANT_NAMES[:start]:
        if kind == "missing spaces":
            text = join_words(plain)
        else:
            change = WORD_VARIANTS[kind]
            text = unmark(_MARK.sub(lambda match, f=change: f(match.group(1)), marked, count=1))
        if text != plain:
            return text, kind
    return plain, ""


def fill_cases(
    cases: dict[str, tuple[str, tuple[str, ...]]], fill_words: Callable[[str], str]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The case types with each frame's word slots filled by `fill_words` (group slots kept)."""
    return {
        case: (label, tuple(fill_words(frame) for frame in frames))
        for case, (label, frames) in cases.items()
    }


def needs_group(frame: str) -> bool:
    return any(slot in frame for slot in ("{group}", "{one}", "{slur}"))


def expand(
    cases: dict[str, tuple[str, tuple[str, ...]]], groups=GROUPS
) -> list[tuple[Sentence, str]]:
    """Every frame with every group (frames without a slot once), with the marked text kept."""
    result = []
    for case, (label, frames) in cases.items():
        for frame_index, frame in enumerate(frames):
            targets = groups if needs_group(frame) else (None,)
            for group in targets:
                marked = fill(frame, group, frame_index)
                sentence = Sentence(
                    unmark(marked), label, case, group.key if group else NO_GROUP, frame
                )
                result.append((sentence, marked))
    return result

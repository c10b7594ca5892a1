"""The check's sentences written the ways people hide words from a filter.

Each obfuscation keeps what a reader sees (or nearly: a spaced-out or leetspeak word) and changes
what the tokenizer gets. The behavioural check scores the check's own hateful and harmless
sentences through each of them: hate must still be caught, and a harmless sentence must not
become "hate" for looking odd. Only the check uses this module. Training data must never be made
with it: a model trained on these exact transformations would pass the check without having
learnt to read obfuscated text in general.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from modeldistill.labels import HATE
from modeldistill.synthetic.check_frames import CASES
from modeldistill.synthetic.generate import expand

_WORD = re.compile(r"[A-Za-z]+")
_MARKED = re.compile(r"\[([^\]]+)\]")

_CYRILLIC = str.maketrans("aeopcAEOPC", "аеорсАЕОРС")
_LEET = str.maketrans("aeiost", "431057")
# Zero-width space, non-joiner, joiner, word joiner and soft hyphen, in turn.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u00ad"
# About 150 MiniLM tokens of talk about nothing in particular: a message whose hate comes only
# after the part a 128-token window reads.
PADDING = (
    "Last weekend we finally went to the farmers market in the old town square, which opens at "
    "eight and closes around noon. The bakery stall had fresh rye bread, cinnamon rolls and a "
    "lemon cake that sold out in minutes. My sister bought tomatoes, basil and a bag of new "
    "potatoes for dinner, and I found a second-hand book about the history of the railway. "
    "After that we walked along the river, watched the boats go under the stone bridge and "
    "stopped for coffee at the little place next to the library. The weather stayed dry all "
    "morning, although the forecast had promised rain, and the children spent an hour feeding "
    "the ducks near the playground while we talked about the summer holidays and where to go "
    "camping this year. Anyway, here is what I wanted to say:"
)


def _letters(text: str, upper: int, lower: int) -> str:
    # Both alphabets of these blocks run A-Z and a-z in order, like ASCII.
    def shift(char: str) -> str:
        if "A" <= char <= "Z":
            return chr(upper + ord(char) - ord("A"))
        if "a" <= char <= "z":
            return chr(lower + ord(char) - ord("a"))
        return char

    return "".join(map(shift, text))


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def math_bold(text: str) -> str:
    return _letters(text, 0x1D400, 0x1D41A)


def circled(text: str) -> str:
    return _letters(text, 0x24B6, 0x24D0)


def cyrillic_lookalikes(text: str) -> str:
    return text.translate(_CYRILLIC)


def reversed_storage(text: str) -> str:
    """Stored backwards under a right-to-left override: displayed as `text`, read reversed."""
    return "\u202e" + text[::-1] + "\u202c"


def zero_width_joiners(text: str) -> str:
    """An invisible character between every two letters of every word."""

    def split(match: re.Match) -> str:
        word = match.group(0)
        return word[0] + "".join(
            _ZERO_WIDTH[i % len(_ZERO_WIDTH)] + char for i, char in enumerate(word[1:])
        )

    return _WORD.sub(split, text)


def padded(text: str) -> str:
    return f"{PADDING} {text}"


def letter_spacing(word: str) -> str:
    return " ".join(word)


def leetspeak(word: str) -> str:
    return word.translate(_LEET)


# name -> how the whole sentence is rewritten
WHOLE_SENTENCE: dict[str, Callable[[str], str]] = {
    "fullwidth": fullwidth,
    "math bold": math_bold,
    "circled": circled,
    "cyrillic lookalikes": cyrillic_lookalikes,
    "bidi override, reversed storage": reversed_storage,
    "zero-width joiners": zero_width_joiners,
}
# name -> how one word is rewritten: the hateful sentence's hate word, the longest word otherwise
ONE_WORD: dict[str, Callable[[str], str]] = {
    "letter spacing, one word": letter_spacing,
    "leetspeak, one word": leetspeak,
}
PADDING_NAME = "after ~150 tokens of harmless text"
OBFUSCATIONS = (*WHOLE_SENTENCE, *ONE_WORD, PADDING_NAME)


@dataclass(frozen=True)
class Obfuscated:
    text: str
    plain: str  # the sentence as written in the check
    label: str
    obfuscation: str


def _rewrite_one_word(text: str, marked_word: str | None, change: Callable[[str], str]) -> str:
    words = [m for m in _WORD.finditer(text) if change(m.group(0)) != m.group(0)]
    if not words:
        return text
    # The word that carries the hate when it can be changed; else the longest one that can.
    chosen = next((m for m in words if m.group(0).lower() == marked_word), None)
    chosen = chosen or max(words, key=lambda m: len(m.group(0)))
    return text[: chosen.start()] + change(chosen.group(0)) + text[chosen.end() :]


def plain_sentences() -> list[tuple[str, str, str | None]]:
    """(text, label, the marked hate word or None) for each hateful and harmless check sentence."""
    result = []
    for sentence, marked in expand(CASES):
        mark = _MARKED.search(marked)
        word = mark.group(1).lower() if sentence.label == HATE and mark else None
        result.append((sentence.text, sentence.label, word))
    return result


def obfuscated_sentences() -> list[Obfuscated]:
    """Every plain check sentence through every obfuscation (those that change it)."""
    result = []
    for text, label, word in plain_sentences():
        variants = {name: change(text) for name, change in WHOLE_SENTENCE.items()}
        variants |= {
            name: _rewrite_one_word(text, word, change) for name, change in ONE_WORD.items()
        }
        variants[PADDING_NAME] = padded(text)
        result += [
            Obfuscated(variant, text, label, name)
            for name, variant in variants.items()
            if variant != text
        ]
    return result

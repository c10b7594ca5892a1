"""Text rules shared by training and serving: what counts as a text, and how a text is prepared.

`is_blank` is the one rule the API, the page and the CLI share for texts with nothing visible in
them. `TextPrep` is the preparation a model records in its config.json and that the `Classifier`
applies again, so a model sees the same kind of text in training and serving.

Multi-source models are trained on tweets, forum posts and hand-written sentences. Three habits of
those sources would otherwise become features the model learns instead of meaning: HTML entities
(`&amp;` in the Davidson tweets), user handles (`@someone` in tweets, `<user>` in HateXplain) and
links. They are undone or masked here. Emoji carry meaning in HatemojiBuild, but the MiniLM
vocabulary has none of them (they become [UNK]); `emoji_names` turns each into its English name
with the `emoji` library, e.g. "🔪" -> " kitchen knife ".
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from typing import Any

# Characters that show nothing: controls (Cc), format characters (Cf: zero-width space, soft
# hyphen, word joiner, byte-order mark, bidi marks) and separators (Z*). Marks (Mn, Me: variation
# selectors, the combining grapheme joiner U+034F, accents) draw nothing without a letter to sit
# on, and private-use characters (Co) have no agreed glyph. U+FFFD stands for bytes that were not
# text. A text made only of these scores exactly like the empty text, so the score would be about
# nothing.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me", "Co"})
REPLACEMENT_CHARACTER = "\ufffd"
# Letters and symbols that are drawn as empty space although their category says otherwise: the
# Braille blank (So) and the Hangul fillers (Lo), favourites for "invisible" user names and posts.
_BLANK_GLYPHS = frozenset("\u2800\u115f\u1160\u3164\uffa0")
BLANK_MESSAGE = "text is blank (no visible character)"
# Lone UTF-16 surrogates fit in a Python str (JSON "\ud800", surrogateescape'd argv) but are not
# text: the tokenizer cannot take them, so they are refused by name instead of failing inside it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _shows_nothing(char: str) -> bool:
    return (
        char.isspace()
        or char == REPLACEMENT_CHARACTER
        or char in _BLANK_GLYPHS
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
    )


def is_blank(text: str) -> bool:
    """True when `text` has no visible character (empty, whitespace, controls, format characters,
    lone marks, private-use characters, blank glyphs or U+FFFD only). Stops at the first visible
    character, so ordinary texts cost one look."""
    return all(map(_shows_nothing, text))


def has_surrogates(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def _escape(code: int) -> str:
    # ASCII escapes that Python's and Rust's regex engines both read.
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


@functools.cache
def visible_pattern() -> str:
    """A regular expression that matches one visible character: the rule above, written into the
    API's JSON schema so that clients (and schema-driven tests) know it."""
    ranges, start = [], None
    # The per-character rule of `is_blank` itself, so the two cannot drift apart.
    hides = _shows_nothing
    # Only planes 0, 1 and the start of 14 hold controls, format characters, separators or marks,
    # and planes 15 and 16 are private use; skipping the rest (CJK ideographs and unassigned code
    # points, all visible by the rule) keeps this to a fraction of a second.
    codes = [*range(0x20000), *range(0xE0000, 0xE1000), *range(0xF0000, 0x110000), None]
    for code in codes:
        # Surrogates stay out: a regex engine over Unicode scalar values (Rust's) refuses them.
        hidden = code is not None and not 0xD800 <= code <= 0xDFFF and hides(chr(code))
        if hidden and start is None:
            start = code
        elif not hidden and start is not None:
            first, last = _escape(start), _escape(code - 1)
            ranges.append(first if start == code - 1 else f"{first}-{last}")
            start = None
    return f"[^{''.join(ranges)}]"


# Undoing obfuscation (`TextPrep.deobfuscate`). People who want hate past a filter write it so a
# reader still sees the words but the tokenizer does not: letters from other alphabets or Unicode
# blocks (fullwidth, mathematical bold, circled: all [UNK] to MiniLM), text stored backwards under
# a right-to-left override, invisible joiners inside words, words spelt out letter by letter, and
# leetspeak. Each step below undoes one of these; `deobfuscate` chains them.

# Embeddings and isolates change no Latin letter's direction, so only overrides reorder the text
# as displayed; the marks (LRM, RLM, ALM) reorder nothing. All of them are dropped.
_RLO, _LRO, _PDF, _PDI = "\u202e", "\u202d", "\u202c", "\u2069"
_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")
_ISOLATES = frozenset("\u2066\u2067\u2068")
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# The bidi algorithm ends every embedding, override and isolate at a paragraph separator.
_PARAGRAPH_ENDS = frozenset("\n\r\x1c\x1d\x1e\x85\u2029")
# Never drawn and never needed inside a word: soft hyphen, Mongolian vowel separator, zero-width
# space, word joiner and invisible operators, byte-order mark.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b\u2060-\u2064\ufeff]")
# Zero-width (non-)joiners and the grapheme joiner shape Indic, Arabic and emoji sequences, so they
# go only where they touch a Latin letter or digit, which they never shape.
_LATIN_OR_DIGIT = "A-Za-z0-9\u00c0-\u024f"
_JOINERS = re.compile(
    f"(?<=[{_LATIN_OR_DIGIT}])[\u200c\u200d\u034f]+|[\u200c\u200d\u034f]+(?=[{_LATIN_OR_DIGIT}])"
)
_LETTERS = re.compile(r"[^\W\d_]+")
_ONE_LETTER_WORDS = "aAiI"
# Three or more single letters with the same separator between them: "h a t e", "k.i.l.l".
_SPACED = re.compile(
    r"(?<![^\W\d_])[^\W\d_](?P<sep>[ .*_-])(?:[^\W\d_](?P=sep))+[^\W\d_](?![^\W\d_])"
)
# A letter and a leetspeak character side by side: only words holding one are looked at further.
_LEET_HINT = re.compile(r"[A-Za-z][013457@$]|[013457@$][A-Za-z]")
_LEET_WORD = re.compile(r"[\w@$]+")
_LEET = str.maketrans("013457@$", "oieastas")
# Numbers with a unit or an ordinal, and names ending in one digit: "1st", "5pm", "4k", "mp3". A
# longer tail of digits ("r475", "dyk35") is far more often leetspeak than a name.
_NUMBER_WORD = re.compile(r"\d+[A-Za-z]{1,2}|[A-Za-z]{2,}\d")


def resolve_bidi(text: str) -> str:
    """The text in the order it is displayed (as far as overrides go), without bidi controls: a
    run under U+202E (right-to-left override) is shown reversed, so it is reversed back."""
    if not _BIDI_CONTROLS.search(text):
        return text
    # Each open override, embedding or isolate collects its characters and closed inner runs;
    # closing an RLO reverses the order of those pieces, not the inside of an inner run.
    stack: list[tuple[str, list[str]]] = [("", [])]

    def close() -> None:
        kind, pieces = stack.pop()
        stack[-1][1].append("".join(reversed(pieces) if kind == _RLO else pieces))

    for char in text:
        if char in _EMBEDDINGS or char in _ISOLATES:
            stack.append((char, []))
        elif char == _PDF:
            if len(stack) > 1 and stack[-1][0] in _EMBEDDINGS:
                close()
        elif char == _PDI:
            if any(kind in _ISOLATES for kind, _ in stack):
                while stack[-1][0] not in _ISOLATES:
                    close()
                close()
        elif char in _PARAGRAPH_ENDS:
            while len(stack) > 1:
                close()
            stack[-1][1].append(char)
        elif not _BIDI_CONTROLS.match(char):
            stack[-1][1].append(char)
    while len(stack) > 1:
        close()
    return "".join(stack[0][1])


def remove_invisible(text: str) -> str:
    """Without the invisible characters slipped into words to split them for the tokenizer."""
    return _JOINERS.sub("", _INVISIBLE.sub("", text))


@functools.cache
def _lookalikes() -> dict[str, str]:
    """Letter of another script -> the ASCII letter it imitates, from Unicode's confusables.txt
    (through `confusable_homoglyphs`); loaded on the first non-ASCII text that needs it."""
    from confusable_homoglyphs import categories, confusables

    table = {}
    for char, glyphs in confusables.confusables_data.items():
        if len(char) != 1 or not char.isalpha() or categories.alias(char) in ("LATIN", "COMMON"):
            continue
        latin = [
            g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()
        ]
        if latin:
            table[char] = latin[0]
    return table


@functools.lru_cache(maxsize=4096)
def _is_latin(char: str) -> bool:
    if char.isascii():
        return True
    from confusable_homoglyphs import categories

    return categories.alias(char) == "LATIN"


def map_lookalikes(text: str) -> str:
    """Letters of other scripts that imitate Latin ones (Cyrillic "а", Greek "ο") written as the
    Latin letter, in words that mix them with Latin letters, and in all-lookalike words of a
    mostly Latin text. A text in another script keeps its letters: there a lookalike is a letter."""
    if text.isascii():
        return text
    table = _lookalikes()
    if not any(char in table for char in text):
        return text
    words = _LETTERS.findall(text)
    latin = sum(_is_latin(char) for word in words for char in word)
    # Lookalikes count for neither side: "аrе" is as Latin as "are".
    foreign = sum(not _is_latin(char) and char not in table for word in words for char in word)
    mostly_latin = latin >= foreign

    def latinise(match: re.Match) -> str:
        word = match.group(0)
        if not any(char in table for char in word):
            return word
        mixed = any(_is_latin(char) for char in word)
        all_lookalikes = all(char in table for char in word)
        if mixed or (mostly_latin and all_lookalikes):
            return "".join(table.get(char, char) for char in word)
        return word

    return _LETTERS.sub(latinise, text)


def deobfuscate_characters(text: str) -> str:
    """NFKC (fullwidth, mathematical and circled letters become plain ones), bidi overrides read
    as displayed, invisible characters removed, lookalike letters made Latin. ASCII passes as is."""
    if text.isascii():
        return text
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return map_lookalikes(remove_invisible(resolve_bidi(text)))


@functools.cache
def _english_words() -> Any:
    """pyspellchecker's English word list (a frequency table), loaded the first time a spelt-out
    run starts with a one-letter word."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1).word_frequency


def _join_letters(match: re.Match) -> str:
    letters = match.group(0)[::2]
    # A run that starts with a one-letter word is either one word ("I s l a m", "a s s") or that
    # word and a spelt-out one ("I r e p o r t e d", "a p l a g u e"): the word list decides.
    if letters[0] in _ONE_LETTER_WORDS:
        counts = _english_words()
        # The list's rarest entries (counted 50 times: "abetter", "ss") are mostly fragments.
        if counts[letters.lower()] <= 50 < counts[letters[1:].lower()]:
            return f"{letters[0]} {letters[1:]}"
    return letters


def join_spaced_letters(text: str) -> str:
    """Words spelt out letter by letter joined again: "h a t e" -> "hate", "k.i.l.l" -> "kill",
    "I r e p o r t e d" -> "I reported"; two single letters ("a b") stay as they are."""
    return _SPACED.sub(_join_letters, text)


def _unleet(match: re.Match) -> str:
    word = match.group(0)
    if (
        len(word) < 3
        or not _LEET_HINT.search(word)
        or word[0] == "@"  # a user handle
        or any(char.isdigit() and char not in "013457" for char in word)
        or _NUMBER_WORD.fullmatch(word)
    ):
        return word
    return word.translate(_LEET)


def undo_leetspeak(text: str) -> str:
    """Leetspeak inside words written out: "1d10t" -> "idiot", "k1ll" -> "kill", "h@te" -> "hate".
    Numbers ("2024", "5 people"), ordinals and units ("1st", "5pm"), words with other digits
    ("b2b", "covid19") and handles keep their digits."""
    if not _LEET_HINT.search(text):
        return text
    return _LEET_WORD.sub(_unleet, text)


def deobfuscate_words(text: str) -> str:
    """Spelt-out words joined and leetspeak written out (after `deobfuscate_characters`)."""
    return undo_leetspeak(join_spaced_letters(text))


def deobfuscate(text: str) -> str:
    """Every step of `TextPrep.deobfuscate`: the text as a reader sees it, spelt plainly."""
    return deobfuscate_words(deobfuscate_characters(text))


_HANDLE = re.compile(r"(?:<user>|@\w{1,30})", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class TextPrep:
    """How texts are prepared; saved in a model's config.json and applied again when serving."""

    clean: bool = False
    emoji_names: bool = False
    # Undo obfuscation (`deobfuscate`). Off unless a model's config.json says so: a model trained
    # or exported before it existed keeps exactly the preparation it was measured with.
    deobfuscate: bool = False

    @property
    def active(self) -> bool:
        return self.clean or self.emoji_names or self.deobfuscate

    def with_deobfuscation(self) -> TextPrep:
        """The same preparation with obfuscation undone: what export writes into a model's
        config.json (`text_prep.deobfuscate: true`) to switch it on for serving."""
        return replace(self, deobfuscate=True)

    def to_dict(self) -> dict[str, bool]:
        data = asdict(self)
        # Left out when off, so configs written before the field existed are written unchanged.
        if not self.deobfuscate:
            del data["deobfuscate"]
        return data

    @classmethod
    def from_dict(cls, payload: dict | None) -> TextPrep:
        payload = payload or {}
        return cls(
            clean=bool(payload.get("clean", False)),
            emoji_names=bool(payload.get("emoji_names", False)),
            deobfuscate=bool(payload.get("deobfuscate", False)),
        )

    def __call__(self, text: str) -> str:
        # Characters first, so that handles, links and emoji are found in plain letters; words
        # after cleaning, so that the digits of links are not read as leetspeak.
        if self.deobfuscate:
            text = deobfuscate_characters(text)
        if self.clean:
            if "&" in text:
                text = html.unescape(text)
            text = _URL.sub(" http ", text)
            text = _HANDLE.sub(" @user ", text)
        if self.deobfuscate:
            text = deobfuscate_words(text)
        if self.emoji_names:
            # Every emoji the library knows holds a non-ASCII character, so ASCII text skips it:
            # demojize costs ~0.1 ms a text, as much as the int8 model at batch size 1. Underscores
            # become spaces in every text, as they did when the shipped models were trained.
            if not text.isascii():
                import emoji

                text = emoji.demojize(text, delimiters=(" ", " "))
            text = text.replace("_", " ")
        if self.active:
            text = _SPACES.sub(" ", text).strip()
        return text

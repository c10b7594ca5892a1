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
from dataclasses import asdict, dataclass

# Characters that show nothing: controls (Cc), format characters (Cf: zero-width space, soft
# hyphen, word joiner, byte-order mark, bidi marks) and separators (Z*). U+FFFD stands for bytes
# that were not text. A text made only of these scores exactly like the empty text, so the score
# would be about nothing.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
REPLACEMENT_CHARACTER = "\ufffd"
BLANK_MESSAGE = "text is blank (no visible character)"
# Lone UTF-16 surrogates fit in a Python str (JSON "\ud800", surrogateescape'd argv) but are not
# text: the tokenizer cannot take them, so they are refused by name instead of failing inside it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def is_blank(text: str) -> bool:
    """True when `text` has no visible character (empty, whitespace, controls, format characters
    or U+FFFD only). Stops at the first visible character, so ordinary texts cost one look."""
    return all(
        char.isspace()
        or char == REPLACEMENT_CHARACTER
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        for char in text
    )


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
    # Only planes 0, 1 and 14 hold controls, format characters or separators; skipping the rest
    # keeps this to a tenth of a second.
    codes = [*range(0x20000), *range(0xE0000, 0xE1000), None]
    for code in codes:
        # Surrogates stay out: a regex engine over Unicode scalar values (Rust's) refuses them.
        hidden = code is not None and not 0xD800 <= code <= 0xDFFF and is_blank(chr(code))
        if hidden and start is None:
            start = code
        elif not hidden and start is not None:
            first, last = _escape(start), _escape(code - 1)
            ranges.append(first if start == code - 1 else f"{first}-{last}")
            start = None
    return f"[^{''.join(ranges)}]"


_HANDLE = re.compile(r"(?:<user>|@\w{1,30})", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class TextPrep:
    """How texts are prepared; saved in a model's config.json and applied again when serving."""

    clean: bool = False
    emoji_names: bool = False

    @property
    def active(self) -> bool:
        return self.clean or self.emoji_names

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict | None) -> TextPrep:
        payload = payload or {}
        return cls(
            clean=bool(payload.get("clean", False)),
            emoji_names=bool(payload.get("emoji_names", False)),
        )

    def __call__(self, text: str) -> str:
        if self.clean:
            if "&" in text:
                text = html.unescape(text)
            text = _URL.sub(" http ", text)
            text = _HANDLE.sub(" @user ", text)
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

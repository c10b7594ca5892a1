"""What counts as a text worth scoring: the one rule the API, the page and the CLI share."""

import functools
import unicodedata

# Characters that show nothing: controls (Cc), format characters (Cf: zero-width space, soft
# hyphen, word joiner, byte-order mark, bidi marks) and separators (Z*). U+FFFD stands for bytes
# that were not text. A text made only of these scores exactly like the empty text, so the score
# would be about nothing.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
REPLACEMENT_CHARACTER = "\ufffd"
BLANK_MESSAGE = "text is blank (no visible character)"


def is_blank(text: str) -> bool:
    """True when `text` has no visible character (empty, whitespace, controls, format characters
    or U+FFFD only). Stops at the first visible character, so ordinary texts cost one look."""
    return all(
        char.isspace()
        or char == REPLACEMENT_CHARACTER
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        for char in text
    )


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

"""Text preparation shared by training and serving, so a model sees the same kind of text in both.

Multi-source models are trained on tweets, forum posts and hand-written sentences. Three habits of
those sources would otherwise become features the model learns instead of meaning: HTML entities
(`&amp;` in the Davidson tweets), user handles (`@someone` in tweets, `<user>` in HateXplain) and
links. They are undone or masked here. Emoji carry meaning in HatemojiBuild, but the MiniLM
vocabulary has none of them (they become [UNK]); `emoji_names` turns each into its English name
with the `emoji` library, e.g. "🔪" -> " kitchen knife ".
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass

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

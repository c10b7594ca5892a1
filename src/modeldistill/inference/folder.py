"""What a model folder says about itself: its labels (config.json), its tokenizer, the defaults
used when it has no inference.json."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from modeldistill.artifacts import (
    read_json_object,
)
from modeldistill.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5

DEFAULT_MAX_LENGTH = 128
# A text longer than the model's window is read sentence by sentence (a sentence longer than a
# window in overlapping windows); past this many passages it is refused (5,000 characters of
# ordinary prose are about 60 sentences).
DEFAULT_MAX_WINDOWS = 128
MAX_WINDOWS_HELP = (
    "passages read per text: a text longer than the model's window is read sentence by "
    "sentence (a sentence longer than a window in overlapping windows), and one that needs more "
    "is refused"
)


def window_overlap(max_length: int) -> int:
    """Tokens that consecutive windows share, so that a phrase cut at the end of one window is
    read whole at the start of the next."""
    return max_length // 4


def labels_from_config(config: dict[str, Any], path: Path) -> list[str]:
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        raise UserError(f"{path}/config.json has no id2label map")
    try:
        ids = sorted(int(key) for key in id2label)
    except ValueError as error:
        raise UserError(f"{path}/config.json id2label keys must be integers") from error
    if ids != list(range(len(ids))):
        raise UserError(f"{path}/config.json id2label ids must be 0..{len(ids) - 1}, got {ids}")
    labels = [str(id2label[str(i)] if str(i) in id2label else id2label[i]) for i in ids]
    label2id = config.get("label2id")
    if (
        isinstance(label2id, dict)
        and label2id
        and {k: int(v) for k, v in label2id.items()} != {label: i for i, label in enumerate(labels)}
    ):
        raise UserError(f"{path}/config.json label2id does not match id2label")
    return labels


def load_tokenizer(path: Path, max_length: int) -> tuple[Any, int]:
    """A fast (Rust) tokenizer that cuts texts into windows of max_length tokens, unpadded."""
    from tokenizers import Tokenizer

    try:
        if (path / "tokenizer.json").is_file():
            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        else:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True).backend_tokenizer
    except Exception as error:  # tokenizers and transformers raise many types for bad files
        raise UserError(f"cannot load the tokenizer in {path}: {error}") from error
    tokenizer.no_padding()
    # Overflowing tokens come back as further windows that share `window_overlap` tokens.
    tokenizer.enable_truncation(max_length, stride=window_overlap(max_length))
    padding = (
        read_json_object(path / "tokenizer_config.json")
        if (path / "tokenizer_config.json").is_file()
        else {}
    )
    pad_token = padding.get("pad_token") if isinstance(padding.get("pad_token"), str) else "[PAD]"
    pad_id = tokenizer.token_to_id(pad_token)
    return tokenizer, 0 if pad_id is None else pad_id

"""Model features for training: token ids per text, unpadded (the collator pads per batch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datasets


def tokenize(dataset: datasets.Dataset, tokenizer, max_length: int) -> datasets.Dataset:
    """Token ids without padding (the collator pads per batch) and a `length` column, which the
    length-grouped sampler reads instead of re-measuring every example."""

    def encode(batch: dict) -> dict:
        encoded = tokenizer(batch["text"], truncation=True, max_length=max_length)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return dataset.map(encode, batched=True, desc="tokenising", keep_in_memory=True)

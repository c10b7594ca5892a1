"""How a recipe's training split labels the texts that contain a word, per source.

    python scripts/word_labels.py bitches retards --data recipes/general-next-contrast.yaml

A word that the model misses as hate (`modeldistill check --misses`) is often one its sources
label otherwise: Davidson et al.'s "offensive" class, for one, maps to `not_hate`. Printed per
word and source: the training texts that contain it (whole word, any case, the text as published)
and how many of them are labelled each way, after the recipe's label maps and row caps.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

from modeldistill.data.config import DataConfig
from modeldistill.data.splits import load_splits, model_inputs
from modeldistill.settings import add_arguments, from_args

# Words to look up per call: each is a scan of the whole training split.
MAX_WORDS = 20


def word_labels(data: DataConfig, words: list[str], split: str = "train") -> dict[str, dict]:
    """{word: {source: {label: texts}}} on `split` of `data`."""
    dataset = load_splits(data)[split]
    names = dataset.features["label"].names
    texts, labels = model_inputs(dataset), dataset["label"]
    sources = dataset["source"] if "source" in dataset.column_names else ["data"] * len(texts)
    counts = {}
    for word in words:
        pattern = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
        found: dict[str, Counter] = {}
        for text, label, source in zip(texts, labels, sources, strict=True):
            if pattern.search(text):
                found.setdefault(source, Counter())[names[label]] += 1
        counts[word] = {source: dict(sorted(c.items())) for source, c in sorted(found.items())}
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="+", help=f"words to look up (at most {MAX_WORDS})")
    parser.add_argument("--split", default="train", choices=["train", "validation", "test"])
    add_arguments(parser, DataConfig)
    args = parser.parse_args()
    if not args.data:
        parser.error("--data is required: the recipe or files whose labels to read")
    if len(args.words) > MAX_WORDS:
        parser.error(f"at most {MAX_WORDS} words per call, got {len(args.words)}")
    counts = word_labels(from_args(DataConfig, args), args.words, args.split)
    print(f"| word | source | {args.split} texts with it | labelled |\n|---|---|---:|---|")
    for word, by_source in counts.items():
        if not by_source:
            print(f"| {word} | – | 0 | – |")
        for source, labelled in by_source.items():
            shown = ", ".join(f"{label} {n:,}" for label, n in labelled.items())
            print(f"| {word} | {source} | {sum(labelled.values()):,} | {shown} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

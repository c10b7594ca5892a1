"""The behavioural check's test sentences, generated from `templates.py`."""

from __future__ import annotations

from modeldistill.synthetic.check_frames import CASES, HATE, SPELLING_CASE, VARIANT_SOURCES
from modeldistill.synthetic.generate import VARIANT_NAMES, Sentence, expand, spell_variant
from modeldistill.synthetic.identity import identity_groups
from modeldistill.synthetic.support_frames import SUPPORT_CASES


def check_sentences() -> list[Sentence]:
    """All check sentences: each case for each group, plus spelling variants of hateful ones, plus
    the identity case types for each identity group.

    Variants cycle through the four kinds, so every kind meets every group and case type."""
    expanded = expand(CASES)
    sentences = [sentence for sentence, _ in expanded]
    hateful = [(s, marked) for s, marked in expanded if s.case in VARIANT_SOURCES]
    for index, (sentence, marked) in enumerate(hateful):
        text, variant = spell_variant(marked, VARIANT_NAMES[index % len(VARIANT_NAMES)])
        sentences.append(
            Sentence(text, HATE, SPELLING_CASE, sentence.group, sentence.frame, variant)
        )
    # The identity case types, for every group of the bias measurement (`identity.py`).
    sentences += [sentence for sentence, _ in expand(SUPPORT_CASES, identity_groups())]
    return sentences

"""The label scheme of the product's binary task, written once.

Several-source data is mapped onto `hate` / `not_hate` (ids 0 = not_hate, 1 = hate); a model with a
`hate` label is scored hate-vs-rest against any data with one, and `hate` is the default toxic
label of an export.
"""

from __future__ import annotations

HATE = "hate"
NOT_HATE = "not_hate"
# Label ids of a several-source model: not_hate = 0, hate = 1.
BINARY_LABELS = (NOT_HATE, HATE)
DEFAULT_TOXIC_LABEL = HATE

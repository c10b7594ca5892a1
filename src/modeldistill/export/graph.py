"""Reads of an ONNX graph shared by export's rewrites (export.onnx, export.outliers), apart from
both so that neither imports the other."""

from __future__ import annotations

from typing import Any


def tensor_consumers(graph: Any) -> dict[str, list[Any]]:
    """The nodes of an ONNX graph that read each tensor, by tensor name."""
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers

"""The integer reference on a frozen ONNX model, with dequantized views: the deploy path's view of a
model (compile, run, validate, bench), without torch."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.config import INPUT_SCALE
from . import reference
from .onnx_import import load_intgraph


class IntModel:
    """The integer reference on the frozen ONNX model, with dequantized views."""

    def __init__(self, onnx_path: str | Path):
        self.graph = load_intgraph(onnx_path)
        self.den_name, self.logit_name = self.graph.outputs[:2]

    def dequant(self, name, q):
        t = self.graph.tensors[name]
        return (q.astype(np.float64) - t.zero_point) * t.scale

    def __call__(self, x: np.ndarray):
        out = reference.run(self.graph, x)
        d, l = out[self.den_name], out[self.logit_name]
        return self.dequant(self.den_name, d) / INPUT_SCALE, self.dequant(self.logit_name, l), (d, l)

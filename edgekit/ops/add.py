"""add: a int8 + b int8, equal shapes -> y int8,
y = y_zp + round(((a - a_zp) * ma + (b - b_zp) * mb) >> n); attrs a_zp, b_zp, y_zp, ma, mb, n.
(Right after a conv1d / conv_transpose1d / dense it is fused into that kernel, steps.py.)"""
from __future__ import annotations

import numpy as np

from ..ir.intgraph import IntGraph, Op, UnsupportedModelError
from . import _common as c
from . import _elementwise as ew
from .kernel import Kernel

KIND = "add"
FUSES_ADD = False
ELEMENTWISE = True


def check(op: Op, graph: IntGraph) -> None:
    a, b = (graph.tensors[t] for t in op.inputs)
    if a.shape != b.shape:
        raise UnsupportedModelError(f"layer {op.name!r}: add needs equal shapes, got {a.shape}, {b.shape}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return int(np.prod(tensors[op.inputs[0]].shape))


def acc_bound(op: Op, graph: IntGraph) -> int:
    return 0


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    return ew.reference(op, args[0], args[1], lambda da, db: da * op.attrs["ma"] + db * op.attrs["mb"])


def describe(op: Op, graph: IntGraph) -> str:
    return ew.describe(op, graph)


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    return ew.make_kernel(k, graph)


def build(k: Kernel, graph: IntGraph):
    ma, mb = int(k.op.attrs["ma"]), int(k.op.attrs["mb"])
    return ew.build(k, graph, lambda da, db: da.astype("int64") * ma + db.astype("int64") * mb)

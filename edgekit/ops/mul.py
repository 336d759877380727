"""mul: a int8 (C, L) * b int8 (C, L) or (C, 1) broadcast over time -> y int8,
y = y_zp + round((a - a_zp) * (b - b_zp) * M0 >> n); attrs a_zp, b_zp, y_zp, m, n (int64 math)."""
from __future__ import annotations

import numpy as np

from ..ir.intgraph import IntGraph, Op, UnsupportedModelError
from . import _common as c
from . import _elementwise as ew
from .kernel import Kernel

KIND = "mul"
FUSES_ADD = False
ELEMENTWISE = True


def check(op: Op, graph: IntGraph) -> None:
    a, b = (graph.tensors[t] for t in op.inputs)
    if b.shape != a.shape and (len(a.shape) != 2 or tuple(b.shape) != (a.shape[0], 1)):
        raise UnsupportedModelError(f"layer {op.name!r}: mul supports equal shapes or (C, 1), "
                                    f"got {a.shape} * {b.shape}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return int(np.prod(tensors[op.inputs[0]].shape))


def acc_bound(op: Op, graph: IntGraph) -> int:
    return 0  # int64 arithmetic, nothing accumulates


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    return ew.reference(op, args[0], args[1], lambda da, db: da * db * op.attrs["m"])


def describe(op: Op, graph: IntGraph) -> str:
    return ew.describe(op, graph)


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    return ew.make_kernel(k, graph)


def build(k: Kernel, graph: IntGraph):
    m = int(k.op.attrs["m"])
    return ew.build(k, graph, lambda da, db: (da * db).astype("int64") * m)

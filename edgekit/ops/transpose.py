"""transpose: x int8 (C, L) -> y int8 (L, C), y[t, c] = x[c, t] (a Transpose that moves data;
one that moves none is a view, see IntGraph.views)."""
from __future__ import annotations

import numpy as np

from ..ir.intgraph import IntGraph, Op
from . import _common as c
from .kernel import Kernel

KIND = "transpose"
FUSES_ADD = False
ELEMENTWISE = False


def check(op: Op, graph: IntGraph) -> None:
    x = graph.tensors[op.inputs[0]]
    c.two_d(op, x)
    c.expect_shape(op, graph, (x.shape[1], x.shape[0]), f"the transpose of {x.shape}")
    if tuple(graph.tensors[op.outputs[0]].shape) != (x.shape[1], x.shape[0]):
        c.unsupported(op, f"output shape {graph.tensors[op.outputs[0]].shape} is not the transpose of {x.shape}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return 0


def acc_bound(op: Op, graph: IntGraph) -> int:
    return 0


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(args[0], 1, 2))


def describe(op: Op, graph: IntGraph) -> str:
    return ""


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    k.add_input("x", graph.tensors[k.op.inputs[0]])
    k.add_output(graph.tensors[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te

    x = c.placeholders(k)["x"]
    ch, length = (int(v) for v in x.shape)
    y = te.compute((length, ch), lambda t, cc: x[cc, t], name="y")
    return [x, y], None

"""lut: x int8 -> y int8 = table[x + 128] (sigmoid and other element-wise functions,
tabulated at export); params table int8 (256,)."""
from __future__ import annotations

import numpy as np

from ..ir.intgraph import IntGraph, Op
from . import _common as c
from .kernel import Kernel

KIND = "lut"
FUSES_ADD = False
ELEMENTWISE = True     # y[i] depends on x[i] only: y may overwrite x (planner.py)


def check(op: Op, graph: IntGraph) -> None:
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return 0


def acc_bound(op: Op, graph: IntGraph) -> int:
    return 0


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    return op.params["table"][args[0].astype(np.int16) + 128]


def describe(op: Op, graph: IntGraph) -> str:
    return ""


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    k.add_input("x", graph.tensors[k.op.inputs[0]])
    k.add_const("table", k.op.params["table"], "y = table[x + 128]")
    k.add_output(graph.tensors[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te

    n = int(np.prod(graph.tensors[k.op.inputs[0]].shape))
    x = te.placeholder((n,), "int8", "x")
    table = c.placeholders(k)["table"]
    y = te.compute((n,), lambda i: table[x[i].astype("int32") + 128], name="y")
    return [x, table, y], None

"""global_sum: x int8 (C, L) -> y int32 (C,) = sum_t (x - x_zp); attrs x_zp, length.
(The int32 sum of a global average pool; the dense after it folds in the 1/L.)"""
from __future__ import annotations

import numpy as np

from ..ir.intgraph import IntGraph, Op, UnsupportedModelError
from . import _common as c
from .kernel import Kernel

KIND = "global_sum"
FUSES_ADD = False
ELEMENTWISE = False


def check(op: Op, graph: IntGraph) -> None:
    x = graph.tensors[op.inputs[0]]
    if len(x.shape) != 2 or x.shape[1] != op.attrs["length"]:
        raise UnsupportedModelError(f"layer {op.name!r}: global_sum over {x.shape}, length {op.attrs['length']}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return int(np.prod(tensors[op.inputs[0]].shape))


def acc_bound(op: Op, graph: IntGraph) -> int:
    return int(op.attrs["length"]) * max(128, c.int8_dev(int(op.attrs["x_zp"])))


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    return (args[0].astype(np.int64) - op.attrs["x_zp"]).sum(axis=-1)


def describe(op: Op, graph: IntGraph) -> str:
    return f"length {op.attrs['length']}, x_zp={op.attrs['x_zp']}"


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    k.add_input("x", graph.tensors[k.op.inputs[0]])
    k.add_output(graph.tensors[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te

    ph = c.placeholders(k)
    x = ph["x"]
    ch, length = (int(v) for v in x.shape)
    rt = te.reduce_axis((0, length), "t")
    acc = te.compute((ch,), lambda c: te.sum(x[c, rt].astype("int32"), axis=[rt]), name="acc")
    y = te.compute((ch,), lambda c: acc[c] - length * int(k.op.attrs["x_zp"]), name="y")
    return [x, y], c.reduction_schedule(1, length, False)

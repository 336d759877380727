"""mean: x int8 (C, L) -> y int8 (C, 1) = requantize(sum_t (x - x_zp), m, n, y_zp), the 1/L
folded into m, n and an exact tie rounded to even (a global average pool or ReduceMean /
ReduceSum over time whose result is quantized; attrs x_zp, y_zp, m, n, length)."""
from __future__ import annotations

import numpy as np

from ..ir.arithmetic import requantize_half_even
from ..ir.intgraph import IntGraph, Op
from . import _common as c
from .kernel import Kernel

KIND = "mean"
FUSES_ADD = False
ELEMENTWISE = False


def check(op: Op, graph: IntGraph) -> None:
    x = graph.tensors[op.inputs[0]]
    c.two_d(op, x)
    if x.shape[1] != op.attrs["length"]:
        c.unsupported(op, f"mean over {x.shape} with length {op.attrs['length']}")
    c.expect_shape(op, graph, (x.shape[0], 1), f"mean over time of {x.shape}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return int(np.prod(tensors[op.inputs[0]].shape))


def acc_bound(op: Op, graph: IntGraph) -> int:
    return int(op.attrs["length"]) * max(128, c.int8_dev(int(op.attrs["x_zp"])))


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    a = op.attrs
    acc = (args[0].astype(np.int64) - a["x_zp"]).sum(axis=-1, keepdims=True)
    return requantize_half_even(acc, a["m"], a["n"], a["y_zp"])


def describe(op: Op, graph: IntGraph) -> str:
    a = op.attrs
    return f"length {a['length']}, x_zp={a['x_zp']} y_zp={a['y_zp']}"


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    k.add_input("x", graph.tensors[k.op.inputs[0]])
    k.add_output(graph.tensors[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te

    a = k.op.attrs
    x = c.placeholders(k)["x"]
    ch, length = (int(v) for v in x.shape)
    rt = te.reduce_axis((0, length), "t")
    acc = te.compute((ch,), lambda cc: te.sum(x[cc, rt].astype("int32"), axis=[rt]), name="acc")
    y = te.compute((ch, 1), lambda cc, _: c.te_requantize(acc[cc] - length * int(a["x_zp"]), a["m"], a["n"],
                                                            a["y_zp"], half_even=True), name="y")
    return [x, y], c.reduction_schedule(1, length, False)

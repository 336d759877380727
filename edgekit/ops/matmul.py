"""matmul: x int8 (R, I) -> y int8 (R, O): a dense layer applied to each row (ONNX MatMul
with a constant right operand, e.g. torch's Linear over the last axis of a (C, L) tensor);
w int8 (O, I), per-output requantize as dense (optionally with a fused Relu/LeakyReLU);
attrs rows, x_zp, y_zp."""
from __future__ import annotations

import numpy as np

from ..ir.intgraph import IntGraph, Op
from . import _common as c
from . import dense
from .kernel import Kernel

KIND = "matmul"
FUSES_ADD = False
ELEMENTWISE = False


def check(op: Op, graph: IntGraph) -> None:
    x = graph.tensors[op.inputs[0]]
    o, i = op.params["w"].shape
    rows = int(op.attrs["rows"])
    if int(np.prod(x.shape)) != rows * i:
        c.unsupported(op, f"matmul input {x.shape} is not {rows} rows of {i}")
    c.expect_shape(op, graph, (rows, o), f"{rows} rows times w {(o, i)}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return int(op.params["w"].size) * int(op.attrs["rows"])


folded_bias = dense.folded_bias
acc_bound = dense.acc_bound


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    a, p = op.attrs, op.params
    x = args[0].reshape(args[0].shape[0], int(a["rows"]), -1)
    xf = x.astype(np.float64) - a["x_zp"]
    acc = c.exact(xf @ p["w"].astype(np.float64).T) + p["bias"].astype(np.int64)
    return c.epilogue(acc, p, a["y_zp"], channel_axis=2)


def describe(op: Op, graph: IntGraph) -> str:
    return c.describe_mac(op, f"{op.attrs['rows']} rows")


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    return c.mac_kernel(k, graph, k.op.params["w"], folded_bias(k.op), c.bias_note(k.op))


def build(k: Kernel, graph: IntGraph):
    from tvm import te

    ph = c.placeholders(k)
    w = ph["w"]
    o_, i_ = (int(v) for v in w.shape)
    rows = int(k.op.attrs["rows"])
    ph["x"] = x = te.placeholder((rows, i_), "int8", "x")
    ri = te.reduce_axis((0, i_), "i")
    acc = te.compute((rows, o_), lambda r, o: te.sum(x[r, ri].astype("int32") * w[o, ri].astype("int32"), axis=[ri]),
                     name="acc")
    requant = c.te_requant(k, ph)
    y = te.compute((rows, o_), lambda r, o: requant(acc[r, o], ph["bias"][o], o), name="y")
    return [ph[g.cname] for g in k.args[:-1]] + [y], c.reduction_schedule(2, c.MAX_UNROLL + 1, False)

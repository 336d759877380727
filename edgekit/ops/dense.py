"""dense: x int8 or int32 (Ci,) -> y int8 (Co,) or (Co, 1), w int8 (Co, Ci); requantize as
conv1d. An int32 input is a global_sum (the 1/L of an average pool is folded into the
multiplier), with x_zp = 0.

Generic kernel: acc[o] = sum_i x[i] * w[o,i], x_zp folded into the bias."""
from __future__ import annotations

import numpy as np

from ..ir.intgraph import IntGraph, Op, UnsupportedModelError
from . import _common as c
from .kernel import Kernel

KIND = "dense"
FUSES_ADD = True
ELEMENTWISE = False


def check(op: Op, graph: IntGraph) -> None:
    x = graph.tensors[op.inputs[0]]
    co, cin = op.params["w"].shape
    if int(np.prod(x.shape)) != cin:
        raise UnsupportedModelError(f"layer {op.name!r}: dense input {x.shape} does not match w {(co, cin)}")
    c.expect_shape(op, graph, (co,), f"w {(co, cin)}")
    if x.dtype == "int32":
        c.input_bound(op, graph)  # raises unless a global_sum makes it


def macs(op: Op, tensors) -> int:
    return int(op.params["w"].size)


def folded_bias(op: Op) -> np.ndarray:
    w = op.params["w"].astype(np.int64)
    return op.params["bias"].astype(np.int64) - int(op.attrs.get("x_zp", 0)) * w.reshape(w.shape[0], -1).sum(axis=1)


def acc_bound(op: Op, graph: IntGraph) -> int:
    wsum = np.abs(op.params["w"].astype(np.int64)).reshape(op.params["w"].shape[0], -1).sum(axis=1)
    return c.mac_acc_bound(op, graph, wsum, folded_bias(op))


def reference(op: Op, args: list, graph: IntGraph | None = None, out_shape=None) -> np.ndarray:
    x = args[0]
    a, p = op.attrs, op.params
    if out_shape is None:
        out_shape = graph.tensors[op.outputs[0]].shape
    xf = x.reshape(x.shape[0], -1).astype(np.float64) - a["x_zp"]
    acc = c.exact(xf @ p["w"].astype(np.float64).T) + p["bias"].astype(np.int64)[None, :]
    return c.epilogue(acc, p, a["y_zp"], channel_axis=1).reshape((x.shape[0],) + tuple(out_shape))


def describe(op: Op, graph: IntGraph) -> str:
    return c.describe_mac(op, f"{graph.tensors[op.inputs[0]].dtype} input")


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    return c.mac_kernel(k, graph, k.op.params["w"], folded_bias(k.op), c.bias_note(k.op))


def build(k: Kernel, graph: IntGraph):
    from tvm import te

    ph = c.placeholders(k)
    w = ph["w"]
    co, ci = (int(v) for v in w.shape)
    ph["x"] = x = te.placeholder((ci,), k.args[0].dtype, "x")
    if k.step.post is not None:
        ph["skip"] = te.placeholder((co,), "int8", "skip")
    ri = te.reduce_axis((0, ci), "i")
    acc = te.compute((co,), lambda o: te.sum(x[ri].astype("int32") * w[o, ri].astype("int32"), axis=[ri]),
                     name="acc")
    requant = c.te_requant(k, ph)
    y = te.compute((co,), lambda o: requant(acc[o], ph["bias"][o], o), name="y")
    return [ph[g.cname] for g in k.args[:-1]] + [y], c.reduction_schedule(1, c.MAX_UNROLL + 1, False)

"""maxpool: x int8 (C, L) -> y int8 (C, Lo): the largest of K taps at stride s, with padding
that never wins (ONNX MaxPool, GlobalMaxPool, ReduceMax over time); attrs kernel, stride,
pad=(left, right), x_zp, y_zp, and m, n when the output has other quantization parameters
(y = requantize(max - x_zp, m, n, y_zp), else y = max)."""
from __future__ import annotations

import numpy as np

from ..ir.arithmetic import INT8_MIN, requantize
from ..ir.intgraph import IntGraph, Op
from . import _common as c
from .kernel import Kernel

KIND = "maxpool"
FUSES_ADD = False
ELEMENTWISE = False


def out_length(length: int, kernel: int, stride: int, pad) -> int:
    return (length + pad[0] + pad[1] - kernel) // stride + 1


def windows(x: np.ndarray, kernel: int, stride: int, pad, fill) -> np.ndarray:
    """(N, C, Lo, K) windows of x (N, C, L) padded with `fill`."""
    from numpy.lib.stride_tricks import sliding_window_view

    xp = np.pad(x, ((0, 0), (0, 0), tuple(pad)), constant_values=fill)
    return sliding_window_view(xp, kernel, axis=2)[:, :, ::stride, :]


def check(op: Op, graph: IntGraph) -> None:
    a = op.attrs
    x = graph.tensors[op.inputs[0]]
    c.two_d(op, x)
    if a["kernel"] < 1 or a["stride"] < 1 or max(a["pad"]) >= a["kernel"]:
        c.unsupported(op, f"kernel {a['kernel']}, stride {a['stride']}, pad {tuple(a['pad'])}: the padding "
                          f"must be shorter than the kernel")
    c.expect_shape(op, graph, (x.shape[0], out_length(x.shape[1], a["kernel"], a["stride"], a["pad"])),
                   f"L={x.shape[1]} K={a['kernel']} stride {a['stride']} pad {tuple(a['pad'])}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return 0


def acc_bound(op: Op, graph: IntGraph) -> int:
    return 0


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    a = op.attrs
    y = windows(args[0].astype(np.int64), a["kernel"], a["stride"], a["pad"], INT8_MIN).max(axis=-1)
    if "m" in a:
        return requantize(y - a["x_zp"], a["m"], a["n"], a["y_zp"])
    return y.astype(np.int8)


def describe(op: Op, graph: IntGraph) -> str:
    a = op.attrs
    re = f", requantized x_zp={a['x_zp']} y_zp={a['y_zp']}" if "m" in a else ""
    return f"K={a['kernel']} stride={a['stride']} pad={tuple(a['pad'])}{re}"


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    k.add_input("x", graph.tensors[k.op.inputs[0]])
    k.add_output(graph.tensors[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te, tirx

    a = k.op.attrs
    x = c.placeholders(k)["x"]
    ch, length = (int(v) for v in x.shape)
    kk, s, (pl, pr) = int(a["kernel"]), int(a["stride"]), (int(v) for v in a["pad"])
    lo = out_length(length, kk, s, (pl, pr))
    if pl or pr:
        pad = te.compute((ch, length + pl + pr), lambda cc, t: tirx.if_then_else(
            tirx.all(t >= pl, t < length + pl), x[cc, t - pl], tirx.const(INT8_MIN, "int8")), name="pad")
    else:
        pad = x
    rk = te.reduce_axis((0, kk), "k")
    acc = te.compute((ch, lo), lambda cc, t: te.max(pad[cc, t * s + rk].astype("int32"), axis=[rk]), name="acc")
    if "m" in a:
        y = te.compute((ch, lo), lambda cc, t: c.te_requantize(acc[cc, t] - int(a["x_zp"]), a["m"], a["n"],
                                                                 a["y_zp"]), name="y")
    else:
        y = te.compute((ch, lo), lambda cc, t: acc[cc, t].astype("int8"), name="y")
    return [x, y], c.reduction_schedule(2, kk, bool(pl or pr))

"""avgpool: x int8 (C, L) -> y int8 (C, Lo): the sum of (x - x_zp) over K taps at stride s
divided by the window's count (K, or the taps inside the input when count_include_pad=0),
requantized with one rounding, an exact tie to even (arithmetic.requantize_half_even).
attrs kernel, stride, pad, count_include_pad, x_zp, y_zp; params m, n int32 (K,): the
multiplier x_scale / (y_scale * c) for count c at index c - 1."""
from __future__ import annotations

import numpy as np

from ..ir.arithmetic import quantize_multiplier, requantize_half_even
from ..ir.intgraph import IntGraph, Op
from . import _common as c
from . import maxpool
from .kernel import Kernel

KIND = "avgpool"
FUSES_ADD = False
ELEMENTWISE = False


def multipliers(x_scale: float, y_scale: float, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """(M0, n) for each count c = 1..K: the real multiplier x_scale / (y_scale * c)."""
    pairs = [quantize_multiplier(x_scale / (y_scale * cnt)) for cnt in range(1, kernel + 1)]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


def counts(op: Op, length: int) -> np.ndarray:
    """The divisor of each output time."""
    a = op.attrs
    kk, s, pl = a["kernel"], a["stride"], a["pad"][0]
    lo = maxpool.out_length(length, kk, s, a["pad"])
    if a.get("count_include_pad", 0):
        return np.full(lo, kk, np.int64)
    start = np.arange(lo) * s - pl
    return np.minimum(start + kk, length) - np.maximum(start, 0)


def check(op: Op, graph: IntGraph) -> None:
    maxpool.check(op, graph)


def macs(op: Op, tensors) -> int:
    return int(np.prod(tensors[op.outputs[0]].shape)) * int(op.attrs["kernel"])


def acc_bound(op: Op, graph: IntGraph) -> int:
    return int(op.attrs["kernel"]) * max(128, c.int8_dev(int(op.attrs["x_zp"])))


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    a, p = op.attrs, op.params
    xc = args[0].astype(np.int64) - a["x_zp"]
    acc = maxpool.windows(xc, a["kernel"], a["stride"], a["pad"], 0).sum(axis=-1)
    i = counts(op, args[0].shape[-1]) - 1
    return requantize_half_even(acc, p["m"].astype(np.int64)[i], p["n"].astype(np.int64)[i], a["y_zp"])


def describe(op: Op, graph: IntGraph) -> str:
    a = op.attrs
    return (f"K={a['kernel']} stride={a['stride']} pad={tuple(a['pad'])} count_include_pad="
            f"{a.get('count_include_pad', 0)}, x_zp={a['x_zp']} y_zp={a['y_zp']}")


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    op = k.op
    i = counts(op, graph.tensors[op.inputs[0]].shape[-1]) - 1
    k.add_input("x", graph.tensors[op.inputs[0]])
    k.add_const("m", op.params["m"][i], "requantize multiplier M0 of each output time (1/count folded in)")
    k.add_const("n", op.params["n"][i], "requantize shift n of each output time")
    k.add_output(graph.tensors[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te, tirx

    a = k.op.attrs
    ph = c.placeholders(k)
    x = ph["x"]
    ch, length = (int(v) for v in x.shape)
    kk, s, (pl, pr), xzp = int(a["kernel"]), int(a["stride"]), (int(v) for v in a["pad"]), int(a["x_zp"])
    lo = maxpool.out_length(length, kk, s, (pl, pr))
    if pl or pr:
        pad = te.compute((ch, length + pl + pr), lambda cc, t: tirx.if_then_else(
            tirx.all(t >= pl, t < length + pl), x[cc, t - pl], tirx.const(xzp, "int8")), name="pad")
    else:
        pad = x
    rk = te.reduce_axis((0, kk), "k")
    acc = te.compute((ch, lo), lambda cc, t: te.sum(pad[cc, t * s + rk].astype("int32"), axis=[rk]), name="acc")
    y = te.compute((ch, lo), lambda cc, t: c.te_requantize(acc[cc, t] - kk * xzp, ph["m"][t], ph["n"][t],
                                                             a["y_zp"], half_even=True), name="y")
    return [x, ph["m"], ph["n"], y], c.reduction_schedule(2, kk, bool(pl or pr))

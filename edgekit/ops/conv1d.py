"""conv1d: x int8 (Ci, L) -> y int8 (Co, Lo), w int8 (Co, Ci/G, K), stride, pad=(left, right),
optional group G (output channel o reads input channels g*Ci/G .. (g+1)*Ci/G - 1 with
g = o // (Co/G); G = Ci = Co is depthwise) and dilation d (taps d samples apart),
per-channel requantize with an optional fused LeakyReLU or Relu (and a fused skip add, steps.py).

Generic kernel: acc[o,t] = sum_{c,k} pad(x)[g*Ci/G + c, t*s + k*d] * w[o,c,k], pad(x) = x
inside the input and x_zp outside (inlined into the reduction: no padded copy); x_zp is
folded into the bias (sum (x - zp) * w = sum x * w - zp * sum w)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ir.intgraph import IntGraph, Op
from . import _common as c
from .kernel import Kernel

KIND = "conv1d"
FUSES_ADD = True       # a skip add right after it can run in its output loop
ELEMENTWISE = False


def out_length(length: int, k: int, stride: int, pad, dilation: int = 1) -> int:
    return (length + pad[0] + pad[1] - dilation * (k - 1) - 1) // stride + 1


def group_dilation(op: Op) -> tuple[int, int]:
    return int(op.attrs.get("group", 1)), int(op.attrs.get("dilation", 1))


def check(op: Op, graph: IntGraph) -> None:
    x = graph.tensors[op.inputs[0]]
    c.two_d(op, x)
    (ci, length), (co, cig, k) = x.shape, op.params["w"].shape
    g, d = group_dilation(op)
    if g < 1 or d < 1 or ci % g or co % g or cig * g != ci:
        c.unsupported(op, f"group {g} does not divide {ci} input and {co} output channels with weights "
                          f"{op.params['w'].shape}")
    pad, s = tuple(op.attrs["pad"]), op.attrs["stride"]
    c.expect_shape(op, graph, (co, out_length(length, k, s, pad, d)),
                   f"Ci={ci} L={length} K={k} stride {s} pad {pad} group {g} dilation {d}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    co, ci, k = op.params["w"].shape
    return co * ci * k * tensors[op.outputs[0]].shape[1]


def folded_bias(op: Op) -> np.ndarray:
    """int64 (Co,): bias - x_zp * sum(w)."""
    w = op.params["w"].astype(np.int64)
    return op.params["bias"].astype(np.int64) - int(op.attrs.get("x_zp", 0)) * w.reshape(w.shape[0], -1).sum(axis=1)


def acc_bound(op: Op, graph: IntGraph) -> int:
    wsum = np.abs(op.params["w"].astype(np.int64)).reshape(op.params["w"].shape[0], -1).sum(axis=1)
    return c.mac_acc_bound(op, graph, wsum, folded_bias(op))


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    x = args[0]
    a, p = op.attrs, op.params
    g, d = group_dilation(op)
    w = p["w"].astype(np.float64)  # (Co, Ci/G, K)
    co, cig, k = w.shape
    xc = x.astype(np.float64) - a["x_zp"]  # padding (x_zp) becomes a real 0
    xc = np.pad(xc, ((0, 0), (0, 0), tuple(a["pad"])))
    patches = sliding_window_view(xc, d * (k - 1) + 1, axis=2)[:, :, :: a["stride"], ::d]  # (N, Ci, Lo, K)
    patches = patches.reshape(x.shape[0], g, cig, patches.shape[2], k)
    acc = c.exact(np.einsum("ngclk,gdck->ngdl", patches, w.reshape(g, co // g, cig, k), optimize=True))
    acc = acc.reshape(x.shape[0], co, -1) + p["bias"].astype(np.int64)[None, :, None]
    return c.epilogue(acc, p, a["y_zp"], channel_axis=1)


def describe(op: Op, graph: IntGraph) -> str:
    a = op.attrs
    g, d = group_dilation(op)
    extra = (f" group={g}" if g != 1 else "") + (f" dilation={d}" if d != 1 else "")
    return c.describe_mac(op, f"K={op.params['w'].shape[2]} stride={a['stride']} pad={tuple(a['pad'])}{extra}")


def time_split(op: Op, graph: IntGraph) -> tuple[int, int] | None:
    """[a, b): the output times whose taps all read inside the input (no padding test)."""
    lin = int(graph.tensors[op.inputs[0]].shape[1])
    lo = int(graph.tensors[op.outputs[0]].shape[1])
    s, pl = int(op.attrs["stride"]), int(op.attrs["pad"][0])
    k = group_dilation(op)[1] * (int(op.params["w"].shape[2]) - 1) + 1   # the span of the taps
    a = -(-pl // s)                        # t*s - pl >= 0
    b = (lin + pl - k) // s + 1            # t*s + k - 1 - pl < lin
    a, b = max(0, min(a, lo)), max(0, min(b, lo))
    if b <= a or (a == 0 and b == lo):
        return None
    return a, b


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    op = k.op
    c.mac_kernel(k, graph, op.params["w"], folded_bias(op), c.bias_note(op))
    k.time_split = time_split(op, graph)
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te, tirx

    op, a = k.op, k.op.attrs
    ph = c.placeholders(k)
    x, w = ph["x"], ph["w"]
    ci, length = (int(s) for s in x.shape)
    co, cig, kk = (int(s) for s in w.shape)
    g, d = group_dilation(op)
    s, (pl, pr), xzp = int(a["stride"]), (int(v) for v in a["pad"]), int(a["x_zp"])
    lo = int(graph.tensors[op.outputs[0]].shape[1])
    i32 = lambda e: e.astype("int32")  # noqa: E731
    if pl or pr:
        pad = te.compute((ci, length + pl + pr), lambda ch, t: tirx.if_then_else(
            tirx.all(t >= pl, t < length + pl), x[ch, t - pl], tirx.const(xzp, "int8")), name="pad")
    else:
        pad = x
    rc, rk = te.reduce_axis((0, cig), "c"), te.reduce_axis((0, kk), "k")
    per_group = co // g

    def chan(o):
        return rc if g == 1 else (o // per_group) * cig + rc
    acc = te.compute((co, lo), lambda o, t: te.sum(i32(pad[chan(o), t * s + rk * d]) * i32(w[o, rc, rk]),
                                                   axis=[rc, rk]), name="acc")
    requant = c.te_requant(k, ph)
    y = te.compute((co, lo), lambda o, t: requant(acc[o, t], ph["bias"][o], o, t), name="y")
    return [ph[g.cname] for g in k.args[:-1]] + [y], c.reduction_schedule(2, kk, bool(pl or pr))

"""conv_transpose1d: x int8 (Ci, L) -> y int8 (Co, Lo), w int8 (Ci, Co, K) (ONNX layout),
stride, pad=(begin, end), output_padding; requantize as conv1d.

Generic kernel, gather form, no zero insertion: with q = (t + pad_begin) / s and
r = (t + pad_begin) % s, acc[o,t] = sum_{c,m} x[c, q - m] * w[c, o, r + s*m] over
r + s*m < K (x[c, j] = x_zp outside 0 <= j < L_in), plus bias[o, r] (x_zp folded in per
output phase). Only the ceil(K/s) taps of the output's phase are visited, for any pad."""
from __future__ import annotations

import numpy as np

from ..ir.intgraph import IntGraph, Op
from . import _common as c
from .kernel import Kernel

KIND = "conv_transpose1d"
FUSES_ADD = True
ELEMENTWISE = False


def check(op: Op, graph: IntGraph) -> None:
    (ci, length), (_, co, k) = graph.tensors[op.inputs[0]].shape, op.params["w"].shape
    pb, pe = op.attrs["pad"]
    s = op.attrs["stride"]
    lo = (length - 1) * s + k + op.attrs.get("output_padding", 0) - pb - pe
    c.expect_shape(op, graph, (co, lo), f"L={length} K={k} stride {s} pad {(pb, pe)}")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    ci, co, k = op.params["w"].shape
    return ci * co * k * tensors[op.inputs[0]].shape[1]


def folded_bias(op: Op) -> np.ndarray:
    """int64 (Co, stride): one bias per output phase r = (t + pad_begin) % stride, since a
    phase only uses the taps k = r + stride * m < K."""
    s, zp = int(op.attrs["stride"]), int(op.attrs.get("x_zp", 0))
    w = op.params["w"].astype(np.int64)
    per_phase = np.stack([w[:, :, r::s].sum(axis=(0, 2)) for r in range(s)], axis=1)  # (Co, s)
    return op.params["bias"].astype(np.int64)[:, None] - zp * per_phase


def acc_bound(op: Op, graph: IntGraph) -> int:
    s = int(op.attrs["stride"])
    w = np.abs(op.params["w"].astype(np.int64))  # (Ci, Co, K)
    wsum = np.max([w[:, :, r::s].sum(axis=(0, 2)) for r in range(s)], axis=0)
    return c.mac_acc_bound(op, graph, wsum, folded_bias(op))


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    """Each input sample scatters K taps at stride s, then `pad` is cropped (ONNX semantics);
    no zero insertion, so any pad % stride works."""
    a, p = op.attrs, op.params
    w = p["w"].astype(np.float64)  # (Ci, Co, K)
    s, (pb, pe), opad = a["stride"], a["pad"], a.get("output_padding", 0)
    xc = args[0].astype(np.float64) - a["x_zp"]
    n, _, lin = xc.shape
    k = w.shape[2]
    full_len = (lin - 1) * s + k + opad
    taps = np.einsum("ncl,cdk->kndl", xc, w, optimize=True)  # (K, N, Co, Lin)
    full = np.zeros((n, w.shape[1], full_len))
    for j in range(k):
        full[:, :, j : j + (lin - 1) * s + 1 : s] += taps[j]
    acc = c.exact(full[:, :, pb : full_len - pe]) + p["bias"].astype(np.int64)[None, :, None]
    return c.epilogue(acc, p, a["y_zp"], channel_axis=1)


def describe(op: Op, graph: IntGraph) -> str:
    a = op.attrs
    return c.describe_mac(op, f"K={op.params['w'].shape[2]} stride={a['stride']} pad={tuple(a['pad'])} "
                              f"output_padding={a.get('output_padding', 0)}")


def time_split(op: Op, graph: IntGraph) -> tuple[int, int] | None:
    """[a, b): the output times whose taps all read inside the input."""
    lin = int(graph.tensors[op.inputs[0]].shape[1])
    lo = int(graph.tensors[op.outputs[0]].shape[1])
    s, k, pb = int(op.attrs["stride"]), int(op.params["w"].shape[2]), int(op.attrs["pad"][0])
    taps = -(-k // s)
    a = max(0, s * (taps - 1) - pb)        # (t + pb) // s - (taps - 1) >= 0
    b = s * lin - pb                       # (t + pb) // s < lin
    a, b = max(0, min(a, lo)), max(0, min(b, lo))
    if b <= a or (a == 0 and b == lo):
        return None
    return a, b


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    op = k.op
    c.mac_kernel(k, graph, op.params["w"], folded_bias(op),
                 c.bias_note(op) + ", per output phase (t + pad_begin) % stride")
    k.time_split = time_split(op, graph)
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te, tirx

    op, a = k.op, k.op.attrs
    ph = c.placeholders(k)
    x, w = ph["x"], ph["w"]
    ci, lin = (int(v) for v in x.shape)
    _, co, kk = (int(v) for v in w.shape)
    s, pb, xzp = int(a["stride"]), int(a["pad"][0]), int(a["x_zp"])
    lo = int(graph.tensors[op.outputs[0]].shape[1])
    taps = -(-kk // s)
    i32 = lambda e: e.astype("int32")  # noqa: E731
    rc, rm = te.reduce_axis((0, ci), "c"), te.reduce_axis((0, taps), "m")

    def body(o, t):
        q = tirx.floordiv(t + pb, s)
        r = tirx.floormod(t + pb, s)
        j, k_ = q - rm, r + s * rm
        xv = tirx.if_then_else(tirx.all(j >= 0, j < lin), x[rc, j], tirx.const(xzp, "int8"))
        prod = i32(xv) * i32(w[rc, o, k_])
        if kk % s:
            prod = tirx.if_then_else(k_ < kk, prod, 0)
        return te.sum(prod, axis=[rc, rm])
    acc = te.compute((co, lo), body, name="acc")
    requant = c.te_requant(k, ph)
    y = te.compute((co, lo), lambda o, t: requant(acc[o, t], ph["bias"][o, tirx.floormod(t + pb, s)], o, t),
                   name="y")
    return [ph[g.cname] for g in k.args[:-1]] + [y], c.reduction_schedule(2, taps, False)

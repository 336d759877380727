"""Example overlay for conv1d: the pattern a target overlay follows, in portable C.

- claims: input channels >= 2 (a 1-channel layer falls back to the generic kernel).
- constants: the weights padded with zero taps to an even count K' (compile time).
- scratch: the input widened to int16 with x_zp subtracted and the padding written as 0,
  (Ci, L + pad_left + pad_right + K' - K) in the arena, rewritten at every call; so the
  bias is the plain bias (nothing to fold) and the loop has no edge cases.
- TIR: the widening loops, then for each (o, t) one call of the C micro-kernel
  ek_example_dot (example_dot.h, #included by kernels.c) and the generic exact epilogue.
"""
from __future__ import annotations

import numpy as np

from ....ir.intgraph import IntGraph
from ... import _common as c
from ... import tir
from ...kernel import Kernel

KIND = "conv1d"
C_HEADERS = ("example_dot.h",)


def _even_taps(k: int) -> int:
    return k + (k % 2)


def claims(step, graph: IntGraph) -> str | None:
    ci = int(graph.tensors[step.main.inputs[0]].shape[0])
    if ci < 2:
        return f"{ci} input channel (needs >= 2)"
    return None


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    op, t = k.op, graph.tensors
    w = op.params["w"]
    co, ci, kk = w.shape
    kp = _even_taps(kk)
    wp = np.zeros((co, ci, kp), np.int8)
    wp[:, :, :kk] = w
    length = int(t[op.inputs[0]].shape[1])
    pl, pr = (int(v) for v in op.attrs["pad"])
    k.add_input("x", t[op.inputs[0]])
    k.add_const("w", wp, f"taps padded {kk} -> {kp} with zeros" if kp != kk else "", align=4)
    c.mac_consts(k, op, op.params["bias"].astype(np.int64), "bias (x - x_zp is formed in the scratch)")
    if k.step.post is not None:
        k.add_input("skip", t[k.step.inputs[-1]])
    k.add_scratch("xs", "int16", ci * (pl + length + pr + kp - kk))
    k.add_output(t[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm.tirx.script.builder import ir as T

    op, t = k.op, graph.tensors
    ci, length = (int(v) for v in t[op.inputs[0]].shape)
    co, lo = (int(v) for v in t[op.outputs[0]].shape)
    kk = int(op.params["w"].shape[2])
    kp = _even_taps(kk)
    pl, pr = (int(v) for v in op.attrs["pad"])
    s, zp = int(op.attrs["stride"]), int(op.attrs["x_zp"])
    row = pl + length + pr + kp - kk

    def body(b):
        xs = b["xs"]
        with T.serial(0, ci) as ch:
            tir.name(["c"], [ch])
            if pl:
                with T.serial(0, pl) as j:
                    T.buffer_store(xs, T.int16(0), [ch * row + j])
            with T.serial(0, length) as j:
                T.buffer_store(xs, (b["x"][ch, j].astype("int32") - zp).astype("int16"), [ch * row + pl + j])
            if row - pl - length:
                with T.serial(0, row - pl - length) as j:
                    T.buffer_store(xs, T.int16(0), [ch * row + pl + length + j])
        requant = tir.requant(k, b)
        with T.grid(co, lo) as (o, tt):
            tir.name(["o", "t"], [o, tt])
            acc = T.bind(tir.call("ek_example_dot", xs, (tt * s,), row, b["w"], (o, 0, 0), ci, kp))
            T.buffer_store(b["y"], requant(acc, b["bias"][o], o, tt), [o, tt])
    return tir.prim_func(k, body)

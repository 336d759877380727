"""What the cortex_m_dsp conv1d and conv_transpose1d overlays share: the claim rules, the
kernel signature and the TIR loop nest around the C micro-kernel (ek_cortex_m_dsp.h).

Granularity: TIR holds the loop nest over output phases and output channel pairs; each
iteration calls the micro-kernel once for 2 output channels x all output times of the phase,
and the micro-kernel holds the time loop, the 2 channels x 2 times inner product (SMLAD on
int16 input pairs and SXTB16-unpacked weights) and the exact epilogue (requantize, LeakyReLU,
fused skip add). A call per output (the shape TIR could express, with its int64 epilogue)
would pay the call and the reloading of the epilogue's per-channel values for every output;
per row they are paid once per 2 x Lo outputs.

Signature: x, w (uint32 words), rq (int32 (Co, 5): bias, m_pos, n_pos, m_neg, n_neg),
[post (int32 (6,): the fused add), skip], xs (int16 scratch: the widened input), y.
The bias is the op's own (not folded): the scratch holds x - x_zp with zeros as padding.
"""
from __future__ import annotations

import numpy as np

from ....ir.intgraph import IntGraph
from ... import tir
from ...kernel import Kernel
from . import _layout as L

C_HEADERS = ("ek_cortex_m_dsp.h",)


def claims(geo: L.Geometry, taps: int) -> str | None:
    """taps: the real taps one output reads per input channel (K, or ceil(K/s) per phase)."""
    if taps < 2:
        return f"{taps} tap per output and input channel (padded to 4 it would waste 3 of 4 multiplies)"
    return None


def make_kernel(k: Kernel, graph: IntGraph, geo: L.Geometry, words: np.ndarray, weight_note: str) -> Kernel:
    op, t, post = k.op, graph.tensors, k.step.post
    p = op.params
    k.add_input("x", t[op.inputs[0]])
    k.add_const("w", words, weight_note)
    k.add_const("rq", L.requant_records(p["bias"], p["m_pos"], p["n_pos"], p["m_neg"], p["n_neg"]),
                "per output channel: bias (not folded: the scratch holds x - x_zp), M0 and n for acc + bias "
                ">= 0, M0 and n for acc + bias < 0")
    if post is not None:
        k.add_const("post", L.post_record(post.attrs, post.inputs[0] == op.outputs[0]),
                    f"{post.name}: q_zp, q_m, skip_zp, skip_m, n, y_zp (q = this layer's int8 output)")
        k.add_input("skip", t[k.step.inputs[-1]])
    k.add_scratch("xs", "int16", geo.scratch_elems)
    k.add_output(t[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph, geo: L.Geometry):
    from tvm.tirx.script.builder import ir as T

    op = k.op
    x_zp, y_zp = int(op.attrs["x_zp"]), int(op.attrs["y_zp"])
    g, co, ci = geo.groups, geo.co, geo.ci
    fused = k.step.post is not None

    def conv(b, ph_index: int, ph: L.Phase, o, nch: int):
        w_at = (ph_index, o, 0, 0) if len(b["w"].shape) == 4 else (o, 0, 0)
        args = [b["xs"], (ph.off,), geo.row, ci, geo.in_step, b["w"], w_at, g, nch, b["rq"], (o, 0), y_zp,
                ph.nt, b["y"], (o, ph.t0), geo.lo, ph.out_step]
        if fused:
            T.evaluate(tir.call("ek_cortex_m_dsp_conv_add", *args, b["skip"], (o, ph.t0), b["post"], (0,)))
        else:
            T.evaluate(tir.call("ek_cortex_m_dsp_conv", *args))

    def body(b):
        T.evaluate(tir.call("ek_cortex_m_dsp_widen", b["x"], (0, 0), ci, geo.length, x_zp, geo.lpad, geo.row,
                            b["xs"], (0,)))
        for i, ph in enumerate(geo.phases):
            if co >= 2:
                with T.serial(0, co // 2) as pair:
                    conv(b, i, ph, pair * 2, 2)
            if co % 2:
                conv(b, i, ph, co - 1, 1)
    return tir.prim_func(k, body)

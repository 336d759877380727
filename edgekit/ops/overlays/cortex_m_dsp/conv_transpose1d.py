"""cortex_m_dsp overlay for conv_transpose1d: each output phase (t + pad_begin) % stride is a
stride-1 correlation of the widened input with that phase's taps reversed, so it runs the same
2 channels x 2 times SMLAD micro-kernel as conv1d (_conv.py, _layout.py); no zero insertion,
any stride, padding and output padding. Declines phases of 1 tap (K <= stride)."""
from __future__ import annotations

from ....ir.intgraph import IntGraph
from ...kernel import Kernel
from . import _conv
from . import _layout as L

KIND = "conv_transpose1d"
C_HEADERS = _conv.C_HEADERS


def geometry(op, graph: IntGraph) -> L.Geometry:
    ci, length = (int(v) for v in graph.tensors[op.inputs[0]].shape)
    _, co, k = op.params["w"].shape
    return L.conv_transpose1d_geometry(ci, length, int(co), int(k), int(op.attrs["stride"]), tuple(op.attrs["pad"]),
                                       int(op.attrs.get("output_padding", 0)))


def claims(step, graph: IntGraph) -> str | None:
    op = step.main
    k, s = int(op.params["w"].shape[2]), int(op.attrs["stride"])
    return _conv.claims(geometry(op, graph), -(-k // s))


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    op = k.op
    geo = geometry(op, graph)
    kk, s = int(op.params["w"].shape[2]), int(op.attrs["stride"])
    note = (f"(phases, Co, Ci, {geo.groups}) words: per output phase r the taps w[c, o, r + {s}*m] reversed, "
            f"{-(-kk // s)} per phase padded to {geo.taps} with zeros, bytes {{w0, w2, w1, w3}} per word, "
            f"output channel pairs side by side")
    words = L.conv_transpose1d_weights(op.params["w"], geo, s, int(op.attrs["pad"][0]))
    return _conv.make_kernel(k, graph, geo, words, note)


def build(k: Kernel, graph: IntGraph):
    return _conv.build(k, graph, geometry(k.op, graph))

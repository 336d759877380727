"""cortex_m_dsp overlay for conv1d: the input widened to int16 (x - x_zp, zero padding) in arena
scratch, taps padded to a multiple of 4 with zero weights and packed {w0, w2, w1, w3} per word
at compile time, 2 output channels x 2 output times per SMLAD inner loop (_conv.py,
ek_cortex_m_dsp.h). Any stride and padding; declines a kernel of 1 tap."""
from __future__ import annotations

from ....ir.intgraph import IntGraph
from ...kernel import Kernel
from . import _conv
from . import _layout as L

KIND = "conv1d"
C_HEADERS = _conv.C_HEADERS


def geometry(op, graph: IntGraph) -> L.Geometry:
    ci, length = (int(v) for v in graph.tensors[op.inputs[0]].shape)
    co, _, k = op.params["w"].shape
    return L.conv1d_geometry(ci, length, int(co), int(k), int(op.attrs["stride"]), tuple(op.attrs["pad"]))


def claims(step, graph: IntGraph) -> str | None:
    return _conv.claims(geometry(step.main, graph), int(step.main.params["w"].shape[2]))


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    geo = geometry(k.op, graph)
    kk = int(k.op.params["w"].shape[2])
    note = (f"(Co, Ci, {geo.groups}) words: taps {kk}" + (f" padded to {geo.taps} with zeros" if geo.taps != kk else "")
            + ", bytes {w0, w2, w1, w3} per word, output channel pairs side by side")
    return _conv.make_kernel(k, graph, geo, L.conv1d_weights(k.op.params["w"], geo), note)


def build(k: Kernel, graph: IntGraph):
    return _conv.build(k, graph, geometry(k.op, graph))

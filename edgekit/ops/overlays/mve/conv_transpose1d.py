"""mve overlay for conv_transpose1d (Helium: 16-byte windows, VMLADAVA.S8, 4 output channels x 2
positions per block; one phase per output (t + pad) % stride, no zero insertion). The kernel, its
layout and its epilogue: ../ek_conv_core.h, ../blocked_conv.py."""
from __future__ import annotations

from .. import blocked_conv
from ._set import SET

KIND = "conv_transpose1d"
C_HEADERS = SET.headers


def claims(step, graph):
    return blocked_conv.claims(SET, step, graph)


def make_kernel(k, graph):
    return blocked_conv.make_kernel(SET, k, graph)


def build(k, graph):
    return blocked_conv.build(SET, k, graph)

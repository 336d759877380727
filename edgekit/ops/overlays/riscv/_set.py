"""The riscv set's blocked conv layout (ek_rv_conv.h): one channel per window, no tap padding."""
from __future__ import annotations

from ..blocked_conv import KernelSet, Layout, taps


def layout(op) -> Layout | str:
    """G = 1, Tp = the taps; 2 output channels x 4 positions (unrolled for 15 taps at stride 2
    and 8 taps at step 1, a tap loop otherwise)."""
    t = taps(op)
    if t > 16:
        return f"{t} taps per output (the blocked kernel takes up to 16)"
    return Layout(ob=2, pb=4, g=1, tp=t)


SET = KernelSet("riscv", "ek_rv_conv", ("../ek_conv_core.h", "ek_rv_conv.h"), layout)

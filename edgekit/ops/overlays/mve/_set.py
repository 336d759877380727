"""The mve set's blocked conv layout (ek_mve_conv.h): 16-byte windows = one Helium vector."""
from __future__ import annotations

from ..blocked_conv import KernelSet, Layout, taps


def layout(op) -> Layout | str:
    """Tp = taps rounded up to a power of two, G = 16 / Tp channels per window; 4 x 2 blocks."""
    t = taps(op)
    if t > 16:
        return f"{t} taps per output (the Helium kernel takes up to 16)"
    tp = next(v for v in (1, 2, 4, 8, 16) if v >= t)
    return Layout(ob=4, pb=2, g=16 // tp, tp=tp)


# Every window of a transposed conv (2 interleaved channels) goes through the scratch: 2 KiB
# keeps the copies long enough for VST2 (0.254 instead of 0.278 instructions/MAC over the
# shipped model's conv layers, for 768 B more arena).
SET = KernelSet("mve", "ek_mve_conv", ("../ek_conv_core.h", "ek_mve_conv.h"), layout, scratch_budget=2048)

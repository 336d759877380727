"""mul overlay: the ECA gate (C, L) * (C, 1) in int32 (../ek_mul.h; Helium where the core has
it, the plain C twin otherwise). See ../mul_bcast.py."""
from __future__ import annotations

from .. import mul_bcast

KIND = "mul"
C_HEADERS = mul_bcast.HEADERS
claims, make_kernel, build = mul_bcast.claims, mul_bcast.make_kernel, mul_bcast.build

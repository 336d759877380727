"""The integer arithmetic every stage must reproduce bit for bit.

Requantization maps an int32 accumulator to int8 with one rounding:

    real multiplier M = M0 * 2**-n,  M0 an int32 in [2**30, 2**31),  1 <= n <= 62
    y = clamp(zp_out + ((acc * M0 + 2**(n-1)) >> n), -128, 127)

`acc * M0` is an int64 product (|acc| < 2**31, M0 < 2**31, so it fits), `>>` is an
arithmetic (flooring) shift, so the rounding is **half up** (ties go towards +inf).
Half up costs one add on a microcontroller; TFLite's double rounding (SQRDMULH then a
rounding shift) was measured to disagree with fake-quant training in 0.2-0.6% of values,
single rounding in under 0.001%.
"""
from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
ROUNDING = "half_up"


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Split a positive real multiplier into (M0, n) with real ~= M0 * 2**-n."""
    if not (real > 0 and math.isfinite(real)):
        raise ValueError(f"requantize multiplier must be positive and finite, got {real!r}")
    mant, exp = math.frexp(real)  # real = mant * 2**exp, mant in [0.5, 1)
    m0 = int(round(mant * (1 << 31)))
    if m0 == 1 << 31:  # mantissa rounded up to 1.0
        m0 //= 2
        exp += 1
    n = 31 - exp
    if not 1 <= n <= 62:
        raise ValueError(f"requantize multiplier {real!r} is out of the supported range "
                         f"(needs shift {n}, allowed 1..62): check the tensor scales")
    return m0, n


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of quantize_multiplier: returns int32 M0 and int32 n arrays."""
    pairs = [quantize_multiplier(float(r)) for r in np.ravel(reals)]
    m0 = np.array([p[0] for p in pairs], dtype=np.int64).astype(np.int32)
    n = np.array([p[1] for p in pairs], dtype=np.int32)
    return m0, n


def rounding_shift(prod: np.ndarray, n) -> np.ndarray:
    """(prod + 2**(n-1)) >> n on int64, n scalar or broadcastable array."""
    n = np.asarray(n, dtype=np.int64)
    return (prod + (np.int64(1) << (n - 1))) >> n


def requantize(acc: np.ndarray, m0, n, zp_out: int) -> np.ndarray:
    """int32/int64 accumulator -> int8 with one half-up rounding and saturation."""
    prod = np.asarray(acc, dtype=np.int64) * np.asarray(m0, dtype=np.int64)
    y = rounding_shift(prod, n) + zp_out
    return np.clip(y, INT8_MIN, INT8_MAX).astype(np.int8)


def requantize_half_even(acc: np.ndarray, m0, n, zp_out: int) -> np.ndarray:
    """As `requantize`, but an exact tie (the dropped bits are exactly one half) rounds to the
    even neighbour, as QuantizeLinear does. Used by the averaging ops (average pools, means),
    where a sum divided by a power of two hits exact ties often; elsewhere ties need the real
    multiplier to be exact and are rare, and half up costs less."""
    prod = np.asarray(acc, dtype=np.int64) * np.asarray(m0, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    q = rounding_shift(prod, n)
    tie = (prod & ((np.int64(1) << n) - 1)) == (np.int64(1) << (n - 1))
    q = q - (tie & (q & 1).astype(bool))
    return np.clip(q + zp_out, INT8_MIN, INT8_MAX).astype(np.int8)


def requantize_leaky(acc, m0_pos, n_pos, m0_neg, n_neg, zp_out: int) -> np.ndarray:
    """LeakyReLU fused into the requantize: the sign of the accumulator picks the multiplier."""
    acc = np.asarray(acc, dtype=np.int64)
    neg = acc < 0
    m0 = np.where(neg, np.asarray(m0_neg, dtype=np.int64), np.asarray(m0_pos, dtype=np.int64))
    n = np.where(neg, np.asarray(n_neg, dtype=np.int64), np.asarray(n_pos, dtype=np.int64))
    return np.clip(rounding_shift(acc * m0, n) + zp_out, INT8_MIN, INT8_MAX).astype(np.int8)


def add_multipliers(ra: float, rb: float) -> tuple[int, int, int]:
    """Two multipliers sharing one shift, so an add rounds once: (Ma, Mb, n)."""
    m_big, n = quantize_multiplier(max(ra, rb))
    ma = int(round(ra * 2.0 ** n))
    mb = int(round(rb * 2.0 ** n))
    return ma, mb, n

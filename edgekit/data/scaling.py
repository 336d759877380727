"""Per-window input scaling, in integer arithmetic exactly as the device does it.

Per lead of a window of W = 2**k ADC samples x[0..W-1]:
    mean  = floor(sum(x) / W) = sum(x) >> k
    v     = x - mean
    shift = the smallest s in 0..15 with round_half_up(v / 2**s) in [-128, 127] for every sample
    q     = clip((v + (1 << s >> 1)) >> s, -128, 127)   (int8 model input; the model reads q / 128)
ADC counts come back as y * 2**shift + mean (to_adc).

C equivalent: C_RECIPE below (model.h of an edgekit model carries it as a comment).
"""
from __future__ import annotations

import numpy as np

MAX_SHIFT = 15

# The device side of normalize(), for one lead of W = 1 << LOG2_W int32 ADC samples x[] -> int8 q[]
# (">>" on negative int32 is an arithmetic shift on every compiler edgekit targets).
C_RECIPE = """\
int32_t sum = 0, vmax = INT32_MIN, vmin = INT32_MAX, i, s = 0;
for (i = 0; i < W; i++) sum += x[i];
int32_t mean = sum >> LOG2_W;                              /* floor division */
for (i = 0; i < W; i++) { int32_t v = x[i] - mean; if (v > vmax) vmax = v; if (v < vmin) vmin = v; }
while (s < 15 && (((vmax + ((1 << s) >> 1)) >> s) > 127 || ((vmin + ((1 << s) >> 1)) >> s) < -128)) s++;
for (i = 0; i < W; i++) {
    int32_t r = (x[i] - mean + ((1 << s) >> 1)) >> s;     /* round half up */
    q[i] = (int8_t)(r > 127 ? 127 : (r < -128 ? -128 : r));
}
"""


def _log2_width(width: int) -> int:
    if width <= 0 or width & (width - 1):
        raise ValueError(f"window length {width} is not a power of two (the mean is a right shift)")
    return width.bit_length() - 1


def normalize(adc):
    """(q int8 (..., 2, W), mean int32 (..., 2), shift int32 (..., 2)) for integer ADC windows."""
    x = np.asarray(adc)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"normalize takes integer ADC counts, got {x.dtype}")
    k = _log2_width(x.shape[-1])
    mean = (x.sum(axis=-1, dtype=np.int64) >> k).astype(np.int32)
    v = np.subtract(x, mean[..., None], dtype=np.int32)
    vmax, vmin = v.max(axis=-1), v.min(axis=-1)
    shift = np.full(mean.shape, MAX_SHIFT, dtype=np.int32)
    for s in range(MAX_SHIFT, -1, -1):  # descending, so the smallest fitting s wins
        half = (1 << s) >> 1
        fits = (((vmax + half) >> s) <= 127) & (((vmin + half) >> s) >= -128)
        shift[fits] = s
    v += ((1 << shift) >> 1)[..., None]  # in place: v is our own array
    v >>= shift[..., None]
    q = np.clip(v, -128, 127, out=v).astype(np.int8)
    return q, mean, shift


def target(clean_adc, shift) -> np.ndarray:
    """Denoising target in the units of q: (clean - its float window mean) / 2**shift, float32."""
    x = np.asarray(clean_adc)
    if np.issubdtype(x.dtype, np.integer):  # exact integer sum, then one float pass
        mean = x.sum(axis=-1, dtype=np.int64) / x.shape[-1]
    else:
        mean = x.mean(axis=-1, dtype=np.float64)
    c = x.astype(np.float32)
    c -= mean.astype(np.float32)[..., None]
    c *= np.exp2(-np.asarray(shift, dtype=np.float32))[..., None]
    return c


def to_adc(y, mean, shift) -> np.ndarray:
    """Back to ADC counts (float64): y * 2**shift + mean, e.g. for plots and metrics."""
    y = np.asarray(y, dtype=np.float64)
    return y * np.exp2(np.asarray(shift, dtype=np.float64))[..., None] + np.asarray(mean)[..., None]

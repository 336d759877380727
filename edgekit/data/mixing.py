"""Add nstdb noise to clean ECG windows at a requested SNR.

SNR definition (per window and per lead): with the clean window `clean_c` and the added noise
`noise_c` each mean-removed over the window,

    SNR = 10*log10(sum(clean_c**2) / sum(noise_c**2))

The noise segment is mean-removed over the window before it is added: the device removes
each window's mean anyway, and this keeps the noisy ADC counts near the recording's baseline.
The result is rounded to integer ADC counts (the device receives integer ADC samples), with a
fixed sub-LSB dither (see _round), and the scale is corrected for the rounding so the SNR
measured on the integer result still matches.
"""
from __future__ import annotations

import functools

import numpy as np

from .noise import BASE_KINDS, NOISE_KINDS, check_kind

SNR_RANGE = (-20.0, 60.0)
_MODEL_PASSES = 2
_BISECTIONS = 20
_ROUNDING_MATTERS = 400.0  # adu**2 per sample: above 20 adu rms noise, rounding moves the SNR < 0.01 dB


def _centered(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=-1, keepdims=True)


def _power(x: np.ndarray) -> np.ndarray:
    """Sum of squares over the last axis."""
    return np.einsum("...i,...i->...", x, x)


def measure_snr_db(clean, noisy) -> np.ndarray:
    """SNR in dB per lead (shape (..., 2)) of `noisy` against `clean`; noise = noisy - clean."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noisy, dtype=np.float64) - clean
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(_power(_centered(clean)) / _power(_centered(noise)))


def check_snr(snr_db) -> np.ndarray:
    snr = np.asarray(snr_db, dtype=np.float64)
    lo, hi = SNR_RANGE
    bad = ~((snr >= lo) & (snr <= hi))
    if bad.any():
        raise ValueError(f"SNR {float(snr[bad].ravel()[0]):g} dB is outside the allowed range "
                         f"[{lo:g}, {hi:g}] dB")
    return snr


def combined_noise(noise_segments: dict, kind: str) -> np.ndarray:
    """Mean-removed noise of `kind`, float32 (..., 2, W); 'mixed' = bw + ma + em at equal power."""
    check_kind(kind)
    need = BASE_KINDS if kind == "mixed" else (kind,)
    missing = [k for k in need if k not in noise_segments]
    if missing:
        raise ValueError(f"noise kind {kind!r} needs noise_segments for {list(need)}; missing {missing}")
    parts = [_centered(np.asarray(noise_segments[k], dtype=np.float32)) for k in need]
    if kind != "mixed":
        return parts[0]
    for p in parts:  # each scaled to unit power per lead, so the three contribute equally
        p *= (1.0 / np.sqrt(np.maximum(_power(p), 1e-12)))[..., None].astype(np.float32)
    return parts[0] + parts[1] + parts[2]


@functools.lru_cache(maxsize=4)
def _dither(width: int) -> np.ndarray:
    """A fixed sub-LSB offset per sample position (deterministic, same for every window)."""
    return np.random.default_rng(20240901).random(width, dtype=np.float32)


def _round(x: np.ndarray) -> np.ndarray:
    """Round to integers with a fixed dither, in place: floor(x + u), u in [0, 1), unbiased.

    nstdb noise is itself integer ADC counts, so many samples of a window share a value; plain
    rounding would push them across .5 together and the noise power would jump with the scale
    in steps of several percent. The dither spreads those crossings so the SNR can be hit.
    """
    x += _dither(x.shape[-1])
    return np.floor(x, out=x)


def _rounded_power(n: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Mean-removed power of _round(a * n) per row."""
    r = _round(n * a[:, None].astype(np.float32))
    return _power(r) - r.sum(axis=-1, dtype=np.float64) ** 2 / n.shape[-1]


def _rounding_scale(n: np.ndarray, pn: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Scale per row such that power(_round(a * n)) ~= w (rows of n: noise, pn: its power).

    Model: power(round(a*n)) = a**2 * pn + E, E the rounding error power (about W/6 with the
    dither); each pass measures E at the current a and solves the model for a.
    """
    e = n.shape[-1] / 6.0
    a = np.sqrt(np.maximum(w - e, 0.01 * w) / pn)
    for _ in range(_MODEL_PASSES):
        e = _rounded_power(n, a) - a * a * pn
        a = np.sqrt(np.maximum(w - e, 0.01 * w) / pn)
    return a


def _bisect_scale(n: np.ndarray, pn: np.ndarray, w: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Fallback for rows the model misses (noise of about one ADC count rms or less):
    bisect on the scale, keeping the best one seen."""
    best, best_err = a.copy(), np.full(len(a), np.inf)
    lo, hi = np.zeros(len(a)), 2.0 * a + np.sqrt(n.shape[-1] / pn)  # hi: >= 1 count rms
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        got = _rounded_power(n, mid)
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.abs(np.log(got / w))
        better = err < best_err
        best[better], best_err[better] = mid[better], err[better]
        lo, hi = np.where(got < w, mid, lo), np.where(got < w, hi, mid)
    return best


def mix(clean_adc, noise_segments: dict, kind: str, snr_db) -> np.ndarray:
    """Noisy window(s), int16 (..., 2, W): clean + noise scaled per lead to `snr_db`, rounded.

    clean_adc: integer (..., 2, W) ADC counts. noise_segments: kind -> (..., 2, W) noise in adu
    ('mixed' needs 'bw', 'ma' and 'em'). snr_db: a scalar or one value per window (shape (...)),
    within SNR_RANGE. kind: one of NOISE_KINDS.

    The SNR is met within 0.1 dB whenever the requested noise is at least ~0.25 ADC count rms;
    below that (e.g. 60 dB on a typical 50-count-rms window) integer samples cannot carry it.
    """
    check_kind(kind, NOISE_KINDS)
    snr = check_snr(snr_db)[..., None]  # broadcast over the 2 leads
    clean = np.asarray(clean_adc)
    if not np.issubdtype(clean.dtype, np.integer):
        raise TypeError(f"mix takes integer ADC counts, got {clean.dtype}")
    width = clean.shape[-1]
    noise = combined_noise(noise_segments, kind)
    total = clean.sum(axis=-1, dtype=np.int64)
    clean_power = np.einsum("...i,...i->...", clean, clean, dtype=np.int64) - total * total / width
    want = np.broadcast_to(clean_power / 10.0 ** (snr / 10.0), clean_power.shape).reshape(-1)
    n = noise.reshape(-1, width)
    pn = np.maximum(_power(n).astype(np.float64), 1e-12)
    scale = np.sqrt(want / pn)

    # Rounding matters only for small noise: correct the scale there, then check the result.
    fix = np.flatnonzero(want < _ROUNDING_MATTERS * width)
    scale[fix] = _rounding_scale(n[fix], pn[fix], want[fix])
    r = _round(n * scale[:, None].astype(np.float32))  # n is our own copy: rounding in place
    rf = r[fix]
    got = _power(rf) - rf.sum(axis=-1, dtype=np.float64) ** 2 / width
    with np.errstate(divide="ignore", invalid="ignore"):
        off = fix[~(np.abs(np.log(got / want[fix])) <= 0.005)]  # > 0.02 dB off (or 0/0)
    if len(off):
        a = _bisect_scale(noise.reshape(-1, width)[off], pn[off], want[off], scale[off])
        r[off] = _round(noise.reshape(-1, width)[off] * a[:, None].astype(np.float32))
    r = r.reshape(clean.shape)
    r += clean
    return np.clip(r, -32768, 32767, out=r).astype(np.int16)

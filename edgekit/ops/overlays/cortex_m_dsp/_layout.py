"""Compile-time layouts of the Cortex-M DSP micro-kernels (ek_cortex_m_dsp.h): where each layer's
widened input rows start, how its weights are reordered into words, and the calls one layer
makes. Pure numpy: the TIR builders and the host tests both take their numbers from here.

A conv1d and each output phase of a conv_transpose1d are the same computation for the
micro-kernel: output i of a call reads the widened input rows at xs[c][off + i*in_step + j]
for j < taps (taps padded to a multiple of 4 with zero weights) and writes y[o][t0 + i*out_step].

conv1d           xs[c][j] = x[c][j - pad_left] - x_zp (0 outside); one call per channel pair,
                 off = 0, in_step = stride, out_step = 1, nt = Lo.
conv_transpose1d output t has phase r = (t + pad_begin) % s and reads x[c][q - m] * w[c][o][r + s*m],
                 q = (t + pad_begin) // s, m < ceil(K/s). With the phase's taps reversed,
                 g_r[j] = w[c][o][r + s*(P - 1 - j)] (0 past K; P the padded tap count), it is
                 a stride-1 correlation: xs[c][j] = x[c][j - (P - 1)] - x_zp, and output q reads
                 xs[c][q + j]. One call per (phase, channel pair): off = q0, in_step = 1,
                 out_step = s, t0 = the phase's first output. No zero insertion.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RQ_WORDS = 5   # EDK_RQ_WORDS: bias, m_pos, n_pos, m_neg, n_neg per output channel


@dataclass(frozen=True)
class Phase:
    off: int        # first widened input element the phase's output 0 reads
    t0: int         # its first output time
    nt: int         # number of outputs
    out_step: int   # output times between consecutive outputs


@dataclass(frozen=True)
class Geometry:
    ci: int
    co: int
    length: int     # input length
    lo: int         # output length
    lpad: int       # zeros before the input in each widened row
    row: int        # widened row length (even: every row starts on a word)
    in_step: int    # widened input elements between consecutive outputs of a call
    taps: int       # padded tap count (multiple of 4)
    phases: tuple[Phase, ...]

    @property
    def groups(self) -> int:
        return self.taps // 4

    @property
    def scratch_elems(self) -> int:
        return self.ci * self.row


def _round_up(v: int, m: int) -> int:
    return -(-v // m) * m


def conv1d_geometry(ci: int, length: int, co: int, k: int, stride: int, pad: tuple[int, int]) -> Geometry:
    pl, pr = int(pad[0]), int(pad[1])
    lo = (length + pl + pr - k) // stride + 1
    taps = _round_up(k, 4)
    row = _round_up(max(pl + length, (lo - 1) * stride + taps), 2)
    return Geometry(ci, co, length, lo, pl, row, stride, taps, (Phase(0, 0, lo, 1),))


def conv_transpose1d_geometry(ci: int, length: int, co: int, k: int, stride: int, pad: tuple[int, int],
                              output_padding: int = 0) -> Geometry:
    s, pb, pe = int(stride), int(pad[0]), int(pad[1])
    lo = (length - 1) * s + k + int(output_padding) - pb - pe
    taps = _round_up(-(-k // s), 4)
    phases = []
    for r in range(s):
        t0 = (r - pb) % s
        if t0 >= lo:
            continue
        phases.append(Phase((t0 + pb) // s, t0, -(-(lo - t0) // s), s))
    need = max([p.off + p.nt - 1 + taps for p in phases] + [taps - 1 + length])
    return Geometry(ci, co, length, lo, taps - 1, _round_up(need, 2), 1, taps, tuple(phases))


def pack_words(taps: np.ndarray) -> np.ndarray:
    """(..., P) int8 taps, P a multiple of 4 -> (..., P/4) uint32 words holding each group of
    four taps as the bytes {w0, w2, w1, w3} (little-endian: w0 in the low byte)."""
    t = np.asarray(taps, dtype=np.int8)
    g = t.reshape(t.shape[:-1] + (t.shape[-1] // 4, 4))[..., [0, 2, 1, 3]]
    return np.ascontiguousarray(g).view("<u4").reshape(t.shape[:-1] + (t.shape[-1] // 4,)).astype(np.uint32)


def pair_channels(words: np.ndarray) -> np.ndarray:
    """(..., Co, Ci, G) words -> the same words with each channel pair's side by side:
    [pair][Ci][G][2], an odd last channel as [Ci][G]; channel o's block starts at o*Ci*G."""
    co = words.shape[-3]
    out = np.empty_like(words)
    even = co - co % 2
    lead = words.shape[:-3]
    pairs = words[..., :even, :, :].reshape(lead + (even // 2, 2) + words.shape[-2:])
    out[..., :even, :, :] = np.moveaxis(pairs, -3, -1).reshape(lead + (even,) + words.shape[-2:])
    out[..., even:, :, :] = words[..., even:, :, :]
    return out


def conv1d_weights(w: np.ndarray, geo: Geometry) -> np.ndarray:
    """(Co, Ci, K) int8 -> (Co, Ci, G) uint32 words (channel pairs side by side), taps zero-padded
    to geo.taps."""
    co, ci, k = w.shape
    padded = np.zeros((co, ci, geo.taps), np.int8)
    padded[:, :, :k] = w
    return pair_channels(pack_words(padded))


def conv_transpose1d_weights(w: np.ndarray, geo: Geometry, stride: int, pad_begin: int) -> np.ndarray:
    """(Ci, Co, K) int8 (ONNX layout) -> (phases, Co, Ci, G) uint32 (channel pairs side by side):
    per phase r the taps g_r[j] = w[c, o, r + s*(P-1-j)], zero where r + s*(P-1-j) >= K."""
    ci, co, k = w.shape
    s, p = int(stride), geo.taps
    out = np.zeros((len(geo.phases), co, ci, p), np.int8)
    for i, ph in enumerate(geo.phases):
        r = (ph.t0 + pad_begin) % s
        for j in range(p):
            idx = r + s * (p - 1 - j)
            if idx < k:
                out[i, :, :, j] = w[:, :, idx].T
    return pair_channels(pack_words(out))


def requant_records(bias, m_pos, n_pos, m_neg, n_neg) -> np.ndarray:
    """(Co, RQ_WORDS) int32: bias, m_pos, n_pos, m_neg, n_neg per output channel."""
    rec = np.stack([np.asarray(a, np.int64) for a in (bias, m_pos, n_pos, m_neg, n_neg)], axis=1)
    if rec.min() < -(2**31) or rec.max() > 2**31 - 1:
        raise ValueError("a bias or requantize multiplier does not fit int32")
    return rec.astype(np.int32)


def post_record(post_attrs: dict, conv_output_is_a: bool) -> np.ndarray:
    """The fused add as int32 {q_zp, q_m, s_zp, s_m, n, y_zp} (q: the conv's output)."""
    a = post_attrs
    q = (a["a_zp"], a["ma"]) if conv_output_is_a else (a["b_zp"], a["mb"])
    s = (a["b_zp"], a["mb"]) if conv_output_is_a else (a["a_zp"], a["ma"])
    return np.array([q[0], q[1], s[0], s[1], a["n"], a["y_zp"]], dtype=np.int64).astype(np.int32)

"""The integer reference of the ops read from models made by other tools (onnxruntime's
quantize_static, torch's exporters): pools, concat, softmax, matmul, transpose.

Like `reference`, each function takes a batch (N, ...) and defines the arithmetic bit for
bit; every requantize is `arithmetic.requantize` (one half-up rounding).
"""
from __future__ import annotations

import math

import numpy as np

from .arithmetic import INT8_MAX, INT8_MIN, quantize_multiplier, requantize, requantize_half_even
from .intgraph import Op, TensorInfo

SOFTMAX_MAX_LEN = 1 << 15


def _out_len(length: int, kernel: int, stride: int, pad: tuple, dilation: int = 1) -> int:
    return (length + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1


def pool_len(op: Op, length: int) -> int:
    a = op.attrs
    return _out_len(length, a["kernel"], a["stride"], tuple(a["pad"]))


def _windows(x: np.ndarray, kernel: int, stride: int, pad: tuple, fill) -> np.ndarray:
    """(N, C, Lo, K) windows of x (N, C, L) padded with `fill`."""
    from numpy.lib.stride_tricks import sliding_window_view

    xp = np.pad(x, ((0, 0), (0, 0), tuple(pad)), constant_values=fill)
    return sliding_window_view(xp, kernel, axis=2)[:, :, ::stride, :]


def maxpool(x: np.ndarray, op: Op) -> np.ndarray:
    a = op.attrs
    y = _windows(x.astype(np.int64), a["kernel"], a["stride"], tuple(a["pad"]), INT8_MIN).max(axis=-1)
    if "m" in a:
        return requantize(y - a["x_zp"], a["m"], a["n"], a["y_zp"])
    return y.astype(np.int8)


def avgpool_counts(op: Op, length: int) -> np.ndarray:
    """The divisor of each output time: K, or the taps inside the input (count_include_pad=0)."""
    a = op.attrs
    k, s, (pl, _) = a["kernel"], a["stride"], a["pad"]
    lo = pool_len(op, length)
    if a.get("count_include_pad", 0):
        return np.full(lo, k, np.int64)
    start = np.arange(lo) * s - pl
    return np.minimum(start + k, length) - np.maximum(start, 0)


def avgpool_multipliers(x_scale: float, y_scale: float, kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """(M0, n) for each count c = 1..K: the real multiplier x_scale / (y_scale * c)."""
    pairs = [quantize_multiplier(x_scale / (y_scale * c)) for c in range(1, kernel + 1)]
    return (np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32))


def avgpool(x: np.ndarray, op: Op) -> np.ndarray:
    a, p = op.attrs, op.params
    xc = x.astype(np.int64) - a["x_zp"]
    acc = _windows(xc, a["kernel"], a["stride"], tuple(a["pad"]), 0).sum(axis=-1)
    cnt = avgpool_counts(op, x.shape[-1]) - 1
    return requantize_half_even(acc, p["m"].astype(np.int64)[cnt], p["n"].astype(np.int64)[cnt], a["y_zp"])


def mean(x: np.ndarray, op: Op) -> np.ndarray:
    a = op.attrs
    acc = (x.astype(np.int64) - a["x_zp"]).sum(axis=-1, keepdims=True)
    return requantize_half_even(acc, a["m"], a["n"], a["y_zp"])


def concat(args: list[np.ndarray], op: Op) -> np.ndarray:
    a = op.attrs
    parts = []
    for x, zp, m, n in zip(args, a["x_zps"], a["ms"], a["ns"]):
        xc = x.astype(np.int64) - zp
        if m == 0:
            parts.append(np.clip(xc + a["y_zp"], INT8_MIN, INT8_MAX).astype(np.int8))
        else:
            parts.append(requantize(xc, m, n, a["y_zp"]))
    return np.concatenate(parts, axis=1 + a["axis"])


def matmul(x: np.ndarray, op: Op) -> np.ndarray:
    a, p = op.attrs, op.params
    xf = x.astype(np.float64) - a["x_zp"]   # (N, R, I); exact, as in reference.dense
    acc = np.rint(xf @ p["w"].astype(np.float64).T).astype(np.int64) + p["bias"].astype(np.int64)
    from .reference import _epilogue
    return _epilogue(acc, p, a["y_zp"], channel_axis=2)


def transpose(x: np.ndarray, op: Op) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(x, 1, 2))


# --- softmax -----------------------------------------------------------------------------
def softmax_params(x: TensorInfo, out: TensorInfo, node, fail) -> tuple[dict, dict]:
    """Integer softmax over the last axis (length N):

        d_k   = max_j x_j - x_k                       in [0, 255]
        e_k   = table[d_k] = round(exp(-s_x * d_k) * 2**B)   (int32, table[0] = 2**B)
        S     = sum_k e_k                             (int32: N * 2**B < 2**31)
        y_k   = clamp(y_zp + (e_k * M0 + (S << (n-1))) // (S << n))   (int64, M0 * 2**-n = 1 / s_y)

    so y_k = y_zp + round_half_up(e_k / S / s_y): one rounding of the ratio of the table values,
    as the ONNX definition (DequantizeLinear -> Softmax -> QuantizeLinear) has it.
    B = min(22, 30 - ceil(log2 N)). (onnxruntime's optimized QLinearSoftmax differs from that
    definition: it multiplies by floor(1 / s_y), 254 for the usual s_y = 1/255.)
    """
    n_len = int(x.shape[-1])
    if n_len > SOFTMAX_MAX_LEN:
        fail(node, f"Softmax over {n_len} values: at most {SOFTMAX_MAX_LEN} are supported")
    bits = min(22, 30 - max(1, math.ceil(math.log2(max(n_len, 2)))))
    d = np.arange(256, dtype=np.float64)
    table = np.rint(np.exp(-np.float64(x.scale) * d) * 2.0 ** bits).astype(np.int64)
    m0, n = quantize_multiplier(1.0 / float(out.scale))
    sum_bits = bits + math.ceil(math.log2(max(n_len, 2)))
    if sum_bits + n > 62 or n < 1:
        fail(node, f"Softmax output scale {out.scale:g} is out of the supported range")
    return {"table": table.astype(np.int32)}, {"y_zp": out.zero_point, "m": m0, "n": n, "bits": bits}


def softmax(x: np.ndarray, op: Op) -> np.ndarray:
    a = op.attrs
    xi = x.astype(np.int64)
    d = xi.max(axis=-1, keepdims=True) - xi
    e = op.params["table"].astype(np.int64)[d]
    s = e.sum(axis=-1, keepdims=True)
    n = a["n"]
    q = (e * a["m"] + (s << (n - 1))) // (s << n)
    return np.clip(q + a["y_zp"], INT8_MIN, INT8_MAX).astype(np.int8)


REFERENCE = {
    "maxpool": lambda args, op: maxpool(args[0], op),
    "avgpool": lambda args, op: avgpool(args[0], op),
    "mean": lambda args, op: mean(args[0], op),
    "concat": concat,
    "matmul": lambda args, op: matmul(args[0], op),
    "transpose": lambda args, op: transpose(args[0], op),
    "softmax": lambda args, op: softmax(args[0], op),
}

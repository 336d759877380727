"""The integer reference: the specification of the arithmetic, in numpy, with no torch.

Every op works on a batch (N, ...) of windows. Dot products are computed with float64
matrix products: every term is an integer and every partial sum stays far below 2**53
(|x - zp| <= 255, |w| <= 127, so 2**53 allows over 2.7e11 terms), so float64 BLAS is
exact here and much faster than numpy's integer matmul. Accumulators are then int64,
the requantize follows `arithmetic`.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .arithmetic import INT8_MAX, INT8_MIN, requantize, requantize_leaky, rounding_shift
from .extra_ops import REFERENCE as EXTRA
from .intgraph import IntGraph, Op


def _exact(a: np.ndarray) -> np.ndarray:
    return np.rint(a).astype(np.int64)


def _epilogue(acc: np.ndarray, p: dict, y_zp: int, channel_axis: int) -> np.ndarray:
    shape = [1] * acc.ndim
    shape[channel_axis] = -1
    r = lambda k: p[k].astype(np.int64).reshape(shape)  # noqa: E731
    if np.array_equal(p["m_pos"], p["m_neg"]) and np.array_equal(p["n_pos"], p["n_neg"]):
        return requantize(acc, r("m_pos"), r("n_pos"), y_zp)
    return requantize_leaky(acc, r("m_pos"), r("n_pos"), r("m_neg"), r("n_neg"), y_zp)


def conv1d(x: np.ndarray, op: Op) -> np.ndarray:
    """Grouped (w (Co, Ci/G, K), output channel o reads input group o // (Co/G)) and dilated
    (taps d apart) convolution."""
    a, p = op.attrs, op.params
    g, d = a.get("group", 1), a.get("dilation", 1)
    w = p["w"].astype(np.float64)  # (Co, Ci/G, K)
    co, cig, k = w.shape
    xc = x.astype(np.float64) - a["x_zp"]  # padding (x_zp) becomes a real 0
    xc = np.pad(xc, ((0, 0), (0, 0), tuple(a["pad"])))
    span = d * (k - 1) + 1
    patches = sliding_window_view(xc, span, axis=2)[:, :, :: a["stride"], ::d]  # (N, Ci, Lo, K)
    patches = patches.reshape(x.shape[0], g, cig, patches.shape[2], k)
    acc = _exact(np.einsum("ngclk,gdck->ngdl", patches, w.reshape(g, co // g, cig, k), optimize=True))
    acc = acc.reshape(x.shape[0], co, -1)
    acc += p["bias"].astype(np.int64)[None, :, None]
    return _epilogue(acc, p, a["y_zp"], channel_axis=1)


def conv_transpose1d(x: np.ndarray, op: Op) -> np.ndarray:
    """Each input sample scatters K taps at stride s, then `pad` is cropped (ONNX semantics);
    no zero insertion, so any pad % stride works."""
    a, p = op.attrs, op.params
    w = p["w"].astype(np.float64)  # (Ci, Co, K)
    s, (pb, pe), opad = a["stride"], a["pad"], a.get("output_padding", 0)
    xc = x.astype(np.float64) - a["x_zp"]
    n, _, lin = xc.shape
    k = w.shape[2]
    full_len = (lin - 1) * s + k + opad
    taps = np.einsum("ncl,cdk->kndl", xc, w, optimize=True)  # (K, N, Co, Lin)
    full = np.zeros((n, w.shape[1], full_len))
    for j in range(k):
        full[:, :, j : j + (lin - 1) * s + 1 : s] += taps[j]
    acc = _exact(full[:, :, pb : full_len - pe]) + p["bias"].astype(np.int64)[None, :, None]
    return _epilogue(acc, p, a["y_zp"], channel_axis=1)


def global_sum(x: np.ndarray, op: Op) -> np.ndarray:
    return (x.astype(np.int64) - op.attrs["x_zp"]).sum(axis=-1)


def dense(x: np.ndarray, op: Op, out_shape) -> np.ndarray:
    a, p = op.attrs, op.params
    xf = x.reshape(x.shape[0], -1).astype(np.float64) - a["x_zp"]
    acc = _exact(xf @ p["w"].astype(np.float64).T) + p["bias"].astype(np.int64)[None, :]
    return _epilogue(acc, p, a["y_zp"], channel_axis=1).reshape((x.shape[0],) + tuple(out_shape))


def lut(x: np.ndarray, op: Op) -> np.ndarray:
    return op.params["table"][x.astype(np.int16) + 128]


def mul(a_: np.ndarray, b_: np.ndarray, op: Op) -> np.ndarray:
    a = op.attrs
    prod = (a_.astype(np.int64) - a["a_zp"]) * (b_.astype(np.int64) - a["b_zp"]) * a["m"]
    return np.clip(rounding_shift(prod, a["n"]) + a["y_zp"], INT8_MIN, INT8_MAX).astype(np.int8)


def add(a_: np.ndarray, b_: np.ndarray, op: Op) -> np.ndarray:
    a = op.attrs
    acc = (a_.astype(np.int64) - a["a_zp"]) * a["ma"] + (b_.astype(np.int64) - a["b_zp"]) * a["mb"]
    return np.clip(rounding_shift(acc, a["n"]) + a["y_zp"], INT8_MIN, INT8_MAX).astype(np.int8)


def run_op(op: Op, args: list[np.ndarray], graph: IntGraph) -> np.ndarray:
    if op.kind == "conv1d":
        return conv1d(args[0], op)
    if op.kind == "conv_transpose1d":
        return conv_transpose1d(args[0], op)
    if op.kind == "global_sum":
        return global_sum(args[0], op)
    if op.kind == "dense":
        return dense(args[0], op, graph.tensors[op.outputs[0]].shape)
    if op.kind == "lut":
        return lut(args[0], op)
    if op.kind == "mul":
        return mul(args[0], args[1], op)
    if op.kind == "add":
        return add(args[0], args[1], op)
    if op.kind in EXTRA:
        return EXTRA[op.kind](args, op)
    raise ValueError(f"integer reference has no op {op.kind!r} (layer {op.name})")


def run(graph: IntGraph, x, keep: bool = False, batch: int = 256) -> dict[str, np.ndarray]:
    """Run the graph on int8 input(s) shaped (N, *input_shape) or input_shape: one array for
    a one-input model, or a dict input name -> array (names as in graph.inputs).

    Returns the graph outputs by name (all intermediates too when keep=True)."""
    xs = x if isinstance(x, dict) else {graph.inputs[0]: x}
    if sorted(xs) != sorted(graph.inputs):
        raise ValueError(f"the model's inputs are {graph.inputs}, got {sorted(xs)}")
    xs = {k: np.asarray(v) for k, v in xs.items()}
    single = None
    for name, v in xs.items():
        if v.dtype != np.int8:
            raise TypeError(f"the integer reference takes int8 input, got {v.dtype} for {name!r}")
        in_shape = tuple(graph.tensors[name].shape)
        one = v.shape == in_shape
        if single is not None and one != single:
            raise ValueError("give every input with or without the batch axis")
        single = one
        if (v[None] if one else v).shape[1:] != in_shape:
            raise ValueError(f"input shape {v.shape[1:]} does not match the model's {in_shape}")
    if single:
        xs = {k: v[None] for k, v in xs.items()}
    total = next(iter(xs.values())).shape[0]
    views = {v: graph.base(v) for v in graph.views}
    chunks = []
    for i in range(0, total, batch):
        env = {k: v[i : i + batch] for k, v in xs.items()}

        def view(t):
            if t in env:
                return env[t]
            base = env[views[t]]
            return base.reshape((base.shape[0],) + tuple(graph.tensors[t].shape))
        for op in graph.ops:
            env[op.outputs[0]] = run_op(op, [view(t) for t in op.inputs], graph)
        if keep:
            for t in views:
                if views[t] in env:
                    env[t] = view(t)
        chunks.append(env if keep else {k: view(k) for k in graph.outputs})
    out = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    return {k: v[0] for k, v in out.items()} if single else out

"""The integer reference: the specification of the arithmetic, in numpy, with no torch.

Every op works on a batch (N, ...) of windows. Dot products are computed with float64
matrix products: every term is an integer and every partial sum stays far below 2**53
(|x - zp| <= 255, |w| <= 127, so 2**53 allows over 2.7e11 terms), so float64 BLAS is
exact here and much faster than numpy's integer matmul. Accumulators are then int64,
the requantize follows `arithmetic`. Each op's reference lives in its module in
edgekit/ops/ (`reference(op, args, graph)`); this module runs a graph through them.
"""
from __future__ import annotations

import numpy as np

from .intgraph import IntGraph, Op


def _op(kind: str):
    from .. import ops
    return ops.get(kind)


def conv1d(x: np.ndarray, op: Op) -> np.ndarray:
    return _op("conv1d").reference(op, [x])


def conv_transpose1d(x: np.ndarray, op: Op) -> np.ndarray:
    return _op("conv_transpose1d").reference(op, [x])


def global_sum(x: np.ndarray, op: Op) -> np.ndarray:
    return _op("global_sum").reference(op, [x])


def dense(x: np.ndarray, op: Op, out_shape) -> np.ndarray:
    return _op("dense").reference(op, [x], out_shape=out_shape)


def lut(x: np.ndarray, op: Op) -> np.ndarray:
    return _op("lut").reference(op, [x])


def mul(a_: np.ndarray, b_: np.ndarray, op: Op) -> np.ndarray:
    return _op("mul").reference(op, [a_, b_])


def add(a_: np.ndarray, b_: np.ndarray, op: Op) -> np.ndarray:
    return _op("add").reference(op, [a_, b_])


def run_op(op: Op, args: list[np.ndarray], graph: IntGraph) -> np.ndarray:
    """One layer on a batch, through its op module's `reference`."""
    from .. import ops
    if op.kind not in ops.OPS:
        raise ValueError(f"integer reference has no op {op.kind!r} (layer {op.name})")
    return ops.get(op.kind).reference(op, args, graph)


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

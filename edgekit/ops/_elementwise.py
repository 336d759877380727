"""mul and add: two int8 operands, one int64 rounding; equal shapes (flat loop) or, for mul,
(C, L) * (C, 1) broadcast over time."""
from __future__ import annotations

import numpy as np

from ..ir.arithmetic import INT8_MAX, INT8_MIN, rounding_shift
from ..ir.intgraph import IntGraph, Op
from .kernel import Kernel


def reference(op: Op, a_: np.ndarray, b_: np.ndarray, value) -> np.ndarray:
    """value(a - a_zp, b - b_zp) (int64 arrays) -> the sum before the rounding shift."""
    a = op.attrs
    acc = value(a_.astype(np.int64) - a["a_zp"], b_.astype(np.int64) - a["b_zp"])
    return np.clip(rounding_shift(acc, a["n"]) + a["y_zp"], INT8_MIN, INT8_MAX).astype(np.int8)


def describe(op: Op, graph: IntGraph) -> str:
    a = op.attrs
    return f"a_zp={a['a_zp']} b_zp={a['b_zp']} y_zp={a['y_zp']}"


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    t = graph.tensors
    k.add_input("a", t[k.op.inputs[0]])
    k.add_input("b", t[k.op.inputs[1]])
    k.add_output(t[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph, value):
    """value(a - a_zp, b - b_zp) -> the int64 sum before the rounding shift."""
    from tvm import te, tirx

    a = k.op.attrs
    yzp, n = int(a["y_zp"]), int(a["n"])
    c64 = lambda v: tirx.const(int(v), "int64")  # noqa: E731
    a_shape, b_shape = tuple(int(v) for v in k.args[0].shape), tuple(int(v) for v in k.args[1].shape)
    if a_shape == b_shape:  # element-wise: flat
        size = int(np.prod(a_shape))
        xa, xb = te.placeholder((size,), "int8", "a"), te.placeholder((size,), "int8", "b")
        shape, av, bv = (size,), (lambda i: xa[i]), (lambda i: xb[i])
    else:  # (C, L) * (C, 1): per-channel broadcast over time
        xa, xb = te.placeholder(a_shape, "int8", "a"), te.placeholder(b_shape, "int8", "b")
        shape, av, bv = a_shape, (lambda ch, t: xa[ch, t]), (lambda ch, t: xb[ch, 0])

    def f(*i):
        v = value(av(*i).astype("int32") - int(a["a_zp"]), bv(*i).astype("int32") - int(a["b_zp"]))
        q = ((v + c64(1 << (n - 1))) >> c64(n)) + c64(yzp)
        return tirx.max(tirx.min(q, c64(127)), c64(-128)).astype("int8")
    y = te.compute(shape, f, name="y")
    return [xa, xb, y], None



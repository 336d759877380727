"""concat: k int8 inputs joined along attrs axis (0 = channels, 1 = time; (C, L) or (C,)
tensors), each brought to the output's quantization: ms[i] = 0 (same scale) gives
y = clamp(x - x_zp + y_zp), else y = requantize(x - x_zp, ms[i], ns[i], y_zp);
attrs axis, x_zps, ms, ns, y_zp."""
from __future__ import annotations

import numpy as np

from ..ir.arithmetic import INT8_MAX, INT8_MIN, requantize
from ..ir.intgraph import IntGraph, Op
from . import _common as c
from .kernel import Kernel

KIND = "concat"
FUSES_ADD = False
ELEMENTWISE = False


def check(op: Op, graph: IntGraph) -> None:
    ins = [graph.tensors[t] for t in op.inputs]
    axis = int(op.attrs["axis"])
    rank = len(ins[0].shape)
    if rank not in (1, 2) or any(len(t.shape) != rank for t in ins) or not 0 <= axis < rank:
        c.unsupported(op, f"concat of {[t.shape for t in ins]} along axis {axis}")
    for t in ins:
        if any(t.shape[d] != ins[0].shape[d] for d in range(rank) if d != axis):
            c.unsupported(op, f"concat inputs {[t.shape for t in ins]} differ off axis {axis}")
    want = list(ins[0].shape)
    want[axis] = sum(t.shape[axis] for t in ins)
    c.expect_shape(op, graph, tuple(want), f"concat along axis {axis}")
    if len(set(op.inputs)) != len(op.inputs):
        c.unsupported(op, "the same tensor twice in one concat")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return 0


def acc_bound(op: Op, graph: IntGraph) -> int:
    return 0


def _part(x: np.ndarray, zp: int, m: int, n: int, y_zp: int) -> np.ndarray:
    xc = x.astype(np.int64) - zp
    if m == 0:
        return np.clip(xc + y_zp, INT8_MIN, INT8_MAX).astype(np.int8)
    return requantize(xc, m, n, y_zp)


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    a = op.attrs
    parts = [_part(x, zp, m, n, a["y_zp"]) for x, zp, m, n in zip(args, a["x_zps"], a["ms"], a["ns"])]
    return np.concatenate(parts, axis=1 + int(a["axis"]))


def describe(op: Op, graph: IntGraph) -> str:
    return f"{len(op.inputs)} inputs along axis {op.attrs['axis']}, y_zp={op.attrs['y_zp']}"


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    for i, t in enumerate(k.op.inputs):
        k.add_input(f"x{i}", graph.tensors[t])
    k.add_output(graph.tensors[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te, tirx

    a = k.op.attrs
    ph = c.placeholders(k)
    xs = [ph[f"x{i}"] for i in range(len(k.op.inputs))]
    axis = int(a["axis"])
    shape = tuple(int(v) for v in k.args[-1].shape)
    c64 = lambda v: tirx.const(int(v), "int64")  # noqa: E731
    starts = np.cumsum([0] + [int(x.shape[axis]) for x in xs])

    def value(i, idx):
        v = xs[i][idx].astype("int32") - int(a["x_zps"][i])
        if int(a["ms"][i]) == 0:
            q = v.astype("int64") + c64(a["y_zp"])
            return tirx.max(tirx.min(q, c64(INT8_MAX)), c64(INT8_MIN)).astype("int8")
        return c.te_requantize(v, a["ms"][i], a["ns"][i], a["y_zp"])

    def f(*idx):
        out = None
        for i in reversed(range(len(xs))):
            src = list(idx)
            src[axis] = idx[axis] - int(starts[i])
            v = value(i, tuple(src))
            out = v if out is None else tirx.if_then_else(idx[axis] < int(starts[i + 1]), v, out)
        return out
    y = te.compute(shape, f, name="y")
    return xs + [y], None

"""softmax over the last axis of x int8 (R, N) or (N,):

    d_k = max_j x_j - x_k                        in [0, 255]
    e_k = table[d_k] = round(exp(-s_x * d_k) * 2**B)     int32, table[0] = 2**B
    S   = sum_k e_k                              int32: N * 2**B < 2**31
    y_k = clamp(y_zp + (e_k * M0 + (S << (n-1))) // (S << n))   int64, M0 * 2**-n = 1 / s_y

so y_k = y_zp + round_half_up(e_k / S / s_y): one rounding of the ratio of the table values,
as ONNX defines DequantizeLinear -> Softmax -> QuantizeLinear. B = min(22, 30 - ceil(log2 N)).
(onnxruntime's optimized QLinearSoftmax differs from that definition: it multiplies by
floor(1 / s_y), 254 for the usual s_y = 1/255, and rounds a float32 quotient.)
params table int32 (256,); attrs y_zp, m, n, bits."""
from __future__ import annotations

import math

import numpy as np

from ..ir.arithmetic import INT8_MAX, INT8_MIN, quantize_multiplier
from ..ir.intgraph import IntGraph, Op, TensorInfo
from . import _common as c
from .kernel import Kernel

KIND = "softmax"
FUSES_ADD = False
ELEMENTWISE = False
MAX_LEN = 1 << 15


def params(x: TensorInfo, out: TensorInfo, where: str) -> tuple[dict, dict]:
    """(params, attrs) of a softmax from x to out (the frontend calls this)."""
    from ..ir.intgraph import UnsupportedModelError

    n_len = int(x.shape[-1])
    if n_len > MAX_LEN:
        raise UnsupportedModelError(f"{where}: Softmax over {n_len} values; at most {MAX_LEN} are supported")
    log_n = max(1, math.ceil(math.log2(max(n_len, 2))))
    bits = min(22, 30 - log_n)
    d = np.arange(256, dtype=np.float64)
    table = np.rint(np.exp(-np.float64(x.scale) * d) * 2.0 ** bits).astype(np.int64)
    m0, n = quantize_multiplier(1.0 / float(out.scale))
    if bits + log_n + n > 62:
        raise UnsupportedModelError(f"{where}: Softmax output scale {out.scale:g} is too large (needs a shift "
                                    f"of {n}); quantize the probabilities with a scale below 1")
    return {"table": table.astype(np.int32)}, {"y_zp": out.zero_point, "m": m0, "n": n, "bits": bits}


def check(op: Op, graph: IntGraph) -> None:
    x = graph.tensors[op.inputs[0]]
    if len(x.shape) not in (1, 2):
        c.unsupported(op, f"softmax over a tensor of shape {x.shape}")
    if tuple(graph.tensors[op.outputs[0]].shape) != tuple(x.shape):
        c.unsupported(op, "softmax output shape differs from its input")
    c.int8_inputs_only(op, graph)


def macs(op: Op, tensors) -> int:
    return int(np.prod(tensors[op.inputs[0]].shape))


def acc_bound(op: Op, graph: IntGraph) -> int:
    return int(graph.tensors[op.inputs[0]].shape[-1]) << int(op.attrs["bits"])


def reference(op: Op, args: list, graph: IntGraph | None = None) -> np.ndarray:
    a = op.attrs
    xi = args[0].astype(np.int64)
    d = xi.max(axis=-1, keepdims=True) - xi
    e = op.params["table"].astype(np.int64)[d]
    s = e.sum(axis=-1, keepdims=True)
    n = int(a["n"])
    q = (e * int(a["m"]) + (s << (n - 1))) // (s << n)
    return np.clip(q + a["y_zp"], INT8_MIN, INT8_MAX).astype(np.int8)


def describe(op: Op, graph: IntGraph) -> str:
    return f"exp table 2**{op.attrs['bits']}, y_zp={op.attrs['y_zp']}"


def make_kernel(k: Kernel, graph: IntGraph) -> Kernel:
    k.add_input("x", graph.tensors[k.op.inputs[0]])
    k.add_const("table", k.op.params["table"], f"round(exp(-s_x * d) * 2**{k.op.attrs['bits']}), d = max - x")
    k.add_output(graph.tensors[k.step.output])
    return k


def build(k: Kernel, graph: IntGraph):
    from tvm import te, tirx

    a = k.op.attrs
    ph = c.placeholders(k)
    table = ph["table"]
    shape = tuple(int(v) for v in k.args[0].shape)
    rows, n_len = (1, shape[0]) if len(shape) == 1 else shape
    x = te.placeholder((rows, n_len), "int8", "x")
    c64 = lambda v: tirx.const(int(v), "int64")  # noqa: E731
    rj = te.reduce_axis((0, n_len), "j")
    xmax = te.compute((rows,), lambda r: te.max(x[r, rj].astype("int32"), axis=[rj]), name="xmax")
    rj2 = te.reduce_axis((0, n_len), "j2")
    total = te.compute((rows,), lambda r: te.sum(table[xmax[r] - x[r, rj2].astype("int32")], axis=[rj2]),
                       name="total")
    n = int(a["n"])

    def f(r, j):
        e = table[xmax[r] - x[r, j].astype("int32")].astype("int64")
        s = total[r].astype("int64")
        q = tirx.truncdiv(e * c64(a["m"]) + (s << c64(n - 1)), s << c64(n)) + c64(a["y_zp"])
        return tirx.max(tirx.min(q, c64(INT8_MAX)), c64(INT8_MIN)).astype("int8")
    y = te.compute((rows, n_len), f, name="y")

    def sched(sch):
        row = sch.get_loops(sch.get_sblock("y"))[0]
        sch.compute_at(sch.get_sblock("total"), row)
        sch.compute_at(sch.get_sblock("xmax"), row)
    return [x, table, y], sched

"""Pieces shared by several op modules: the reference requantize of an accumulator, bounds
on inputs, and (for conv1d, conv_transpose1d, dense: the "MAC ops") the kernel signature,
the TE requantize epilogue with the fused skip add, and the reduction schedule."""
from __future__ import annotations

import numpy as np

from ..ir.arithmetic import requantize, requantize_leaky
from ..ir.intgraph import IntGraph, Op, UnsupportedModelError
from .kernel import Kernel, int32_array, is_leaky

MAX_UNROLL = 16


# --- reference ---------------------------------------------------------------------------
def exact(a: np.ndarray) -> np.ndarray:
    """float64 sums of integer products (exact below 2**53) -> int64."""
    return np.rint(a).astype(np.int64)


def epilogue(acc: np.ndarray, p: dict, y_zp: int, channel_axis: int) -> np.ndarray:
    shape = [1] * acc.ndim
    shape[channel_axis] = -1
    r = lambda k: p[k].astype(np.int64).reshape(shape)  # noqa: E731
    if np.array_equal(p["m_pos"], p["m_neg"]) and np.array_equal(p["n_pos"], p["n_neg"]):
        return requantize(acc, r("m_pos"), r("n_pos"), y_zp)
    return requantize_leaky(acc, r("m_pos"), r("n_pos"), r("m_neg"), r("n_neg"), y_zp)


# --- frontend checks and bounds ---------------------------------------------------------
def int8_dev(zp: int) -> int:
    """Largest |q - zp| over int8 q."""
    return max(abs(-128 - zp), abs(127 - zp))


def input_bound(op: Op, graph: IntGraph) -> int:
    """Largest |x - x_zp| the op's (first) input can hold."""
    t = graph.tensors[op.inputs[0]]
    if t.dtype == "int8":
        return int8_dev(int(op.attrs.get("x_zp", 0)))
    prod = graph.producer(op.inputs[0])
    if prod is None or prod.kind != "global_sum":
        raise UnsupportedModelError(f"layer {op.name!r}: an int32 input must come from a global_sum, "
                                    f"{op.inputs[0]!r} does not")
    return int(prod.attrs["length"]) * int8_dev(int(prod.attrs["x_zp"]))


def expect_shape(op: Op, graph: IntGraph, want: tuple, what: str) -> None:
    got = tuple(graph.tensors[op.outputs[0]].shape)
    if int(np.prod(got)) != int(np.prod(want)):
        raise UnsupportedModelError(f"layer {op.name!r} ({op.kind}): output {op.outputs[0]!r} has shape {got}, "
                                    f"but {what} gives {want}")


def unsupported(op: Op, why: str):
    raise UnsupportedModelError(f"layer {op.name!r} ({op.kind}): {why}")


def two_d(op: Op, t) -> None:
    if len(t.shape) != 2:
        unsupported(op, f"input {t.name!r} has shape {t.shape}; (channels, length) is supported")


def int8_inputs_only(op: Op, graph: IntGraph) -> None:
    for name in op.inputs:
        if graph.tensors[name].dtype == "int32":
            raise UnsupportedModelError(f"layer {op.name!r} ({op.kind}) cannot take the int32 tensor {name!r}")


def mac_acc_bound(op: Op, graph: IntGraph, wsum: np.ndarray, folded: np.ndarray) -> int:
    """Largest |int32| of the generic kernel's accumulation: partial sums of x * w (x the raw
    int8 or int32 input, the zero point being folded into the bias), the folded bias, and
    the final acc + bias (exact worst case over all inputs). wsum: per output channel (or
    phase) sum |w| over the taps one output reads."""
    raw = 128 if graph.tensors[op.inputs[0]].dtype == "int8" else input_bound(op, graph)
    final = input_bound(op, graph) * wsum + np.abs(op.params["bias"].astype(np.int64))
    return int(max(np.max(raw * wsum), np.max(final), np.max(np.abs(folded))))


# --- kernels of the MAC ops --------------------------------------------------------------
def describe_mac(op: Op, extra: str) -> str:
    a = op.attrs
    extra += ", LeakyReLU" if is_leaky(op) else ", linear"
    return extra + f", x_zp={a['x_zp']} y_zp={a['y_zp']}"


def mac_consts(k: Kernel, op: Op, bias: np.ndarray, bias_note: str) -> None:
    """bias (x_zp folded in, int32) and the requantize multipliers/shifts, in that order."""
    k.add_const("bias", int32_array(f"{op.name} folded bias", bias), bias_note)
    p = op.params
    if is_leaky(op):
        k.add_const("m_pos", p["m_pos"], "requantize multiplier M0, acc + bias >= 0")
        k.add_const("n_pos", p["n_pos"], "requantize shift n, acc + bias >= 0")
        k.add_const("m_neg", p["m_neg"], "M0 for acc + bias < 0 (LeakyReLU slope folded in)")
        k.add_const("n_neg", p["n_neg"], "n for acc + bias < 0")
    else:
        k.add_const("m", p["m_pos"], "requantize multiplier M0")
        k.add_const("n", p["n_pos"], "requantize shift n")


def mac_kernel(k: Kernel, graph: IntGraph, w: np.ndarray, bias: np.ndarray, bias_note: str) -> Kernel:
    """The generic MAC-op signature: (x, w, bias, m.., n.., [skip], y)."""
    op, step, t = k.op, k.step, graph.tensors
    k.add_input("x", t[op.inputs[0]])
    k.add_const("w", w)
    mac_consts(k, op, bias, bias_note)
    if step.post is not None:
        k.add_input("skip", t[step.inputs[-1]])
    k.add_output(t[step.output])
    return k


def bias_note(op: Op) -> str:
    zp = int(op.attrs.get("x_zp", 0))
    return f"bias - x_zp * sum(w) (x_zp={zp} folded in)" if zp else "bias"


def placeholders(k: Kernel) -> dict:
    """TE placeholders of every argument but the output, by C name."""
    from tvm import te
    return {a.cname: te.placeholder(tuple(int(v) for v in a.shape), a.dtype, a.cname) for a in k.args[:-1]}


def te_requant(k: Kernel, ph: dict):
    """requant(acc32, bias, o, *idx): int32 accumulator -> the step's int8 output (the layer's
    requantize, LeakyReLU by the sign of acc + bias, then the fused add if any), as TE."""
    from tvm import tirx

    op, post = k.op, k.step.post
    i64 = lambda e: e.astype("int64")  # noqa: E731
    c64 = lambda v: tirx.const(int(v), "int64")  # noqa: E731

    def clamp(v64):
        return tirx.max(tirx.min(v64, c64(127)), c64(-128))

    def requant(acc32, bias, o, *idx):
        v = acc32 + bias
        if is_leaky(op):
            neg = v < 0
            m = tirx.Select(neg, ph["m_neg"][o], ph["m_pos"][o])
            n = tirx.Select(neg, ph["n_neg"][o], ph["n_pos"][o])
        else:
            m, n = ph["m"][o], ph["n"][o]
        n = i64(n)
        q = clamp(((i64(v) * i64(m) + (c64(1) << (n - c64(1)))) >> n) + c64(op.attrs["y_zp"]))
        if post is None:
            return q.astype("int8")
        skip = i64(ph["skip"][(o, *idx)])
        pa = post.attrs
        va, vb = (q, skip) if post.inputs[0] == op.outputs[0] else (skip, q)
        acc = (va - c64(pa["a_zp"])) * c64(pa["ma"]) + (vb - c64(pa["b_zp"])) * c64(pa["mb"])
        return clamp(((acc + c64(1 << (int(pa["n"]) - 1))) >> c64(pa["n"])) + c64(pa["y_zp"])).astype("int8")
    return requant


def te_requantize(v32, m, n, y_zp: int, half_even: bool = False):
    """TE: clamp(y_zp + ((v * M0 + 2**(n-1)) >> n), -128, 127) as int8, v int32, M0/n Python
    ints or TE expressions; half_even: an exact tie goes to the even neighbour
    (arithmetic.requantize_half_even)."""
    from tvm import tirx

    c64 = lambda v: tirx.const(int(v), "int64") if isinstance(v, (int, np.integer)) else v.astype("int64")  # noqa: E731
    prod = v32.astype("int64") * c64(m)
    n64 = c64(n)
    one = tirx.const(1, "int64")
    q = (prod + (one << (n64 - one))) >> n64
    if half_even:
        tie = (prod & ((one << n64) - one)) == (one << (n64 - one))
        q = q - tirx.Select(tie, q & one, tirx.const(0, "int64"))
    q = q + tirx.const(int(y_zp), "int64")
    return tirx.max(tirx.min(q, tirx.const(127, "int64")), tirx.const(-128, "int64")).astype("int8")


def reduction_schedule(spatial: int, taps: int, has_pad: bool):
    """Inline the padding, compute the epilogue under the output loop (the accumulator is a
    scalar), unroll a short innermost reduction loop."""
    def sched(sch):
        if has_pad:
            sch.compute_inline(sch.get_sblock("pad"))
        blk = sch.get_sblock("acc")
        loops = sch.get_loops(blk)
        sch.reverse_compute_at(sch.get_sblock("y"), loops[spatial - 1])
        if taps <= MAX_UNROLL and len(loops) > spatial + 1:
            sch.unroll(loops[-1])
        sch.decompose_reduction(blk, sch.get_loops(blk)[spatial])
    return sched

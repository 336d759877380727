"""The mul overlay of the mve and riscv sets: a (C, L) * (C, 1) broadcast (the ECA gate) in
the int32 form of ek_mul.h, one C call per layer."""
from __future__ import annotations

HEADERS = ("../ek_mul.h",)


def claims(step, graph) -> str | None:
    op = step.main
    a, b = (graph.tensors[t] for t in op.inputs)
    if len(a.shape) != 2 or tuple(b.shape) != (a.shape[0], 1):
        return f"not a (C, L) * (C, 1) broadcast ({tuple(a.shape)} * {tuple(b.shape)})"
    n, m = int(op.attrs["n"]), int(op.attrs["m"])
    if not (33 <= n <= 62 and 0 <= m < 2**31):
        return f"shift n={n} (the int32 form needs 33..62)"
    return None


def make_kernel(k, graph):
    t = graph.tensors
    k.add_input("a", t[k.op.inputs[0]])
    k.add_input("b", t[k.op.inputs[1]])
    k.add_output(t[k.step.output])
    return k


def build(k, graph):
    from tvm.tirx.script.builder import ir as T

    from .. import tir

    a = k.op.attrs
    c, length = (int(v) for v in graph.tensors[k.op.inputs[0]].shape)

    def body(bufs):
        T.evaluate(tir.call("ek_mul_bcast", bufs["a"], (0, 0), bufs["b"], (0, 0), bufs["y"], (0, 0), c, length,
                            int(a["a_zp"]), int(a["b_zp"]), int(a["y_zp"]), int(a["m"]), int(a["n"])))
    return tir.prim_func(k, body)

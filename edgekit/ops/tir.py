"""Helpers for kernels written directly in TIR (an overlay's loop nest calling a C
micro-kernel with T.call_extern), built with TVM's IR builder: plain Python, so shapes,
strides and constants of the layer are ordinary ints.

    def build(k, graph):
        def body(b):                          # b: C name -> tirx.Buffer, in signature order
            with T.grid(co, lo) as (o, t):
                name(["o", "t"], [o, t])
                acc = T.bind(call("my_dot", b["xs"], (t * stride,), b["w"], (o, 0, 0), kp))
                T.buffer_store(b["y"], requant(k, b)(acc, b["bias"][o], o, t), [o, t])
        return prim_func(k, body)

Loop variables are named v, v_1, ... unless named (`name(["o", "t"], [o, t])`): name them
for readable C, and name the output-time loop `t` if the kernel sets `time_split` (the
compiler splits the loop called `t` into edge / interior / edge).

TVM is imported lazily (only the compiler calls build)."""
from __future__ import annotations

from . import _common
from .kernel import Kernel


def prim_func(k: Kernel, body):
    """A PrimFunc whose parameters are the kernel's arguments (same names, shapes, dtypes, in
    signature order); body(buffers) emits the statements with tvm.tirx.script.builder.ir."""
    from tvm.script.ir_builder import IRBuilder
    from tvm.tirx.script.builder import ir as T

    with IRBuilder() as ib:
        with T.prim_func():
            T.func_name(k.func)
            bufs = {a.cname: T.arg(a.cname, T.buffer(tuple(int(s) for s in a.shape), a.dtype)) for a in k.args}
            body(bufs)
    return ib.get()


def name(names: list[str], variables: list):
    """Give loop variables (from T.serial / T.grid) their C names."""
    from tvm.script.ir_builder import IRBuilder
    return IRBuilder.name_many(names, list(variables))


def call(func: str, *args, dtype: str = "int32"):
    """T.call_extern(dtype, func, ...): a Buffer followed by an index tuple becomes the
    address of that element (`&buf[idx]`); ints and expressions pass as they are. The C
    function must take `const` pointers for read-only arrays (kernel inputs and constants
    are const in the generated C). Bind the result to a variable (T.bind) before using it
    more than once: TVM does not merge repeated calls."""
    from tvm import tirx

    out, i = [], 0
    while i < len(args):
        a = args[i]
        if isinstance(a, tirx.Buffer):
            idx = args[i + 1]
            out.append(tirx.address_of(a[tuple(idx)]))
            i += 2
        else:
            out.append(a)
            i += 1
    return tirx.call_extern(dtype, func, *out)


def requant(k: Kernel, bufs: dict):
    """requant(acc32, bias, o, *idx) -> the step's int8 output value: the generic kernel's
    exact epilogue (requantize with one rounding, LeakyReLU by the sign of acc + bias, the
    fused skip add), on TIR buffers. bufs needs m/n (or m_pos/n_pos/m_neg/n_neg) and, with a
    fused add, skip."""
    return _common.te_requant(k, bufs)

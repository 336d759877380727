"""TVM kernels: one integer C function per step (a layer, or a conv with its skip add
fused, see steps.py), all in one IRModule / one C file.

Each kernel is written in TE (tensor expressions), scheduled with `s_tir.Schedule` for a
microcontroller and lowered by our own copy of the CPU lowering pipeline, in which the
pass `make_plain_api` takes the place of `MakePackedAPI`: every buffer parameter becomes
a plain typed pointer, so `target.build.c` emits

    void enc1_conv1d(const int8_t* x, const int8_t* w, ..., int8_t* y)

with no DLTensor, no TVM-FFI argument checks and no workspace allocation.

Kernel forms (zero points and per-layer scalars are baked in as immediates; per-channel
arrays are pointer arguments, `const` in flash). The input zero point is folded into the
bias (frontend.folded_bias): sum (x - zp) * w = sum x * w - zp * sum w, padding reads x = zp.

conv1d            acc[o,t] = sum_{c,k} pad(x)[c, t*s + k] * w[o,c,k], pad(x) = x inside the
                  input and x_zp outside (inlined into the reduction: no padded copy)
conv_transpose1d  gather form, no zero insertion: with q = (t + pad_begin) / s and
                  r = (t + pad_begin) % s, acc[o,t] = sum_{c,m} x[c, q - m] * w[c, o, r + s*m]
                  over r + s*m < K (x[c, j] = x_zp outside 0 <= j < L_in) and bias[o, r].
                  Only the ceil(K/s) taps of the output's phase are visited, for any pad
                  (pad % s != 0 included).
dense             acc[o] = sum_i x[i] * w[o,i], x int8 or int32 (a global sum)
epilogue          y = clamp(y_zp + (((int64)(acc + bias) * M0 + 2**(n-1)) >> n), -128, 127),
                  M0/n picked by the sign of acc + bias when a LeakyReLU is fused; computed
                  under the output loop (reverse_compute_at), so the accumulator is a scalar
fused add         (steps.py) in the same output loop: v = the clamped int8 value above,
                  y = clamp(y_zp + (((v - a_zp) * Ma + (skip - b_zp) * Mb + 2**(n-1)) >> n))
global_sum        y[c] = sum_t x[c,t] - L * x_zp (int32)
lut               y[i] = table[x[i] + 128]
mul               y = clamp(y_zp + (((a - a_zp) * (b[c] - b_zp) * M0 + 2**(n-1)) >> n)), int64
add               y = clamp(y_zp + (((a - a_zp) * Ma + (b - b_zp) * Mb + 2**(n-1)) >> n)), int64

Schedule (conv1d / conv_transpose1d / dense): compute_inline the padding, reverse_compute_at
the epilogue under the output loop, decompose_reduction (accumulator = a local scalar),
unroll the kernel-tap loop (K <= 16). After FlattenBuffer our pass `partition_time_loop`
splits the output-time loop of a conv into left edge / interior / right edge, so the
simplifier drops the padding test from the interior (TVM's schedule `loop_partition`
crashes on a loop that holds more than one block, and the TIR LoopPartition pass does not
split on a two-variable condition).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..quant.intgraph import IntGraph, Op
from .errors import CompilerError
from .frontend import folded_bias
from .names import c_comment, display_name
from .steps import Step

# The TVM headers target.build.c always includes; stand-ins are written next to kernels.c.
TVM_HEADERS = ("tvm/ffi/c_api.h", "tvm/runtime/base.h", "tvm/runtime/c_backend_api.h",
               "tvm/ffi/extra/c_env_api.h")
MAX_UNROLL = 16


@dataclass
class KernelArg:
    cname: str          # parameter name in the C signature
    dtype: str          # int8 | int32
    shape: tuple
    source: str         # "tensor" (an activation) or "param" (a constant array, in Kernel.consts)
    key: str            # tensor name, or the constant's name
    readonly: bool


@dataclass
class Kernel:
    step: Step
    func: str                       # C function name
    args: list[KernelArg]
    summary: str                    # one line for comments and reports
    consts: dict[str, np.ndarray] = field(default_factory=dict)   # param key -> array
    const_notes: dict[str, str] = field(default_factory=dict)     # param key -> comment
    time_split: tuple[int, int] | None = None   # interior [a, b) of the output-time loop

    @property
    def op(self) -> Op:
        return self.step.main

    def prototype(self) -> str:
        ps = [f"{'const ' if a.readonly else ''}{a.dtype}_t *{a.cname}" for a in self.args]
        return f"void {self.func}({', '.join(ps)})"


def is_leaky(op: Op) -> bool:
    p = op.params
    return not (np.array_equal(p["m_pos"], p["m_neg"]) and np.array_equal(p["n_pos"], p["n_neg"]))


def _int32(name: str, arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.int64)
    if arr.size and (arr.min() < -(2**31) or arr.max() > 2**31 - 1):
        raise CompilerError(f"{name} does not fit int32 (range {arr.min()}..{arr.max()})")
    return arr.astype(np.int32)


def make_kernel(step: Step, graph: IntGraph, func: str) -> Kernel:
    """Signature (activation inputs, constant arrays, [skip operand of a fused add], y) and
    the constant arrays of one step."""
    t = graph.tensors
    op = step.main
    x = t[op.inputs[0]]
    y = t[step.output]
    out = KernelArg("y", y.dtype, tuple(y.shape), "tensor", y.name, False)
    k = Kernel(step, func, [], describe(step, graph))
    act = lambda cname, tensor: KernelArg(cname, tensor.dtype, tuple(tensor.shape), "tensor",  # noqa: E731
                                          tensor.name, True)

    def const(cname, arr, note=""):
        arr = np.asarray(arr)
        k.consts[cname] = arr
        if note:
            k.const_notes[cname] = note
        k.args.append(KernelArg(cname, str(arr.dtype), arr.shape, "param", cname, True))

    if op.kind in ("conv1d", "conv_transpose1d", "dense"):
        k.args.append(act("x", x))
        const("w", op.params["w"])
        zp = int(op.attrs.get("x_zp", 0))
        note = f"bias - x_zp * sum(w) (x_zp={zp} folded in)" if zp else "bias"
        if op.kind == "conv_transpose1d":
            note += ", per output phase (t + pad_begin) % stride"
        const("bias", _int32(f"{op.name} folded bias", folded_bias(op)), note)
        if is_leaky(op):
            const("m_pos", op.params["m_pos"], "requantize multiplier M0, acc + bias >= 0")
            const("n_pos", op.params["n_pos"], "requantize shift n, acc + bias >= 0")
            const("m_neg", op.params["m_neg"], "M0 for acc + bias < 0 (LeakyReLU slope folded in)")
            const("n_neg", op.params["n_neg"], "n for acc + bias < 0")
        else:
            const("m", op.params["m_pos"], "requantize multiplier M0")
            const("n", op.params["n_pos"], "requantize shift n")
        if step.post is not None:
            k.args.append(act("skip", t[step.inputs[-1]]))
        k.time_split = _time_split(op, graph)
    elif op.kind == "global_sum":
        k.args.append(act("x", x))
    elif op.kind == "lut":
        k.args.append(act("x", x))
        const("table", op.params["table"], "y = table[x + 128]")
    elif op.kind in ("mul", "add"):
        k.args += [act("a", x), act("b", t[op.inputs[1]])]
    else:
        raise CompilerError(f"no kernel for op kind {op.kind!r} (layer {op.name})")
    k.args.append(out)
    return k


def _time_split(op: Op, graph: IntGraph) -> tuple[int, int] | None:
    """[a, b): the output times whose taps all read inside the input (no padding test)."""
    if op.kind == "dense":
        return None
    lin = int(graph.tensors[op.inputs[0]].shape[1])
    lo = int(graph.tensors[op.outputs[0]].shape[1])
    s = int(op.attrs["stride"])
    if op.kind == "conv1d":
        k = int(op.params["w"].shape[2])
        pl = int(op.attrs["pad"][0])
        a = -(-pl // s)                        # t*s - pl >= 0
        b = (lin + pl - k) // s + 1            # t*s + k - 1 - pl < lin
    else:
        k = int(op.params["w"].shape[2])
        pb = int(op.attrs["pad"][0])
        taps = -(-k // s)
        a = max(0, s * (taps - 1) - pb)        # (t + pb) // s - (taps - 1) >= 0
        b = s * lin - pb                       # (t + pb) // s < lin
    a, b = max(0, min(a, lo)), max(0, min(b, lo))
    if b <= a or (a == 0 and b == lo):
        return None
    return a, b


def describe(step: Step, graph: IntGraph) -> str:
    text = describe_op(step.main, graph)
    if step.post is not None:
        p = step.post
        a = p.attrs
        dn = display_name
        text += (f"; fused: then {dn(p.name)}: add {dn(step.inputs[-1])} -> {dn(p.outputs[0])}, a_zp={a['a_zp']} "
                 f"b_zp={a['b_zp']} y_zp={a['y_zp']} ({dn(step.main.outputs[0])} is never stored)")
    return text


def describe_op(op: Op, graph: IntGraph) -> str:
    t = graph.tensors
    shp = lambda n: "x".join(map(str, t[n].shape))  # noqa: E731
    a = op.attrs
    io = f"{' + '.join(shp(i) for i in op.inputs)} -> {shp(op.outputs[0])}"
    if op.kind == "conv1d":
        k = op.params["w"].shape[2]
        extra = f"K={k} stride={a['stride']} pad={tuple(a['pad'])}"
    elif op.kind == "conv_transpose1d":
        k = op.params["w"].shape[2]
        extra = f"K={k} stride={a['stride']} pad={tuple(a['pad'])} output_padding={a.get('output_padding', 0)}"
    elif op.kind == "dense":
        extra = f"{t[op.inputs[0]].dtype} input"
    elif op.kind == "global_sum":
        extra = f"length {a['length']}, x_zp={a['x_zp']}"
    elif op.kind in ("mul", "add"):
        extra = f"a_zp={a['a_zp']} b_zp={a['b_zp']} y_zp={a['y_zp']}"
    else:
        extra = ""
    if op.kind in ("conv1d", "conv_transpose1d", "dense"):
        extra += ", LeakyReLU" if is_leaky(op) else ", linear"
        extra += f", x_zp={a['x_zp']} y_zp={a['y_zp']}"
    return f"{display_name(op.name)}: {op.kind} {io}" + (f", {extra}" if extra else "")


# ---------------------------------------------------------------------------------------
# TE definitions
# ---------------------------------------------------------------------------------------
def _te_kernel(k: Kernel, graph: IntGraph):
    """(TE tensors in signature order, schedule function or None) for one kernel."""
    from tvm import te, tirx

    step, args = k.step, k.args
    op, post = step.main, step.post
    ph = {a.cname: te.placeholder(tuple(int(v) for v in a.shape), a.dtype, a.cname) for a in args[:-1]}
    i32 = lambda e: e.astype("int32")  # noqa: E731
    i64 = lambda e: e.astype("int64")  # noqa: E731
    c64 = lambda v: tirx.const(int(v), "int64")  # noqa: E731
    a = op.attrs
    y_shape = tuple(int(s) for s in graph.tensors[op.outputs[0]].shape)

    def clamp(v64):
        return tirx.max(tirx.min(v64, c64(127)), c64(-128))

    def requant(acc32, bias, o, *idx):
        """int32 accumulator -> int8 (the layer's output), then the fused add if any."""
        v = acc32 + bias
        if is_leaky(op):
            neg = v < 0
            m = tirx.Select(neg, ph["m_neg"][o], ph["m_pos"][o])
            n = tirx.Select(neg, ph["n_neg"][o], ph["n_pos"][o])
        else:
            m, n = ph["m"][o], ph["n"][o]
        n = i64(n)
        q = clamp(((i64(v) * i64(m) + (c64(1) << (n - c64(1)))) >> n) + c64(a["y_zp"]))
        if post is None:
            return q.astype("int8")
        skip = i64(ph["skip"][(o, *idx)])
        pa = post.attrs
        va, vb = (q, skip) if post.inputs[0] == op.outputs[0] else (skip, q)
        acc = (va - c64(pa["a_zp"])) * c64(pa["ma"]) + (vb - c64(pa["b_zp"])) * c64(pa["mb"])
        return clamp(((acc + c64(1 << (int(pa["n"]) - 1))) >> c64(pa["n"])) + c64(pa["y_zp"])).astype("int8")

    def reduction_schedule(spatial: int, taps: int):
        def sched(sch):
            if "pad" in names:
                sch.compute_inline(sch.get_sblock("pad"))
            blk = sch.get_sblock("acc")
            loops = sch.get_loops(blk)
            sch.reverse_compute_at(sch.get_sblock("y"), loops[spatial - 1])
            if taps <= MAX_UNROLL and len(loops) > spatial + 1:
                sch.unroll(loops[-1])
            sch.decompose_reduction(blk, sch.get_loops(blk)[spatial])
        return sched

    names = set()
    if op.kind == "conv1d":
        x, w = ph["x"], ph["w"]
        ci, length = (int(s) for s in x.shape)
        co, _, kk = (int(s) for s in w.shape)
        s, (pl, pr), xzp = int(a["stride"]), (int(v) for v in a["pad"]), int(a["x_zp"])
        lo = y_shape[1]
        if pl or pr:
            pad = te.compute((ci, length + pl + pr), lambda c, t: tirx.if_then_else(
                tirx.all(t >= pl, t < length + pl), x[c, t - pl], tirx.const(xzp, "int8")), name="pad")
            names.add("pad")
        else:
            pad = x
        rc, rk = te.reduce_axis((0, ci), "c"), te.reduce_axis((0, kk), "k")
        acc = te.compute((co, lo), lambda o, t: te.sum(i32(pad[rc, t * s + rk]) * i32(w[o, rc, rk]), axis=[rc, rk]),
                         name="acc")
        y = te.compute((co, lo), lambda o, t: requant(acc[o, t], ph["bias"][o], o, t), name="y")
        return [ph[c.cname] for c in args[:-1]] + [y], reduction_schedule(2, kk)

    if op.kind == "conv_transpose1d":
        x, w = ph["x"], ph["w"]
        ci, lin = (int(v) for v in x.shape)
        _, co, kk = (int(v) for v in w.shape)
        s, pb, xzp = int(a["stride"]), int(a["pad"][0]), int(a["x_zp"])
        lo = y_shape[1]
        taps = -(-kk // s)
        rc, rm = te.reduce_axis((0, ci), "c"), te.reduce_axis((0, taps), "m")

        def body(o, t):
            q = tirx.floordiv(t + pb, s)
            r = tirx.floormod(t + pb, s)
            j, k_ = q - rm, r + s * rm
            xv = tirx.if_then_else(tirx.all(j >= 0, j < lin), x[rc, j], tirx.const(xzp, "int8"))
            prod = i32(xv) * i32(w[rc, o, k_])
            if kk % s:
                prod = tirx.if_then_else(k_ < kk, prod, 0)
            return te.sum(prod, axis=[rc, rm])
        acc = te.compute((co, lo), body, name="acc")
        y = te.compute((co, lo), lambda o, t: requant(acc[o, t], ph["bias"][o, tirx.floormod(t + pb, s)], o, t),
                       name="y")
        return [ph[c.cname] for c in args[:-1]] + [y], reduction_schedule(2, taps)

    if op.kind == "dense":
        w = ph["w"]
        co, ci = (int(v) for v in w.shape)
        ph["x"] = x = te.placeholder((ci,), args[0].dtype, "x")
        if post is not None:
            ph["skip"] = te.placeholder((co,), "int8", "skip")
        ri = te.reduce_axis((0, ci), "i")
        acc = te.compute((co,), lambda o: te.sum(i32(x[ri]) * i32(w[o, ri]), axis=[ri]), name="acc")
        y = te.compute((co,), lambda o: requant(acc[o], ph["bias"][o], o), name="y")
        return [ph[c.cname] for c in args[:-1]] + [y], reduction_schedule(1, MAX_UNROLL + 1)

    if op.kind == "global_sum":
        x = ph["x"]
        c_, length = (int(v) for v in x.shape)
        rt = te.reduce_axis((0, length), "t")
        acc = te.compute((c_,), lambda c: te.sum(i32(x[c, rt]), axis=[rt]), name="acc")
        y = te.compute((c_,), lambda c: acc[c] - length * int(a["x_zp"]), name="y")
        return [x, y], reduction_schedule(1, length)

    if op.kind == "lut":
        n = int(np.prod(graph.tensors[op.inputs[0]].shape))
        x = te.placeholder((n,), "int8", "x")
        table = ph["table"]
        y = te.compute((n,), lambda i: table[i32(x[i]) + 128], name="y")
        return [x, table, y], None

    if op.kind in ("mul", "add"):
        azp, bzp, yzp, n = int(a["a_zp"]), int(a["b_zp"]), int(a["y_zp"]), int(a["n"])
        rnd, sh = c64(1 << (n - 1)), c64(n)
        a_shape = tuple(int(v) for v in args[0].shape)
        b_shape = tuple(int(v) for v in args[1].shape)
        if a_shape == b_shape:  # element-wise: flat
            size = int(np.prod(a_shape))
            xa, xb = te.placeholder((size,), "int8", "a"), te.placeholder((size,), "int8", "b")
            shape, av, bv = (size,), (lambda i: xa[i]), (lambda i: xb[i])
        else:  # (C, L) * (C, 1): per-channel broadcast over time
            xa, xb = te.placeholder(a_shape, "int8", "a"), te.placeholder(b_shape, "int8", "b")
            shape, av, bv = a_shape, (lambda c, t: xa[c, t]), (lambda c, t: xb[c, 0])
        if op.kind == "mul":
            m = c64(a["m"])

            def f(*i):
                prod = (i32(av(*i)) - azp) * (i32(bv(*i)) - bzp)
                return clamp(((i64(prod) * m + rnd) >> sh) + c64(yzp)).astype("int8")
        else:
            ma, mb = c64(a["ma"]), c64(a["mb"])

            def f(*i):
                v = i64(i32(av(*i)) - azp) * ma + i64(i32(bv(*i)) - bzp) * mb
                return clamp(((v + rnd) >> sh) + c64(yzp)).astype("int8")
        y = te.compute(shape, f, name="y")
        return [xa, xb, y], None

    raise CompilerError(f"no kernel for op kind {op.kind!r} (layer {op.name})")


# ---------------------------------------------------------------------------------------
# Lowering: our copy of the CPU part of s_tir's default pipeline, MakePackedAPI replaced
# ---------------------------------------------------------------------------------------
def _make_plain_api():
    import tvm
    from tvm import tirx
    from tvm.ir import PointerType, PrimType

    @tvm.transform.module_pass(opt_level=0, name="edgekit.MakePlainAPI")
    def make_plain_api(mod, _ctx):
        """Buffer parameters -> typed pointers bound by DeclBuffer; CPU device attrs."""
        funcs = {}
        for gv, f in mod.functions.items():
            params, decls = [], []
            for p in f.params:
                if not tirx.is_buffer_var(p):
                    raise CompilerError(f"{gv.name_hint}: non-buffer parameter {p}")
                ptr = tvm.ir.Var(p.name, PointerType(PrimType(p.dtype)))
                params.append(ptr)
                decls.append(tirx.DeclBuffer(p, data=ptr))
            zero = tirx.const(0, "int32")
            body = tirx.SeqStmt(decls + [f.body])
            body = tirx.AttrStmt(zero, "device_id", zero, body)
            body = tirx.AttrStmt(zero, "device_type", tirx.const(1, "int32"), body)  # kDLCPU
            nf = tirx.PrimFunc(params, body, attrs=f.attrs).with_attr("global_symbol", gv.name_hint)
            for key in ("tirx.noalias", "tirx.is_entry_func"):  # no `restrict`: in-place steps alias
                if key in nf.attrs:
                    nf = nf.without_attr(key)
            funcs[gv] = nf
        return tvm.IRModule(funcs)
    return make_plain_api


def _partition_time_loop(splits: dict[str, tuple[int, int]]):
    """Split the `t` loop of the named functions into [0, a), [a, b), [b, extent)."""
    import tvm
    from tvm import tirx

    def rewrite(stmt, ab, done):
        if isinstance(stmt, tirx.For):
            if stmt.loop_var.name == "t" and not done and isinstance(stmt.extent, tirx.IntImm) \
                    and int(stmt.min) == 0:
                a, b = ab
                n = int(stmt.extent)
                done.append(True)
                parts = [(lo, hi) for lo, hi in ((0, a), (a, b), (b, n)) if hi > lo]
                return tirx.SeqStmt([tirx.For(stmt.loop_var, tirx.const(lo, stmt.min.ty.dtype),
                                              tirx.const(hi - lo, stmt.min.ty.dtype), stmt.kind, stmt.body,
                                              stmt.thread_binding, stmt.annotations) for lo, hi in parts])
            return tirx.For(stmt.loop_var, stmt.min, stmt.extent, stmt.kind, rewrite(stmt.body, ab, done),
                            stmt.thread_binding, stmt.annotations)
        if isinstance(stmt, tirx.SeqStmt):
            return tirx.SeqStmt([rewrite(s, ab, done) for s in stmt.seq])
        if isinstance(stmt, tirx.AttrStmt):
            return tirx.AttrStmt(stmt.node, stmt.attr_key, stmt.value, rewrite(stmt.body, ab, done))
        return stmt

    @tvm.transform.module_pass(opt_level=0, name="edgekit.PartitionTimeLoop")
    def partition(mod, _ctx):
        funcs = {}
        for gv, f in mod.functions.items():
            if gv.name_hint in splits:
                done: list = []
                body = rewrite(f.body, splits[gv.name_hint], done)
                if done:
                    f = tirx.PrimFunc(f.params, body, attrs=f.attrs)
            funcs[gv] = f
        return tvm.IRModule(funcs)
    return partition


def _lower(mod, splits: dict[str, tuple[int, int]] | None = None):
    import tvm
    from tvm import s_tir, tirx

    passes = [
        s_tir.transform.CanonicalizeLoop(),
        s_tir.transform.LowerInitBlock(),
        s_tir.transform.PlanAndUpdateBufferAllocationLocation(),
        s_tir.transform.ConvertBlocksToOpaque(),
        s_tir.transform.CompactBufferAllocation(),
        s_tir.transform.LowerMatchBuffer(),
        s_tir.transform.StmtSimplify(),
        s_tir.transform.LowerOpaqueBlock(),
        tirx.transform.FlattenBuffer(),
        _partition_time_loop(splits or {}),   # ours: padding-free interior of the conv loops
        tirx.transform.ConvertSSA(),
        tirx.transform.StmtSimplify(),
        tirx.transform.NarrowDataType(32),
        s_tir.transform.LoopPartition(),
        tirx.transform.VectorizeLoop(False),
        tirx.transform.StorageRewrite(),
        s_tir.transform.HoistIfThenElse(),
        tirx.transform.UnrollLoop(),
        s_tir.transform.RenormalizeSplitPattern(),
        tirx.transform.StmtSimplify(),
        tirx.transform.RemoveNoOp(),
        s_tir.transform.RewriteUnsafeSelect(),
        tirx.transform.CommonSubexprElim(),
        tirx.transform.VerifyMemory(),
        _make_plain_api(),            # ours, instead of SplitHostDevice + MakePackedAPI
        tirx.transform.LowerTVMBuiltin(),
        tirx.transform.LowerIntrin(),
    ]
    with tvm.transform.PassContext(opt_level=3, config={"tirx.disable_assert": True}):
        return tvm.ir.transform.Sequential(passes)(mod)


def build_kernels(graph: IntGraph, steps: list[Step], func_names: dict[int, str]) -> tuple[str, list[Kernel]]:
    """C source of all steps' kernels (one file) and their descriptions.

    func_names: step index -> C function name (already valid, unique identifiers)."""
    import tvm
    from tvm import s_tir, te, tirx
    from tvm.target import Target

    kernels, funcs = [], {}
    for step in steps:
        k = make_kernel(step, graph, func_names[step.index])
        tensors, sched = _te_kernel(k, graph)
        f = te.create_prim_func(tensors)
        if sched is not None:
            sch = s_tir.Schedule(f)
            sched(sch)
            f = sch.mod["main"]
        funcs[k.func] = f.with_attr("global_symbol", k.func)
        kernels.append(k)
    target = Target({"kind": "c"})
    mod = tvm.IRModule(funcs)
    mod = tirx.transform.BindTarget(target.with_host(target))(mod)
    mod = _lower(mod, {k.func: k.time_split for k in kernels if k.time_split})
    src = tvm.get_global_func("target.build.c")(mod, target).inspect_source()
    _check_no_workspace(src)
    return _postprocess(src, kernels), kernels


_LOCAL_ARRAY = re.compile(r"^\s+(?:int|uint)\w*_t (\w+)\[(\d+)\];", re.M)


def _check_no_workspace(src: str) -> None:
    big = [(m.group(1), int(m.group(2))) for m in _LOCAL_ARRAY.finditer(src) if int(m.group(2)) > 16]
    if big:
        raise CompilerError(f"kernels allocate intermediates on the stack {big}: the schedule must keep "
                            f"accumulators scalar")


_FORBIDDEN = re.compile(r"\b(TVMBackend\w*|TVMFFI\w*|TVMAPI\w*|__tvm_ffi_main|malloc|free|calloc)\s*\(")
_FUNC_DEF = re.compile(r"^TVM_DLL void (\w+)\(([^)]*)\) \{\n.*?^\}\n", re.M | re.S)


def _postprocess(src: str, kernels: list[Kernel]) -> str:
    """Check the C for runtime calls, make read-only pointers const, put the definitions in
    layer order with a comment each, drop TVM's forward declarations (kernels.h has them)."""
    bad = sorted(set(m.group(1) for m in _FORBIDDEN.finditer(src)))
    if bad:
        raise CompilerError(f"generated kernels call {bad}: the plain-pointer lowering failed")
    defs = {m.group(1): m.group(0) for m in _FUNC_DEF.finditer(src)}
    first = src.find("#ifdef __cplusplus")
    prelude = src[:first] if first >= 0 else src
    prelude = "\n".join(line for line in prelude.splitlines() if not line.startswith("// tvm target"))
    prelude = prelude.replace("#include <stdbool.h>", "#include <stdbool.h>\n#include \"kernels.h\"", 1)
    parts = ["/* kernels.c: generated by edgekit.compiler with Apache TVM (TE -> TIR -> C): one function\n"
             " * per step, plain pointer arguments, no heap, no workspace. Do not edit. */\n",
             prelude.rstrip() + "\n"]
    for k in kernels:
        if k.func not in defs:
            raise CompilerError(f"kernel {k.func} not found in the generated C")
        head, rest = defs[k.func].split("{\n", 1)
        for c in (a.cname for a in k.args if a.readonly):
            head = re.sub(rf"(?<!const )\b(int8_t|int32_t)\* {c}\b", rf"const \1* {c}", head)
        head = head.replace("TVM_DLL void", "void", 1)
        summary = c_comment(k.summary).replace("; fused: ", "\n * fused: ")
        if k.time_split:
            summary += f"\n * output times [0, {k.time_split[0]}) and [{k.time_split[1]}, end) touch the padding"
        parts.append(f"\n/* {summary} */\n{head}{{\n{rest}")
    return "".join(parts)


"""TVM kernels: one integer C function per step (a layer, or a conv with its skip add
fused, see steps.py), all in one IRModule / one C file.

Each kernel is written in TE (tensor expressions), scheduled with `s_tir.Schedule` for a
microcontroller and lowered by our own copy of the CPU lowering pipeline, in which the
pass `make_plain_api` takes the place of `MakePackedAPI`: every buffer parameter becomes
a plain typed pointer, so `target.build.c` emits

    void enc1_conv1d(const int8_t* x, const int8_t* w, ..., int8_t* y)

with no DLTensor, no TVM-FFI argument checks and no workspace allocation.

Which module builds a step's kernel: `edgekit.ops.pick` (the target's kernel set overlay
for the op when it claims the step, else the generic op module in edgekit/ops/; see
edgekit/ops/README.md). Each module's `make_kernel` fills the signature (activations,
const arrays in flash, arena scratch, output) and `build` returns the TE compute with its
schedule, or a TIR PrimFunc (an overlay's loop nest calling a C micro-kernel through
T.call_extern; the micro-kernel's header is #included by kernels.c). Zero points and
per-layer scalars are baked in as immediates; per-channel arrays are pointer arguments.

The lowering is shared: after FlattenBuffer our pass `partition_time_loop` splits the
output-time loop `t` of a kernel that declares `time_split` into left edge / interior /
right edge, so the simplifier drops the padding test from the interior (TVM's schedule
`loop_partition` crashes on a loop that holds more than one block, and the TIR
LoopPartition pass does not split on a two-variable condition).
"""
from __future__ import annotations

import re

from .. import ops
from ..ops.kernel import Kernel, KernelArg, KernelError, is_leaky  # noqa: F401 (re-exported)
from ..ir.intgraph import IntGraph, Op
from .errors import CompilerError
from .names import c_comment, display_name
from .steps import Step

# The TVM headers target.build.c always includes; stand-ins are written next to kernels.c.
TVM_HEADERS = ("tvm/ffi/c_api.h", "tvm/runtime/base.h", "tvm/runtime/c_backend_api.h",
               "tvm/ffi/extra/c_env_api.h")


def make_kernel(step: Step, graph: IntGraph, func: str, kernel_set: str | None = None) -> Kernel:
    """Signature, constant arrays and scratch of one step, from the module `ops.pick` chose
    (the kernel set's overlay for the op, else the generic op module)."""
    try:
        mod, name, fallback = ops.pick(step, graph, kernel_set)
        k = Kernel(step, func, [], describe(step, graph), name=name, fallback=fallback,
                   c_headers=ops.c_headers(mod) if name != ops.GENERIC else (), module=mod)
        return mod.make_kernel(k, graph)
    except KernelError as e:
        raise CompilerError(str(e)) from None


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
    io = f"{' + '.join(shp(i) for i in op.inputs)} -> {shp(op.outputs[0])}"
    extra = ops.get(op.kind).describe(op, graph)
    return f"{display_name(op.name)}: {op.kind} {io}" + (f", {extra}" if extra else "")


def _prim_func(k: Kernel, graph: IntGraph, module):
    """The kernel's TIR PrimFunc: a module's `build` returns either a PrimFunc (a TIR loop
    nest, e.g. with T.call_extern into a C micro-kernel) or (TE tensors in signature order,
    schedule function or None)."""
    from tvm import s_tir, te, tirx

    built = module.build(k, graph)
    if isinstance(built, tirx.PrimFunc):
        f = built
    else:
        tensors, sched = built
        f = te.create_prim_func(tensors)
        if sched is not None:
            sch = s_tir.Schedule(f)
            sched(sch)
            f = sch.mod["main"]
    names = [p.name for p in f.params]
    if names != [a.cname for a in k.args]:
        raise CompilerError(f"{k.name} kernel of {k.op.name}: parameters ({', '.join(names)}) differ from "
                            f"its signature ({', '.join(a.cname for a in k.args)})")
    return f.with_attr("global_symbol", k.func)


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


def select_kernels(graph: IntGraph, steps: list[Step], func_names: dict[int, str],
                   kernel_set: str | None = None) -> list[Kernel]:
    """One Kernel per step (signature, constants, scratch), no TVM yet: the memory planner
    needs the scratch before the C is generated."""
    return [make_kernel(step, graph, func_names[step.index], kernel_set) for step in steps]


def build_kernels(graph: IntGraph, steps: list[Step], func_names: dict[int, str], target=None,
                  kernel_set: str | None = None, kernels: list[Kernel] | None = None) -> tuple[str, list[Kernel]]:
    """C source of all steps' kernels (one file) and their descriptions.

    func_names: step index -> C function name (already valid, unique identifiers).
    target: an edgekit Target (its `kernels` names the kernel set) or None (generic);
    kernel_set overrides it ("generic" forces the generic kernels). kernels: the result of
    select_kernels, if already made."""
    import tvm
    from tvm import tirx
    from tvm.target import Target

    if kernel_set is None:
        kernel_set = getattr(target, "kernels", None)
    if kernels is None:
        kernels = select_kernels(graph, steps, func_names, kernel_set)
    funcs = {}
    for k in kernels:
        funcs[k.func] = _prim_func(k, graph, k.module)
    tvm_target = Target({"kind": "c"})
    mod = tvm.IRModule(funcs)
    mod = tirx.transform.BindTarget(tvm_target.with_host(tvm_target))(mod)
    mod = _lower(mod, {k.func: k.time_split for k in kernels if k.time_split})
    src = tvm.get_global_func("target.build.c")(mod, tvm_target).inspect_source()
    _check_no_workspace(src)
    return _postprocess(src, kernels), kernels


def header_includes(kernels: list[Kernel]) -> list[tuple[str, "object"]]:
    """(include path relative to the output folder, source Path) of every overlay C header,
    in first-use order: copied to <out>/ops/<set>/<file>, #included by kernels.c."""
    seen: dict[str, object] = {}
    for k in kernels:
        for h in k.c_headers:
            rel = f"ops/{k.name.split('/')[0]}/{h.name}"
            if rel in seen and seen[rel] != h:
                raise CompilerError(f"two overlay headers would be written to {rel}: {seen[rel]} and {h}")
            seen[rel] = h
    return list(seen.items())


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
    includes = "".join(f'\n#include "{rel}"' for rel, _ in header_includes(kernels))
    prelude = prelude.replace("#include <stdbool.h>", "#include <stdbool.h>\n#include \"kernels.h\"" + includes, 1)
    parts = ["/* kernels.c: generated by edgekit.compiler with Apache TVM (TE -> TIR -> C): one function\n"
             " * per step, plain pointer arguments, no heap, no workspace. Do not edit. */\n",
             prelude.rstrip() + "\n"]
    for k in kernels:
        if k.func not in defs:
            raise CompilerError(f"kernel {k.func} not found in the generated C")
        head, rest = defs[k.func].split("{\n", 1)
        for c in (a.cname for a in k.args if a.readonly):
            head = re.sub(rf"(?<!const )\b(u?int(?:8|16|32)_t)\* {c}\b", rf"const \1* {c}", head)
        head = head.replace("TVM_DLL void", "void", 1)
        summary = c_comment(k.summary).replace("; fused: ", "\n * fused: ")
        if k.time_split:
            summary += f"\n * output times [0, {k.time_split[0]}) and [{k.time_split[1]}, end) touch the padding"
        parts.append(f"\n/* {summary} */\n{head}{{\n{rest}")
    return "".join(parts)


"""compile_model: ONNX QDQ model -> model.h, model.c, kernels.c (+ headers) for a target,
cross-compiled and measured; the numbers go to compile.json."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from ..firmware.protocol_limits import frame_check
from ..ir.intgraph import IntGraph
from . import emit, frontend, library, toolchain
from .errors import CompilerError, ModelTooLargeError
from .. import ops, resources
from .kernels import Kernel, build_kernels, select_kernels
from .api import DEFAULT_PREFIX, Api, make_api
from .names import Namer, display_name
from .planner import MemoryPlan, is_scratch, plan_memory, scratch_name
from .steps import Step, make_steps

DEFAULT_MODEL = resources.default_model()  # the shipped model (package data)


@dataclass
class CompileResult:
    out_dir: Path
    target: str
    report: dict                 # exactly what is written to out_dir/compile.json
    graph: IntGraph
    plan: MemoryPlan
    steps: list[Step]
    kernels: list[Kernel]
    files: list[Path] = field(default_factory=list)
    firmware: object | None = None   # whatever the firmware build hook returned

    def table(self) -> str:
        return format_table(self.report)


def _names(graph: IntGraph, steps: list[Step], api: Api, namer: Namer) -> tuple[Namer, dict, dict]:
    """C identifiers: kernel functions (<layer>_<op>[_<fused layer>_add], prefixed when the API
    has a prefix of its own) and tensors (inputs and outputs by the API; a view by its base)."""
    tensor_names = {}
    for io in api.io:
        tensor_names[io.tensor] = tensor_names[io.base] = io.cname
    pre = "" if api.prefix == DEFAULT_PREFIX else f"{api.prefix}_"
    func_names = {}
    for st in steps:
        func_names[st.index] = namer(("f", st.index), pre + "_".join(f"{op.name}_{op.kind}" for op in st.ops))
    for op in graph.ops:
        for t in op.outputs:
            if t not in tensor_names:
                tensor_names[t] = namer(("t", t), t)
    for v in graph.views:
        tensor_names[v] = tensor_names[graph.base(v)]
    return namer, func_names, tensor_names


def compile_model(model_path: str | Path | onnx.ModelProto | IntGraph | None = None, target="host",
                  out_dir: str | Path | None = None, *, build_object: bool = True, check_fit: bool = True,
                  inplace: bool = True, fuse: bool = True, opt: str = "-O2",
                  kernels: str | None = None, build_dir: str | Path | None = None,
                  name: str = DEFAULT_PREFIX) -> CompileResult:
    """Generate the library out_dir/{model.h, model.c, kernels.h, kernels.c, tvm/..., CMakeLists.txt,
    cmake/<toolchain>.cmake, examples/main.c} for `target` (a name from targets/, a .toml path or a
    Target), cross-compile model.c + kernels.c (build_object) into build_dir (default: the folder
    beside out_dir named <out_dir>.obj; never inside the library) and write out_dir/compile.json.

    fuse: fuse each skip `add` into the conv before it (steps.py); inplace: let element-wise
    steps overwrite a dying operand (planner.py). Both keep the arithmetic bit-exact.
    kernels: the kernel set (a package in edgekit/ops/overlays; "generic" forces the generic
    kernels); default: the target's `kernels` (targets/*.toml).
    name: the C symbol prefix (api.py): "ecg" gives ecg_run(...) and ECG_ARENA_BYTES.

    Raises UnknownTargetError, ToolchainMissingError, UnsupportedModelError,
    AccumulatorOverflowError, ModelTooLargeError (check_fit) with messages meant for people."""
    t0 = time.perf_counter()
    tgt = toolchain.resolve_target(target)
    if build_object:
        toolchain.check_toolchain(tgt)  # fail before the slow part
    model_path = DEFAULT_MODEL if model_path is None else model_path
    out_dir = Path(out_dir).resolve() if out_dir is not None else Path("build", tgt.name).resolve()  # the toolchain runs in out_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    fe = frontend.load(model_path)
    g = fe.graph
    steps = make_steps(g, fuse=fuse)
    api, namer = make_api(g, name)
    namer, func_names, tensor_names = _names(g, steps, api, namer)
    weight_names = {}
    kernel_set = ops.set_name(getattr(tgt, "kernels", "") if kernels is None else kernels)
    try:
        ops.overlays_in(kernel_set)
    except ops.KernelError as e:
        raise CompilerError(str(e)) from None
    t_gen = time.perf_counter()
    chosen = select_kernels(g, steps, func_names, kernel_set)
    scratch = {}
    for k in chosen:
        for a in k.scratch:
            name = scratch_name(k.func, a.key)
            scratch.setdefault(k.step.index, []).append((name, a.nbytes))
            tensor_names[name] = namer(("s", name), f"{k.func}_{a.cname}")
    plan = plan_memory(g, steps, inplace=inplace, scratch=scratch)
    c_kernels, kernels = build_kernels(g, steps, func_names, tgt, kernel_set, chosen)
    if api.prefix != DEFAULT_PREFIX and c_kernels.count("__tvm_ffi__library_ctx") == 1:
        # TVM's unused library context: a second model in the same firmware would define it again
        c_kernels = c_kernels.replace("void* __tvm_ffi__library_ctx = NULL;\n", "")
    t_tvm = time.perf_counter() - t_gen
    for k in kernels:
        for a in k.args:
            if a.source == "param":
                weight_names[(k.op.name, a.key)] = namer(("w", k.op.name, a.key), f"{k.op.name}_{a.cname}")
    namer.check()
    macs = [op.macs(g.tensors) for op in g.ops]
    weights_bytes = sum(int(arr.nbytes) for k in kernels for arr in k.consts.values())
    model_name = g.meta.get("edgekit_model_name") or g.name or "model"
    files = {
        "model.h": emit.model_h(g, model_name, fe.sha256, plan, len(g.ops), sum(macs), weights_bytes, api),
        "kernels.h": emit.kernels_h(kernels, api),
        "kernels.c": c_kernels,
        "model.c": emit.model_c(g, kernels, plan, weight_names, tensor_names, fe.source, fe.sha256, macs,
                                weights_bytes, api),
    }
    written = []
    for name, text in files.items():
        (out_dir / name).write_text(text)
        written.append(out_dir / name)
    written += emit.write_headers(out_dir, kernels)
    t_generated = time.perf_counter()

    written += library.write_library_files(out_dir, tgt)
    obj_dir = Path(build_dir).resolve() if build_dir is not None else out_dir.parent / f"{out_dir.name}.obj"
    obj = toolchain.build_object(tgt, out_dir, opt, obj_dir) if build_object else None
    t_built = time.perf_counter()

    report = _report(tgt, fe, g, plan, kernels, macs, weights_bytes, obj, api)
    report["kernels"] = kernel_set
    # can the device protocol carry this model's input and outputs? (a warning: the C is fine)
    report["stream"] = frame_check(sum(io.info.nbytes for io in api.inputs),
                                   sum(io.info.nbytes for io in api.outputs[:1]),
                                   sum(io.info.nbytes for io in api.outputs[1:]), model_name,
                                   [op.name for op in g.ops])
    report["seconds"] = round(t_built - t0, 3)
    report["seconds_tvm_kernels"] = round(t_tvm, 3)
    report["seconds_generate"] = round(t_generated - t0, 3)
    report["seconds_cross_compile"] = round(t_built - t_generated, 3)
    (out_dir / "compile.json").write_text(json.dumps(report, indent=1) + "\n")
    written.append(out_dir / "compile.json")
    if check_fit:
        check_fits(report)
    return CompileResult(out_dir, tgt.name, report, g, plan, steps, kernels, written)


def _report(tgt, fe, g: IntGraph, plan: MemoryPlan, kernels: list[Kernel], macs, weights_bytes, obj, api: Api) -> dict:
    io_out = {g.base(t) for t in g.outputs}
    io_bytes = sum(g.tensors[t].nbytes for t in (*g.inputs, *g.outputs))
    layers = []
    for k in kernels:
        for j, (i, op) in enumerate(zip(k.step.layer_indices, k.step.ops)):
            out = g.tensors[op.outputs[0]]
            stored = out.name in io_out or plan.in_arena(out.name)

            layers.append({
                "index": i, "name": op.name, "op": op.kind, "function": k.func, "step": k.step.index,
                "kernel": k.name, "kernel_fallback": k.fallback if j == 0 else None,
                "scratch_bytes": k.scratch_bytes if j == 0 else 0,
                "fused_into": k.step.main.name if j else None,
                "out": out.name, "out_shape": list(out.shape), "out_dtype": out.dtype, "macs": macs[i],
                "weights_bytes": sum(int(arr.nbytes) for arr in k.consts.values()) if j == 0 else 0,
                "out_offset": plan.offset(out.name) if plan.in_arena(out.name) else None,
                "out_stored": stored, "time_split": list(k.time_split) if k.time_split and j == 0 else None,
                "out_in_place_over": plan.inplace.get(out.name),
                "acc_bound": fe.acc_bounds[op.name],
                "code_bytes": obj.function_code(k.func) if obj and j == 0 else None,
                "stack_bytes": obj.stack.get(k.func) if obj and j == 0 else None,
            })
    rep = {
        "target": tgt.name, "model": fe.source, "model_sha256": fe.sha256, "model_name": g.name,
        "layers_count": len(g.ops), "macs": sum(macs),
        "arena_bytes": plan.arena_bytes, "arena_lower_bound_bytes": plan.lower_bound_bytes,
        "arena_ratio": round(plan.ratio, 4), "arena_scratch_bytes": plan.scratch_bytes, "arena_lower_bound_no_inplace_bytes": plan.lower_bound_no_inplace,
        "planner": plan.strategy, "in_place": dict(plan.inplace), "steps": len(kernels),
        "arena_plan": [{"name": b.name, "offset": b.offset, "size": b.size, "start": b.start, "end": b.end,
                        "scratch": is_scratch(b.name)} for b in plan.buffers],
        "fused": [k.step.name for k in kernels if k.step.post is not None],
        "io_bytes": io_bytes, "weights_bytes": weights_bytes,
        "prefix": api.prefix, "run_function": api.run,
        "input": {"name": g.inputs[0], "shape": list(g.tensors[g.inputs[0]].shape)},
        "inputs": [_io_row(io) for io in api.inputs],
        "outputs": [_io_row(io) for io in api.outputs],
        "target_flash_bytes": tgt.flash_bytes, "target_ram_bytes": tgt.ram_bytes,
    }
    if obj is not None:
        run_stack = obj.stack.get(api.run, 0)
        kern_stack = max((obj.stack.get(k.func, 0) for k in kernels), default=0)
        rep.update({
            "compiler": obj.compiler, "cflags": obj.command[1:obj.command.index("-I")],
            "code_bytes": obj.code_bytes, "rodata_bytes": obj.rodata_bytes,
            "data_bytes": obj.data_bytes, "bss_bytes": obj.bss_bytes,
            "max_stack_bytes": run_stack + kern_stack,  # edgekit_model_run + its deepest kernel
            "max_function_stack_bytes": max(obj.stack.values(), default=0),
            "stack": dict(sorted(obj.stack.items(), key=lambda kv: -kv[1])),
            "stack_dynamic": sorted(f for f, kind in obj.stack_kind.items() if kind != "static"),
            "undefined_symbols": obj.undefined,
            "forbidden_symbols": toolchain.forbidden_symbols(obj.undefined),
            "object": str(obj.path),
        })
        rep["flash_needed_bytes"] = obj.code_bytes + obj.rodata_bytes + obj.data_bytes
        rep["ram_needed_bytes"] = (plan.arena_bytes + io_bytes + obj.data_bytes + obj.bss_bytes
                                   + rep["max_stack_bytes"])
    else:
        rep.update({"code_bytes": None, "max_stack_bytes": None, "flash_needed_bytes": weights_bytes,
                    "ram_needed_bytes": plan.arena_bytes + io_bytes})
    rep["layers"] = layers
    return rep


def _io_row(io) -> dict:
    t = io.info
    return {"name": io.label, "tensor": io.tensor, "c_name": io.cname, "macro": io.macro, "shape": list(t.shape),
            "dtype": t.dtype, "bytes": t.nbytes, "scale": t.scale, "zero_point": t.zero_point}


def check_fits(rep: dict) -> None:
    """ModelTooLargeError if the model needs more flash or RAM than the target has (0 = no limit)."""
    problems = []
    flash, ram = rep["target_flash_bytes"], rep["target_ram_bytes"]
    if flash and rep["flash_needed_bytes"] > flash:
        parts = (f"code {rep['code_bytes']} + const data {rep.get('rodata_bytes')} + data {rep.get('data_bytes')}"
                 if rep.get("code_bytes") is not None else f"weights {rep['weights_bytes']}")
        problems.append(f"flash: needs {rep['flash_needed_bytes']:,} B ({parts}), the target has {flash:,} B: "
                        f"{rep['flash_needed_bytes'] - flash:,} B too many")
    if ram and rep["ram_needed_bytes"] > ram:
        stack = f" + stack {rep['max_stack_bytes']}" if rep.get("max_stack_bytes") is not None else ""
        problems.append(f"RAM: needs {rep['ram_needed_bytes']:,} B (arena {rep['arena_bytes']} + input/output "
                        f"{rep['io_bytes']}{stack} + globals), the target has {ram:,} B: "
                        f"{rep['ram_needed_bytes'] - ram:,} B too many")
    if problems:
        raise ModelTooLargeError(f"model {rep['model']} does not fit target {rep['target']!r}: " + "; ".join(problems))


def format_table(rep: dict) -> str:
    rows = [f"{'#':>3} {'layer':<20}{'op':<18}{'out':<10}{'MACs':>10}{'weights':>9}{'code B':>8}{'stack B':>8}"
            f"{'out @':>7}  kernel"]
    for r in rep["layers"]:
        shape = "x".join(map(str, r["out_shape"]))
        off = "-" if r["out_offset"] is None else str(r["out_offset"])
        if not r["out_stored"]:
            off = "fused"
        rows.append(f"{r['index']:>3} {display_name(r['name'], 40):<20}{r['op']:<18}{shape:<10}{r['macs']:>10,}{r['weights_bytes']:>9,}"
                    f"{_n(r['code_bytes']):>8}{_n(r['stack_bytes']):>8}{off:>7}  {_kernel(r)}")
    rows.append("")
    lb = rep["arena_lower_bound_bytes"]
    rows += [
        f"target              {rep['target']}  ({rep.get('compiler', 'no object built')}), "
        f"kernels {rep.get('kernels', 'generic')}",
        f"layers              {rep['layers_count']}",
        f"MACs                {rep['macs']:,}",
        f"arena               {rep['arena_bytes']:,} B  (lower bound {lb:,} B, ratio {rep['arena_ratio']:.3f}, "
        f"planner '{rep['planner']}', {len(rep['in_place'])} in-place, {len(rep['fused'])} fused adds"
        + (f", kernel scratch {rep['arena_scratch_bytes']:,} B" if rep.get("arena_scratch_bytes") else "") + ")",
        f"weights             {rep['weights_bytes']:,} B (const, flash)",
    ]
    if rep.get("code_bytes") is not None:
        rows += [
            f"code                {rep['code_bytes']:,} B (.text)   const data {rep['rodata_bytes']:,} B"
            f"   data {rep['data_bytes']} B   bss {rep['bss_bytes']} B",
            f"stack               {rep['max_stack_bytes']} B (edgekit_model_run + deepest kernel; "
            f"largest frame {rep['max_function_stack_bytes']} B)",
            f"flash / RAM needed  {rep['flash_needed_bytes']:,} / {rep['ram_needed_bytes']:,} B  (target "
            f"{_lim(rep['target_flash_bytes'])} / {_lim(rep['target_ram_bytes'])})",
        ]
    st = rep.get("stream")
    if st:
        verdict = "ok" if st["streamable"] else "WARNING, cannot be streamed: " + "; ".join(st["problems"])
        rows.append(f"stream frames       request {st['request_bytes']:,} B, reply {st['reply_bytes']:,} B "
                    f"(protocol v{st['protocol_version']} limit {st['max_payload']:,} B): {verdict}")
    rows.append(f"seconds             {rep['seconds']:.2f}  (TVM kernels {rep['seconds_tvm_kernels']:.2f}, "
                f"cross-compile {rep['seconds_cross_compile']:.2f})")
    return "\n".join(rows)


def _kernel(r: dict) -> str:
    """The layer's kernel, and why the target's overlay was not used when it was not."""
    if r.get("fused_into"):
        return "(fused)"
    k = r.get("kernel", "generic")
    return f"{k} ({r['kernel_fallback']})" if r.get("kernel_fallback") else k


def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def _lim(v) -> str:
    return "unlimited" if not v else f"{v:,} B"

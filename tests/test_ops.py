"""Every integer op against the integer reference, bit for bit, on random shapes: once with
the generic kernel and once per overlay in the registry (edgekit/ops/overlays/<set>/<op>.py)
that claims the op, compiled for the host (overlays run their portable C twins there).
Plus the plumbing overlays rely on: the kernel set per target, the fallback and its reason,
compile-time constants, arena scratch, C headers called through T.call_extern."""
import json

import numpy as np
import pytest

from edgekit import ops
from edgekit.compiler import CompilerError, HostModel, compile_model, toolchain
from edgekit.compiler.planner import is_scratch
from edgekit.firmware.targets import load_target
from edgekit.ir import reference
from edgekit.ir.arithmetic import add_multipliers, quantize_multiplier, quantize_multipliers
from edgekit.ir.intgraph import IntGraph, Op, TensorInfo

CASES_PER_OP = 4          # per op with the generic kernels
CASES_PER_OVERLAY = 8     # per overlay: more shapes, since it may decline some


# --- tiny graphs around one op -------------------------------------------------------------
# Each builder returns an IntGraph whose first op is the op under test, named "op"; the
# C API needs two int8 outputs, so a lookup table of the input gives the second.
def _table(rng):
    return rng.integers(-128, 128, 256).astype(np.int8)


def _graph(rng, x_shape, ops_, tensors, out0):
    t = {"x": TensorInfo("x", tuple(x_shape), "int8"), **tensors, "z": TensorInfo("z", tuple(x_shape), "int8")}
    all_ops = ops_ + [Op("lut", "second", ["x"], ["z"], params={"table": _table(rng)})]
    return IntGraph("case", ["x"], [out0, "z"], t, all_ops)


def _requant_params(rng, co, fan_in, leaky):
    real = rng.uniform(0.3, 3.0, co) / (np.sqrt(fan_in) * 127 * 40)
    m_pos, n_pos = quantize_multipliers(real)
    m_neg, n_neg = quantize_multipliers(real * 0.1) if leaky else (m_pos, n_pos)
    return {"bias": rng.integers(-3000, 3000, co).astype(np.int32),
            "m_pos": m_pos, "n_pos": n_pos, "m_neg": m_neg, "n_neg": n_neg}


def _zps(rng):
    return {"x_zp": int(rng.integers(-20, 21)), "y_zp": int(rng.integers(-20, 21))}


def _fused_add(rng, y1, other, out, flip):
    ma, mb, n = add_multipliers(float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.3, 1.0)))
    ins = [other, y1] if flip else [y1, other]
    return Op("add", "skip", ins, [out], attrs={"a_zp": int(rng.integers(-10, 11)), "b_zp": int(rng.integers(-10, 11)),
                                                "y_zp": int(rng.integers(-10, 11)), "ma": ma, "mb": mb, "n": n})


def case_conv1d(rng):
    fused = rng.random() < 0.4
    ci = int(rng.integers(1, 6))
    co = ci if fused else int(rng.integers(1, 6))
    k = int(rng.integers(1, 17))
    s = 1 if fused else int(rng.integers(1, 4))
    if fused:  # "same" padding, so the output matches x for the skip add
        pl = int(rng.integers(0, k))
        pad = (pl, k - 1 - pl)
    else:
        pad = (int(rng.integers(0, k)), int(rng.integers(0, k)))
    length = int(rng.integers(k, 40))
    lo = (length + pad[0] + pad[1] - k) // s + 1
    w = rng.integers(-127, 128, (co, ci, k)).astype(np.int8)
    op = Op("conv1d", "op", ["x"], ["y1" if fused else "y"], attrs={"stride": s, "pad": pad, **_zps(rng)},
            params={"w": w, **_requant_params(rng, co, ci * k, rng.random() < 0.5)})
    t = {"y": TensorInfo("y", (co, lo), "int8")}
    if not fused:
        return _graph(rng, (ci, length), [op], t, "y")
    t["y1"] = TensorInfo("y1", (co, lo), "int8")
    return _graph(rng, (ci, length), [op, _fused_add(rng, "y1", "x", "y", rng.random() < 0.5)], t, "y")


def case_conv1d_grouped(rng):
    """conv1d with group (depthwise or another count) and dilation."""
    g = int(rng.choice([1, 2, 3]))
    cig = int(rng.integers(1, 3))
    ci = g * cig
    depthwise = rng.random() < 0.5
    co = ci if depthwise else g * int(rng.integers(1, 3))
    if depthwise:
        g, cig = ci, 1
    k, d, s = int(rng.integers(1, 6)), int(rng.integers(1, 5)), int(rng.integers(1, 3))
    span = d * (k - 1) + 1
    pad = (int(rng.integers(0, span)), int(rng.integers(0, span)))
    length = int(rng.integers(span, 40))
    lo = (length + pad[0] + pad[1] - span) // s + 1
    w = rng.integers(-127, 128, (co, cig, k)).astype(np.int8)
    op = Op("conv1d", "op", ["x"], ["y"], attrs={"stride": s, "pad": pad, "group": g, "dilation": d, **_zps(rng)},
            params={"w": w, **_requant_params(rng, co, cig * k, rng.random() < 0.5)})
    return _graph(rng, (ci, length), [op], {"y": TensorInfo("y", (co, lo), "int8")}, "y")


def _pool_case(rng, kind):
    ch, kk = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    s = int(rng.integers(1, 4))
    pad = (int(rng.integers(0, kk)), int(rng.integers(0, kk)))
    length = int(rng.integers(kk, 40))
    lo = (length + pad[0] + pad[1] - kk) // s + 1
    attrs = {"kernel": kk, "stride": s, "pad": pad, **_zps(rng)}
    params = {}
    if kind == "avgpool":
        attrs["count_include_pad"] = int(rng.integers(0, 2))
        m, n = ops.avgpool.multipliers(float(rng.uniform(0.5, 2.0)), 1.0, kk)
        params = {"m": m, "n": n}
    elif rng.random() < 0.5:
        attrs["m"], attrs["n"] = quantize_multiplier(float(rng.uniform(0.3, 2.0)))
    op = Op(kind, "op", ["x"], ["y"], attrs=attrs, params=params)
    return _graph(rng, (ch, length), [op], {"y": TensorInfo("y", (ch, lo), "int8")}, "y")


def case_maxpool(rng):
    return _pool_case(rng, "maxpool")


def case_avgpool(rng):
    """Includes exact ties: the multiplier 1/count is exact for counts that are powers of two."""
    g = _pool_case(rng, "avgpool")
    if rng.random() < 0.5:
        k = g.ops[0].attrs["kernel"]
        g.ops[0].params["m"], g.ops[0].params["n"] = ops.avgpool.multipliers(1.0, 1.0, k)
    return g


def case_mean(rng):
    ch, length = int(rng.integers(1, 8)), int(rng.integers(1, 64))
    m, n = quantize_multiplier(float(rng.choice([1.0, rng.uniform(0.5, 2.0)])) / length)
    op = Op("mean", "op", ["x"], ["y"], attrs={**_zps(rng), "m": m, "n": n, "length": length})
    return _graph(rng, (ch, length), [op], {"y": TensorInfo("y", (ch, 1), "int8")}, "y")


def case_concat(rng):
    ch, length = int(rng.integers(1, 4)), int(rng.integers(1, 20))
    axis = int(rng.integers(0, 2))
    t = {"a": TensorInfo("a", (ch, length), "int8")}
    first = Op("lut", "first", ["x"], ["a"], params={"table": _table(rng)})
    ms, ns = [], []
    for _ in range(2):
        m, n = (0, 0) if rng.random() < 0.4 else quantize_multiplier(float(rng.uniform(0.3, 2.0)))
        ms.append(m)
        ns.append(n)
    shape = (2 * ch, length) if axis == 0 else (ch, 2 * length)
    t["y"] = TensorInfo("y", shape, "int8")
    op = Op("concat", "op", ["x", "a"], ["y"], attrs={"axis": axis, "x_zps": (int(rng.integers(-20, 21)),
                                                       int(rng.integers(-20, 21))), "y_zp": int(rng.integers(-20, 21)),
                                                       "ms": tuple(ms), "ns": tuple(ns)})
    return _graph(rng, (ch, length), [first, op], t, "y")


def case_softmax(rng):
    rows, n_len = int(rng.integers(1, 4)), int(rng.integers(2, 30))
    x = TensorInfo("x", (rows, n_len), "int8", float(rng.uniform(0.01, 0.2)), int(rng.integers(-20, 21)))
    y = TensorInfo("y", (rows, n_len), "int8", float(rng.choice([1 / 255, 1 / 256, rng.uniform(0.002, 0.01)])), -128)
    params, attrs = ops.softmax.params(x, y, "case")
    op = Op("softmax", "op", ["x"], ["y"], attrs=attrs, params=params)
    return _graph(rng, (rows, n_len), [op], {"y": y}, "y")


def case_matmul(rng):
    rows, i, o = int(rng.integers(1, 6)), int(rng.integers(1, 9)), int(rng.integers(1, 7))
    w = rng.integers(-127, 128, (o, i)).astype(np.int8)
    op = Op("matmul", "op", ["x"], ["y"], attrs={"rows": rows, **_zps(rng)},
            params={"w": w, **_requant_params(rng, o, i, rng.random() < 0.5)})
    return _graph(rng, (rows, i), [op], {"y": TensorInfo("y", (rows, o), "int8")}, "y")


def case_transpose(rng):
    ch, length = int(rng.integers(1, 6)), int(rng.integers(1, 30))
    op = Op("transpose", "op", ["x"], ["y"])
    return _graph(rng, (ch, length), [op], {"y": TensorInfo("y", (length, ch), "int8")}, "y")


def case_conv_transpose1d(rng):
    ci, co = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    k, s = int(rng.integers(1, 9)), int(rng.integers(1, 5))
    pad = (int(rng.integers(0, k)), int(rng.integers(0, k)))
    opad = int(rng.integers(0, s))
    length = int(rng.integers(3, 24))
    lo = (length - 1) * s + k + opad - pad[0] - pad[1]
    if lo < 1:
        pad, lo = (0, 0), (length - 1) * s + k + opad
    w = rng.integers(-127, 128, (ci, co, k)).astype(np.int8)
    op = Op("conv_transpose1d", "op", ["x"], ["y"],
            attrs={"stride": s, "pad": pad, "output_padding": opad, **_zps(rng)},
            params={"w": w, **_requant_params(rng, co, ci * -(-k // s), rng.random() < 0.5)})
    return _graph(rng, (ci, length), [op], {"y": TensorInfo("y", (co, lo), "int8")}, "y")


def case_dense(rng):
    ci, length, co = int(rng.integers(1, 5)), int(rng.integers(1, 12)), int(rng.integers(1, 9))
    w = rng.integers(-127, 128, (co, ci * length)).astype(np.int8)
    op = Op("dense", "op", ["x"], ["y"], attrs=_zps(rng),
            params={"w": w, **_requant_params(rng, co, ci * length, rng.random() < 0.5)})
    return _graph(rng, (ci, length), [op], {"y": TensorInfo("y", (co,), "int8")}, "y")


def case_global_sum(rng):
    ch, length, co = int(rng.integers(1, 8)), int(rng.integers(1, 64)), int(rng.integers(1, 6))
    x_zp = int(rng.integers(-20, 21))
    pool = Op("global_sum", "op", ["x"], ["s"], attrs={"x_zp": x_zp, "length": length})
    w = rng.integers(-127, 128, (co, ch)).astype(np.int8)
    dense = Op("dense", "fc", ["s"], ["y"], attrs={"x_zp": 0, "y_zp": int(rng.integers(-20, 21))},
               params={"w": w, **_requant_params(rng, co, ch * length, False)})
    t = {"s": TensorInfo("s", (ch,), "int32"), "y": TensorInfo("y", (co,), "int8")}
    return _graph(rng, (ch, length), [pool, dense], t, "y")


def case_lut(rng):
    shape = (int(rng.integers(1, 5)), int(rng.integers(1, 40)))
    op = Op("lut", "op", ["x"], ["y"], params={"table": _table(rng)})
    return _graph(rng, shape, [op], {"y": TensorInfo("y", shape, "int8")}, "y")


def case_mul(rng):
    ch, length = int(rng.integers(1, 5)), int(rng.integers(1, 40))
    m, n = quantize_multiplier(float(rng.uniform(0.001, 0.02)))
    attrs = {"a_zp": int(rng.integers(-20, 21)), "b_zp": int(rng.integers(-20, 21)), "y_zp": int(rng.integers(-20, 21)),
             "m": m, "n": n}
    t = {"y": TensorInfo("y", (ch, length), "int8")}
    if rng.random() < 0.5:  # (C, L) * (C, 1): the gate of a channel attention
        w = rng.integers(-127, 128, (ch, ch * length)).astype(np.int8)
        gate = Op("dense", "gate", ["x"], ["g"], attrs={"x_zp": 0, "y_zp": 0},
                  params={"w": w, **_requant_params(rng, ch, ch * length, False)})
        t["g"] = TensorInfo("g", (ch, 1), "int8")
        return _graph(rng, (ch, length), [gate, Op("mul", "op", ["x", "g"], ["y"], attrs=attrs)], t, "y")
    t["a"] = TensorInfo("a", (ch, length), "int8")
    first = Op("lut", "first", ["x"], ["a"], params={"table": _table(rng)})
    return _graph(rng, (ch, length), [first, Op("mul", "op", ["a", "x"], ["y"], attrs=attrs)], t, "y")


def case_add(rng):
    ch, length = int(rng.integers(1, 5)), int(rng.integers(1, 40))
    ma, mb, n = add_multipliers(float(rng.uniform(0.2, 2.0)), float(rng.uniform(0.2, 2.0)))
    attrs = {"a_zp": int(rng.integers(-20, 21)), "b_zp": int(rng.integers(-20, 21)), "y_zp": int(rng.integers(-20, 21)),
             "ma": ma, "mb": mb, "n": n}
    t = {"a": TensorInfo("a", (ch, length), "int8"), "y": TensorInfo("y", (ch, length), "int8")}
    first = Op("lut", "first", ["x"], ["a"], params={"table": _table(rng)})
    return _graph(rng, (ch, length), [first, Op("add", "op", ["x", "a"], ["y"], attrs=attrs)], t, "y")


CASES = {"conv1d": case_conv1d, "conv_transpose1d": case_conv_transpose1d, "dense": case_dense,
         "global_sum": case_global_sum, "lut": case_lut, "mul": case_mul, "add": case_add,
         "maxpool": case_maxpool, "avgpool": case_avgpool, "mean": case_mean, "concat": case_concat,
         "softmax": case_softmax, "matmul": case_matmul, "transpose": case_transpose}
EXTRA_CASES = {"conv1d_grouped": ("conv1d", case_conv1d_grouped)}


def _windows(rng, shape, n=12):
    x = rng.integers(-128, 128, (n, *shape)).astype(np.int8)
    x[0], x[1] = -128, 127
    return x


def _layer(report, name):
    return next(r for r in report["layers"] if r["name"] == name)


def test_every_op_has_a_module_and_a_case():
    assert set(CASES) == set(ops.OPS)
    for kind, mod in ops.OPS.items():
        assert mod.KIND == kind


KERNELS = ([("generic", kind) for kind in ops.OPS] + [("generic", name) for name in EXTRA_CASES]
           + [(s, kind) for s, kind, _ in ops.all_overlays()])


def _case(name):
    return EXTRA_CASES[name] if name in EXTRA_CASES else (name, CASES[name])


@pytest.mark.parametrize("kernel_set,kind", KERNELS, ids=[f"{s}-{k}" for s, k in KERNELS])
def test_op_is_bit_exact_with_the_reference(kernel_set, kind, tmp_path):
    rng = np.random.default_rng(sum(map(ord, kernel_set + kind)))
    used = []
    n_cases = CASES_PER_OP if kernel_set == "generic" else CASES_PER_OVERLAY
    kind, builder = _case(kind)
    for i in range(n_cases):
        g = builder(rng)
        res = compile_model(g, "host", tmp_path / str(i), kernels=kernel_set, build_object=False)
        row = _layer(res.report, "op")
        if kernel_set == "generic":
            assert row["kernel"] == "generic" and row["kernel_fallback"] is None
        elif row["kernel"] == "generic":
            assert row["kernel_fallback"], "a declined overlay must say why"
        else:
            assert row["kernel"] == f"{kernel_set}/{kind}"
            used.append(i)
        host = HostModel(res.out_dir)
        x = _windows(rng, g.tensors["x"].shape)
        got, want = host.run(x), reference.run(g, x)
        for name, api in zip(g.outputs, ("denoised", "logits")):
            diff = np.count_nonzero(got[api].reshape(want[name].shape) != want[name])
            assert diff == 0, f"case {i} ({row['kernel']}): {diff} of {want[name].size} values of {name} differ"
    if kernel_set != "generic":
        assert used, f"{kernel_set}/{kind} claimed none of the {n_cases} random cases: extend the cases"


# --- kernel sets and targets ----------------------------------------------------------------
def test_targets_name_kernel_sets_that_exist():
    sets = ops.kernel_sets()
    assert {"cortex_m_dsp", "mve", "riscv"} <= set(sets)
    want = {"cortex-m4": "cortex_m_dsp", "cortex-m7": "cortex_m_dsp", "cortex-m55": "mve", "riscv32": "riscv",
            "host": "generic"}
    for target, kset in want.items():
        assert ops.set_name(load_target(target).kernels) == kset


def test_unknown_kernel_set_is_named(tmp_path):
    g = case_lut(np.random.default_rng(0))
    with pytest.raises(CompilerError, match="unknown kernel set 'nope'; known: generic, .*cortex_m_dsp"):
        compile_model(g, "host", tmp_path, kernels="nope", build_object=False)


def _example_case(ci, k=5, length=30, pad=(2, 2), stride=2):
    rng = np.random.default_rng(ci)
    w = rng.integers(-127, 128, (3, ci, k)).astype(np.int8)
    op = Op("conv1d", "op", ["x"], ["y"], attrs={"stride": stride, "pad": pad, "x_zp": 5, "y_zp": -3},
            params={"w": w, **_requant_params(rng, 3, ci * k, True)})
    lo = (length + sum(pad) - k) // stride + 1
    return _graph(rng, (ci, length), [op], {"y": TensorInfo("y", (3, lo), "int8")}, "y")


def test_overlay_plumbing_constants_scratch_and_c_header(tmp_path):
    """The example overlay pads the taps to an even count in its constants, widens the input
    into int16 arena scratch and calls its C micro-kernel from TIR."""
    g = _example_case(ci=3, k=5, length=30, pad=(2, 2))
    gen = compile_model(g, "host", tmp_path / "generic", kernels="generic", build_object=False)
    ex = compile_model(g, "host", tmp_path / "example", kernels="example", build_object=False)
    row = _layer(ex.report, "op")
    assert row["kernel"] == "example/conv1d" and row["kernel_fallback"] is None
    assert _layer(gen.report, "op")["kernel"] == "generic"
    # constants: 3 x 3 x 5 weights -> 3 x 3 x 6 (one zero tap per row)
    assert ex.report["weights_bytes"] - gen.report["weights_bytes"] == 3 * 3 * 1
    # scratch: 3 channels x (2 + 30 + 2 + 1) int16, in the arena and in its lower bound
    scratch = 3 * 35 * 2
    assert row["scratch_bytes"] == scratch == ex.report["arena_scratch_bytes"]
    assert [b.size for b in ex.plan.buffers if is_scratch(b.name)] == [scratch]
    assert ex.report["arena_lower_bound_bytes"] == gen.report["arena_lower_bound_bytes"] + scratch
    assert ex.report["arena_bytes"] >= ex.report["arena_lower_bound_bytes"]
    model_c = (ex.out_dir / "model.c").read_text()
    assert "static const int8_t op_w[3 * 3 * 6] __attribute__((aligned(4))) = {" in model_c
    assert "int16_t *const op_conv1d_xs = (int16_t *)(arena + " in model_c
    assert "op_conv1d_xs, " in model_c and "kernel example/conv1d" in model_c
    # the micro-kernel: its header copied next to kernels.c, included, called
    kernels_c = (ex.out_dir / "kernels.c").read_text()
    assert (ex.out_dir / "ops" / "example" / "example_dot.h").is_file()
    assert '#include "ops/example/example_dot.h"' in kernels_c
    assert kernels_c.count("ek_example_dot(") == 1  # bound once, not re-evaluated by the epilogue
    assert json.loads((ex.out_dir / "compile.json").read_text())["kernels"] == "example"
    x = _windows(np.random.default_rng(1), (3, 30))
    for res in (gen, ex):
        got, want = HostModel(res.out_dir).run(x), reference.run(g, x)
        assert np.array_equal(got["denoised"].reshape(want["y"].shape), want["y"])


def test_overlay_falls_back_with_its_reason(tmp_path):
    g = _example_case(ci=1)
    res = compile_model(g, "host", tmp_path, kernels="example", build_object=False)
    row = _layer(res.report, "op")
    assert row["kernel"] == "generic"
    assert row["kernel_fallback"] == "example/conv1d: 1 input channel (needs >= 2)"
    assert "generic (example/conv1d: 1 input channel" in res.table()
    assert res.report["arena_scratch_bytes"] == 0
    assert not list(res.out_dir.glob("ops/*/*.h"))


def test_overlay_header_cross_compiles_clean_for_cortex_m7(tmp_path):
    g = _example_case(ci=2)
    res = compile_model(g, "cortex-m7", tmp_path, kernels="example", check_fit=False)
    assert _layer(res.report, "op")["kernel"] == "example/conv1d"
    assert res.report["code_bytes"] > 0 and not res.report["forbidden_symbols"]


@pytest.mark.parametrize("ci,co,k,pad", [(1, 12, 3, (1, 1)),    # the foreign tcn model's first conv
                                          (1, 8, 5, (2, 2))])    # and multi_io's (lead1 and lead2)
def test_dsp_overlay_cross_compiles_clean_for_a_constant_short_row_shape(tmp_path, ci, co, k, pad):
    """One cortex_m_dsp conv1d layer, 128 long, so GCC specializes the micro-kernels for its
    constants; the build uses -Werror, which once failed with -Waggressive-loop-optimizations
    ("iteration 2147483647 invokes undefined behavior") in the tail loops."""
    rng = np.random.default_rng(ci * co + k)
    w = rng.integers(-127, 128, (co, ci, k)).astype(np.int8)
    op = Op("conv1d", "op", ["x"], ["y"], attrs={"stride": 1, "pad": pad, "x_zp": -36, "y_zp": -128},
            params={"w": w, **_requant_params(rng, co, ci * k, False)})
    g = _graph(rng, (ci, 128), [op], {"y": TensorInfo("y", (co, 128), "int8")}, "y")
    res = compile_model(g, "cortex-m7", tmp_path, check_fit=False)
    assert _layer(res.report, "op")["kernel"] == "cortex_m_dsp/conv1d"
    assert "-Werror" in toolchain.WARNINGS
    assert res.report["code_bytes"] > 0 and not res.report["forbidden_symbols"]


def test_ops_reference_compiler_and_bench_do_not_import_torch():
    import subprocess
    import sys
    code = ("import sys, edgekit.ops, edgekit.ir.reference, edgekit.compiler, edgekit.harness.bench; "
            "edgekit.ops.all_overlays(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_registry_refuses_an_incomplete_overlay(tmp_path):
    from types import SimpleNamespace

    from edgekit.ops import KernelError, _check_overlay

    ok = dict(KIND="conv1d", claims=lambda s, g: None, make_kernel=lambda k, g: k, build=lambda k, g: None,
              __file__=str(tmp_path / "conv1d.py"))
    _check_overlay(SimpleNamespace(**ok), "mine", "conv1d")
    with pytest.raises(KernelError, match="mine/conv1d.py lacks build"):
        _check_overlay(SimpleNamespace(**{**ok, "build": None}), "mine", "conv1d")
    with pytest.raises(KernelError, match="must set KIND = 'conv1d'"):
        _check_overlay(SimpleNamespace(**{**ok, "KIND": "dense"}), "mine", "conv1d")
    with pytest.raises(KernelError, match="lists C header 'dot.h', which is not next to it"):
        _check_overlay(SimpleNamespace(**ok, C_HEADERS=("dot.h",)), "mine", "conv1d")
    (tmp_path / "dot.h").write_text("/* */\n")
    _check_overlay(SimpleNamespace(**ok, C_HEADERS=("dot.h",)), "mine", "conv1d")

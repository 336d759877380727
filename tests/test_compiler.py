"""The TVM compiler: generated C is bit-exact with the integer reference on the host, the
arena plan is near its lower bound, cross-compiled objects are clean (no heap, no float,
no TVM runtime), and every error says what is wrong."""
import dataclasses
import hashlib
import json
import math
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from edgekit.compiler import (AccumulatorOverflowError, HostModel, ModelTooLargeError, ToolchainMissingError,
                              UnknownTargetError, UnsupportedModelError, compile_model)
from edgekit.compiler.frontend import accumulator_bounds, check_graph
from edgekit.compiler.names import Namer, sanitize
from edgekit.compiler.planner import Buffer, MemoryPlan, lifetimes, plan_memory
from edgekit.compiler.steps import make_steps
from edgekit.compiler.toolchain import forbidden_symbols, load_target
from edgekit.model.acdae import ACDAE, ACDAEConfig, transpose_padding
from edgekit.model.fakequant import set_qat
from edgekit.ir import reference
from edgekit.quant.export import export_model
from edgekit.ir.intgraph import IntGraph, Op, TensorInfo

REPO = Path(__file__).resolve().parents[1]
TRAINED = REPO / "models" / "acdae" / "model.onnx"

CONFIGS = {
    "default": ACDAEConfig(),
    # stride 4 (pad 0) and stride 2 (pad 1 % 2 != 0) transposed convs, kernel 5
    "w8_16_k5_s4_2": ACDAEConfig(window=512, widths=(8, 16), kernel=5, strides=(4, 2), dec_kernel=4),
    # four levels, kernel 7, dec kernel 6 (pad 2)
    "w8_8_16_16_k7": ACDAEConfig(widths=(8, 8, 16, 16), kernel=7, strides=(2, 2, 2, 2), dec_kernel=6),
    # dec kernel 5 / stride 2: K % s != 0, pad 2, output_padding 1; kernel 3; shorter window
    "w12_24_k3_d5": ACDAEConfig(window=256, widths=(12, 24), kernel=3, strides=(2, 2), dec_kernel=5,
                                head_hidden=8),
    # stride-1 refinement convs after each level (encoder, and decoder after the skip add)
    "w8_16_refine": ACDAEConfig(widths=(8, 16), kernel=5, strides=(2, 2), dec_kernel=4, refine=1),
    # no input skip (--no-residual): the last transposed conv writes the output itself
    "w8_16_plain": ACDAEConfig(widths=(8, 16), kernel=5, strides=(2, 2), dec_kernel=4, residual=False),
}


def _export(cfg: ACDAEConfig, out_dir: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    m = ACDAE(cfg)
    set_qat(m, True)
    m.train()
    with torch.no_grad():
        for _ in range(4):
            m(torch.randn(16, cfg.in_channels, cfg.window) * 0.3)
    m.eval()
    return export_model(m, out_dir)


def _windows(n: int, channels: int, length: int, seed: int) -> np.ndarray:
    """Random int8 windows plus the extremes (all -128, all 127, alternating)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (max(n, 4), channels, length)).astype(np.int8)
    x[0], x[1] = -128, 127
    x[2] = np.where(np.arange(length) % 2, 127, -128).astype(np.int8)
    x[3] = (np.sin(np.arange(length) / 9.0) * 60).astype(np.int8)
    return x[:n]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {name: _export(cfg, root / name, seed) for seed, (name, cfg) in enumerate(CONFIGS.items())}


@pytest.fixture(scope="module")
def host_builds(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("host")
    return {name: compile_model(path, "host", root / name) for name, path in models.items()}


def _assert_bit_exact(host: HostModel, graph, x: np.ndarray):
    got = host.run(x)
    want = reference.run(graph, x)
    for name, api in zip(graph.outputs, ("denoised", "logits")):
        assert got[api].shape == want[name].shape, (api, got[api].shape, want[name].shape)
        mismatch = np.count_nonzero(got[api] != want[name])
        assert mismatch == 0, f"{api}: {mismatch} of {want[name].size} values differ"


# --- bit-exactness ----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS))
def test_host_build_is_bit_exact_with_the_integer_reference(name, host_builds):
    res = host_builds[name]
    cfg = CONFIGS[name]
    host = HostModel(res.out_dir)
    assert (host.channels, host.length) == (cfg.in_channels, cfg.window)
    _assert_bit_exact(host, res.graph, _windows(48, cfg.in_channels, cfg.window, seed=10))
    # the test models are not degenerate: outputs are not all saturated
    den = host.run(_windows(8, cfg.in_channels, cfg.window, seed=11))["denoised"]
    assert len(np.unique(den)) > 20 and np.mean(np.abs(den.astype(int)) == 128) < 0.5


def test_the_models_cover_the_hard_transposed_conv_cases(host_builds):
    convt = [op for r in host_builds.values() for op in r.graph.ops if op.kind == "conv_transpose1d"]
    assert any(op.attrs["pad"][0] % op.attrs["stride"] for op in convt)            # pad % stride != 0
    assert any(op.params["w"].shape[2] % op.attrs["stride"] for op in convt)       # K % stride != 0
    assert any(op.attrs.get("output_padding", 0) for op in convt)
    assert {op.attrs["stride"] for op in convt} >= {2, 4}
    assert transpose_padding(4, 2) == (1, 0)


def test_unfused_one_kernel_per_layer_is_bit_exact_too(models, host_builds, tmp_path):
    fused = host_builds["default"]
    plain = compile_model(models["default"], "host", tmp_path, fuse=False, inplace=False)
    n_adds = sum(op.kind == "add" for op in plain.graph.ops)
    assert len(plain.kernels) == len(plain.graph.ops) and plain.report["in_place"] == {}
    assert len(fused.kernels) == len(fused.graph.ops) - n_adds and len(fused.report["fused"]) == n_adds > 0
    _assert_bit_exact(HostModel(plain.out_dir), plain.graph, _windows(16, 2, CONFIGS["default"].window, seed=3))
    # fusing the skip adds and working in place shrink the arena (what keeps the ACDAE arena small)
    assert fused.report["arena_bytes"] < 0.85 * plain.report["arena_bytes"]
    assert plain.report["arena_lower_bound_bytes"] == plain.report["arena_lower_bound_no_inplace_bytes"]


def test_host_model_runs_single_windows_and_checks_arguments(host_builds):
    res = host_builds["default"]
    host = HostModel(res.out_dir)
    x = _windows(4, 2, CONFIGS["default"].window, seed=5)[2:]
    one = host.run(x[1])
    assert one["denoised"].shape == (2, CONFIGS["default"].window) and one["logits"].shape == (2,)
    assert np.array_equal(one["denoised"], reference.run(res.graph, x[1])["denoised"])
    assert host.layer_names == [op.name for op in res.graph.ops]
    assert host.layer_macs == [op.macs(res.graph.tensors) for op in res.graph.ops]
    arena = host.new_arena()
    den, log = np.zeros(1024, np.int8), np.zeros(2, np.int8)
    assert host._run(x[0].ctypes.data, den.ctypes.data, log.ctypes.data, arena.ctypes.data + 1) == -2  # misaligned
    assert host._run(None, den.ctypes.data, log.ctypes.data, arena.ctypes.data) == -1
    with pytest.raises(ValueError):
        host.run(np.zeros((3, 2, 100), np.int8))


def test_outputs_map_by_position_whatever_their_names(models, tmp_path):
    m = onnx.load(str(models["w8_16_k5_s4_2"]))
    rename = {"denoised": "out_signal", "logits": "out_class"}
    for node in m.graph.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        node.output[:] = [rename.get(o, o) for o in node.output]
    for vi in m.graph.output:
        vi.name = rename.get(vi.name, vi.name)
    res = compile_model(m, "host", tmp_path)
    assert res.graph.outputs[0] != "denoised"
    host = HostModel(tmp_path)
    x = _windows(6, 2, CONFIGS["w8_16_k5_s4_2"].window, seed=9)
    got, want = host.run(x), reference.run(res.graph, x)
    assert np.array_equal(got["denoised"], want[res.graph.outputs[0]])
    assert np.array_equal(got["logits"], want[res.graph.outputs[1]])
    assert np.array_equal(got["out_signal"], got["denoised"])


@pytest.fixture(scope="module")
def real_windows():
    """>= 1000 real test windows (int8, N x 2 x W); without the databases the test fails saying how to get them."""
    from edgekit.data import DataError, evaluation_windows, resolve_data_dir, split_records
    try:
        data_dir = resolve_data_dir()
        records = split_records(data_dir)["test"]
        per = math.ceil(1000 / len(records))
        ws = evaluation_windows(data_dir, records, "mixed", 6, per_record=per, seed=0)
    except DataError as e:
        pytest.fail(f"no real test windows: {e}")
    return np.asarray(ws.noisy, dtype=np.int8)


@pytest.fixture(scope="module")
def trained_model():
    assert TRAINED.is_file(), f"{TRAINED.relative_to(REPO)} is missing: the shipped model is part of the repo"
    return TRAINED


def test_trained_model_is_bit_exact_on_1000_real_windows(trained_model, real_windows, tmp_path_factory):
    assert real_windows.shape[0] >= 1000
    res = compile_model(trained_model, "host", tmp_path_factory.mktemp("trained"))
    _assert_bit_exact(HostModel(res.out_dir), res.graph, real_windows)


# --- memory plan ------------------------------------------------------------------------
def _max_live(graph, steps, plan) -> int:
    """Independent lower bound: bytes of distinct buffers live at each step."""
    live = lifetimes(steps)
    best = 0
    for st in steps:
        bufs = {}
        for t, (a, b) in live.items():
            if a <= st.index <= b and plan.in_arena(t):
                buf = plan.buffer(t)
                bufs[buf.name] = max(bufs.get(buf.name, 0), graph.tensors[t].nbytes)
        best = max(best, sum(bufs.values()))
    return best


@pytest.mark.parametrize("name", list(CONFIGS))
def test_arena_is_within_10_percent_of_the_lower_bound(name, host_builds):
    res = host_builds[name]
    plan = res.plan
    plan.verify()
    assert plan.lower_bound_bytes == _max_live(res.graph, res.steps, plan)
    assert plan.arena_bytes <= 1.10 * plan.lower_bound_bytes, (plan.arena_bytes, plan.lower_bound_bytes)
    rep = res.report
    assert rep["arena_bytes"] == plan.arena_bytes and rep["arena_lower_bound_bytes"] == plan.lower_bound_bytes
    assert rep["arena_bytes"] % 8 == 0


def test_plan_numbers_of_a_fixed_model(host_builds):
    """widths (8, 16), strides (4, 2): enc1_eca_out (8x128) and enc2_q (16x64), 1024 B each, are live
    together with enc2's pooled sum (16 x int32) and its ECA pre-activation (16 B)."""
    rep = host_builds["w8_16_k5_s4_2"].report
    assert rep["arena_lower_bound_bytes"] == 1024 + 1024 + 64 + 16
    assert rep["arena_bytes"] == rep["arena_lower_bound_bytes"]
    assert rep["arena_lower_bound_no_inplace_bytes"] > rep["arena_lower_bound_bytes"]
    # the decoder's skip add runs in place over the skip tensor it reads (it dies there)
    assert rep["in_place"]["dec2_skip_q"] == "enc1_eca_out_q"
    assert rep["macs"] == host_builds["w8_16_k5_s4_2"].graph.total_macs


def test_no_in_place_over_a_tensor_the_fused_conv_reads():
    """conv(x) + x: the add is fused into the conv, but must not overwrite x (the conv reads all of it)."""
    t = {n: TensorInfo(n, (4, 16), "int8") for n in ("inp", "x", "y", "z", "out")}
    ones = np.ones(4, np.int32)
    conv = Op("conv1d", "conv", ["x"], ["y"], attrs={"x_zp": 0, "y_zp": 0, "stride": 1, "pad": (1, 1)},
              params={"w": np.ones((4, 4, 3), np.int8), "bias": ones * 0, "m_pos": ones << 30, "n_pos": ones * 31,
                      "m_neg": ones << 30, "n_neg": ones * 31})
    ops = [Op("lut", "pre", ["inp"], ["x"], params={"table": np.arange(-128, 128).astype(np.int8)}), conv,
           Op("add", "skip", ["y", "x"], ["z"], attrs={"a_zp": 0, "b_zp": 0, "y_zp": 0, "ma": 1 << 30,
                                                       "mb": 1 << 30, "n": 31}),
           Op("lut", "post", ["z"], ["out"], params={"table": np.arange(-128, 128).astype(np.int8)})]
    g = IntGraph("g", ["inp"], ["out"], t, ops)
    steps = make_steps(g)
    assert [s.name for s in steps] == ["pre", "conv + skip", "post"] and steps[1].inplace_candidates == []
    plan = plan_memory(g, steps)
    assert "z" not in plan.inplace and plan.inplace.get("out") is None
    assert plan.buffer("x").offset != plan.buffer("z").offset and plan.arena_bytes == 128


def test_plan_verify_catches_overlaps():
    a, b = Buffer("a", ["a"], 64, 0, 2, 0), Buffer("b", ["b"], 64, 1, 3, 32)
    with pytest.raises(AssertionError, match="overlap"):
        MemoryPlan([a, b], 96, 128, 1, "manual").verify()
    b.offset = 64
    MemoryPlan([a, b], 128, 128, 1, "manual").verify()


# --- generated C ------------------------------------------------------------------------
def test_generated_c_follows_the_api_and_reads_top_to_bottom(models, host_builds):
    res = host_builds["default"]
    g, d = res.graph, res.out_dir
    h, c, k = (d / "model.h").read_text(), (d / "model.c").read_text(), (d / "kernels.c").read_text()
    sha = hashlib.sha256(Path(models["default"]).read_bytes()).hexdigest()
    for line in (f'#define EDGEKIT_MODEL_HASH "{sha[:16]}"', "#define EDGEKIT_INPUT_CHANNELS 2",
                 "#define EDGEKIT_INPUT_LENGTH 1024", "#define EDGEKIT_INPUT_BYTES 2048",
                 "#define EDGEKIT_DENOISED_BYTES 2048", "#define EDGEKIT_LOGITS_BYTES 2",
                 f"#define EDGEKIT_ARENA_BYTES {res.plan.arena_bytes}", f"#define EDGEKIT_NUM_LAYERS {len(g.ops)}",
                 f"#define EDGEKIT_TOTAL_MACS {g.total_macs}", '#define EDGEKIT_MODEL_NAME "acdae"',
                 "int32_t edgekit_model_run(const int8_t *input, int8_t *denoised, int8_t *logits, uint8_t *arena);",
                 "extern void (*edgekit_layer_hook)(int layer_index);",
                 "extern const char *const edgekit_layer_names[EDGEKIT_NUM_LAYERS];",
                 "extern const uint32_t edgekit_layer_macs[EDGEKIT_NUM_LAYERS];"):
        assert line in h, line
    assert "enc1_conv1d(input, enc1_w, enc1_bias, enc1_m_pos, enc1_n_pos, enc1_m_neg, enc1_n_neg, enc1_q);" in c
    assert "fc2_dense(fc1_q, fc2_w, fc2_bias, fc2_m, fc2_n, logits);" in c
    assert re.search(r"\n    dec1_conv_transpose1d\w*\(dec2_skip_q, dec1_w, .*denoised\);", c)
    assert [int(i) for i in re.findall(r"EDGEKIT_HOOK\((\d+)\);", c)] == list(range(len(g.ops)))
    dims = " * ".join(map(str, g.ops[0].params["w"].shape))
    assert f"static const int8_t enc1_w[{dims}] = {{" in c and "malloc" not in c
    # every kernel: plain pointers, const inputs, no TVM runtime, no float
    assert re.search(r"void enc2_conv1d\(const int8_t\* x, const int8_t\* w, const int32_t\* bias, .*int8_t\* y\)", k)
    for bad in ("TVMBackend", "TVMFFI", "DLTensor", "float", "double", "malloc"):
        assert bad not in k, bad


def test_conv_interior_has_no_padding_test(host_builds):
    """The output-time loop of every conv is split so the interior reads no padding."""
    res = host_builds["w8_8_16_16_k7"]
    src = (res.out_dir / "kernels.c").read_text()
    for kern in res.kernels:
        if kern.op.kind not in ("conv1d", "conv_transpose1d"):
            continue
        a, b = kern.time_split
        body = src[src.index(f"void {kern.func}("):]
        body = body[:body.index("\n}\n")]
        interior = body[body.index(f"= {a}; t_1 < {b}; ++t_1)"):]
        interior = interior[:interior.rindex("\n", 0, interior.index("bias["))]  # up to the epilogue
        assert "for (int32_t c" in interior and "(int32_t)x[" in interior
        assert a == 0 or f"for (int32_t t = 0; t < {a}; ++t)" in body   # the left edge, with padding
        assert not re.search(r"condval\w* = x\[", interior), kern.func   # no guarded input read


def test_names_are_c_identifiers():
    assert sanitize("1st layer/conv.0") == "t_1st_layer_conv_0"
    assert sanitize("int") == "int_" and sanitize("__x") == "x" and sanitize("a.b") == "a_b"
    n = Namer()
    assert n(1, "enc 1") == "enc_1" and n(2, "enc-1") == "enc_1_2" and n(1, "other") == "enc_1"
    assert n(3, "input") == "input_2" and n(4, "edgekit_model_run") == "l_edgekit_model_run"


# --- front-end checks -------------------------------------------------------------------
def test_accumulator_bounds_and_overflow_error(host_builds):
    g = host_builds["default"].graph
    bounds = accumulator_bounds(g)
    assert 0 < bounds["enc3"] < 2**31 and bounds["fc1"] > bounds["fc2"]
    tensors = {"x": TensorInfo("x", (64, 4096), "int8", zero_point=-100), "s": TensorInfo("s", (64,), "int32"),
               "y": TensorInfo("y", (2,), "int8")}
    ones = np.ones(2, np.int32)
    ops = [Op("global_sum", "pool", ["x"], ["s"], attrs={"x_zp": -100, "length": 4096}),
           Op("dense", "head", ["s"], ["y"], attrs={"x_zp": 0, "y_zp": 0},
              params={"w": np.full((2, 64), 127, np.int8), "bias": np.zeros(2, np.int32), "m_pos": ones << 30,
                      "n_pos": ones * 40, "m_neg": ones << 30, "n_neg": ones * 40})]
    with pytest.raises(AccumulatorOverflowError, match=r"layer 'head' \(dense\).*2\*\*31"):
        check_graph(IntGraph("big", ["x"], ["y"], tensors, ops))


def test_unsupported_onnx_op_is_named(models, tmp_path):
    m = onnx.load(str(models["w8_16_k5_s4_2"]))
    node = next(n for n in m.graph.node if n.op_type == "LeakyRelu")
    node.op_type = "Erf"
    with pytest.raises(UnsupportedModelError, match=r"Erf.*unsupported op.*Supported ops: .*Conv"):
        compile_model(m, "host", tmp_path)


# --- targets, cross compile and errors --------------------------------------------------
@pytest.fixture(scope="module")
def cross_builds(models, tmp_path_factory):
    """target -> (CompileResult, seconds), or the ToolchainMissingError that names the apt package."""
    out = {}
    for target in ("cortex-m7", "riscv32"):
        t0 = time.perf_counter()
        try:
            res = compile_model(models["default"], target, tmp_path_factory.mktemp(target))
        except ToolchainMissingError as e:
            out[target] = e
            continue
        out[target] = (res, time.perf_counter() - t0)
    return out


def _cross_build(cross_builds, target):
    got = cross_builds[target]
    if isinstance(got, ToolchainMissingError):
        pytest.fail(str(got))
    return got


@pytest.mark.parametrize("target", ["cortex-m7", "riscv32"])
def test_cross_compiled_object_has_no_heap_float_or_tvm_runtime(target, cross_builds):
    res, _ = _cross_build(cross_builds, target)
    rep, t = res.report, load_target(target)
    obj = Path(rep["object"])
    undefined = subprocess.run([t.tool("nm"), "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    undefined = [line.split()[-1] for line in undefined.splitlines() if line.strip()]
    assert forbidden_symbols(undefined) == [], undefined
    for name in undefined:
        assert not re.match(r"(malloc|free|calloc|realloc|__aeabi_[fd]|__\w*[sd]f[23]$|TVMBackend|TVMFFI)", name)
    defined = subprocess.run([t.tool("nm"), "--defined-only", str(obj)], capture_output=True, text=True).stdout
    assert " T edgekit_model_run" in defined and " T enc1_conv1d" in defined
    assert " R enc1_w" in defined or " r enc1_w" in defined          # weights: read-only data (flash)
    assert rep["rodata_bytes"] >= rep["weights_bytes"] > 30000 and rep["data_bytes"] <= 16
    assert 0 < rep["code_bytes"] < 64 * 1024
    assert 0 < rep["max_stack_bytes"] < 1024 and rep["stack_dynamic"] == []
    assert rep["forbidden_symbols"] == []
    assert rep["ram_needed_bytes"] < t.ram_bytes and rep["flash_needed_bytes"] < t.flash_bytes
    assert "-Werror" in rep["cflags"] and "-fstack-usage" in rep["cflags"]
    saved = json.loads((res.out_dir / "compile.json").read_text())
    for key in ("target", "macs", "arena_bytes", "arena_lower_bound_bytes", "weights_bytes", "code_bytes",
                "max_stack_bytes", "seconds", "layers"):
        assert key in saved, key
    assert saved["target"] == target and len(saved["layers"]) == len(res.graph.ops)


def test_default_model_compiles_for_cortex_m7_in_under_60_s(cross_builds):
    res, seconds = _cross_build(cross_builds, "cortex-m7")
    assert seconds < 60 and res.report["seconds"] < 60


def test_unknown_target_lists_the_known_ones(models, tmp_path):
    with pytest.raises(UnknownTargetError, match=r"unknown target 'cortex-m99'.*cortex-m7.*riscv32"):
        compile_model(models["default"], "cortex-m99", tmp_path)


def test_missing_toolchain_names_the_apt_package(models, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToolchainMissingError, match=r"arm-none-eabi-gcc.*apt-get install.*gcc-arm-none-eabi"):
        compile_model(models["default"], "cortex-m7", tmp_path / "out")
    with pytest.raises(ToolchainMissingError, match=r"riscv64-unknown-elf-gcc.*gcc-riscv64-unknown-elf"):
        compile_model(models["default"], "riscv32", tmp_path / "out")


def test_model_too_large_for_a_tiny_target_says_by_how_much(models, tmp_path):
    tiny = dataclasses.replace(load_target("host"), name="tiny", flash_bytes=16 * 1024, ram_bytes=4096)
    with pytest.raises(ModelTooLargeError) as e:
        compile_model(models["default"], tiny, tmp_path)
    rep = json.loads((tmp_path / "compile.json").read_text())
    msg = str(e.value)
    assert "target 'tiny'" in msg
    assert f"{rep['flash_needed_bytes'] - 16 * 1024:,} B too many" in msg
    assert f"{rep['ram_needed_bytes'] - 4096:,} B too many" in msg
    assert "flash" in msg and "RAM" in msg

"""The blocked conv micro-kernels of the mve and riscv kernel sets (ek_conv_core.h), on the
host: each kernel against its portable twin and against the integer reference, on random
shapes (odd channel counts and lengths, strides 1-3, kernel sizes 1-16, paddings, LeakyReLU,
fused skip add, both requantize paths n <= 32 and n > 32)."""
from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgekit.ops.conv1d import folded_bias as conv_bias
from edgekit.ops.conv_transpose1d import folded_bias as convt_bias
from edgekit.ops.overlays import blocked_conv as bc
from edgekit.ops.overlays.mve import _set as mve_set
from edgekit.ops.overlays.riscv import _set as riscv_set
from edgekit.ir import reference
from edgekit.ir.intgraph import IntGraph, Op, TensorInfo

OVERLAYS = Path(bc.__file__).resolve().parent
SETS = {  # set -> (header, fast kernel, twin, layout for an op)
    "mve": ("mve/ek_mve_conv.h", "ek_mve_conv", "ek_mve_conv_portable"),
    "riscv": ("riscv/ek_rv_conv.h", "ek_rv_conv", "ek_rv_conv_portable"),
}


def layout(kset: str, op) -> bc.Layout:
    return {"mve": mve_set, "riscv": riscv_set}[kset].SET.layout(op)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("blocked_conv")
    src = d / "k.c"
    body = [f'#include "{OVERLAYS / "ek_conv_core.h"}"']
    for kset, (hdr, fast, twin) in SETS.items():
        body.append(f'#include "{OVERLAYS / hdr}"')
        for fn in (fast, twin):
            body.append(f"void x_{fn}(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *mn, "
                        f"const int8_t *skip, int8_t *scratch, const int32_t *cfg, int8_t *y) "
                        f"{{ {fn}(x, w, bias, mn, skip, scratch, cfg, y); }}")
    src.write_text("\n".join(body) + "\n")
    so = d / "k.so"
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", str(src), "-o", str(so)],
                   check=True)
    return ctypes.CDLL(str(so))


def random_layer(rng, transposed: bool, fused: bool, shape=None):
    """shape: (ci, co, k, stride, lin, pad) of an ACDAE-like layer, else all random."""
    ci, co = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    k = int(rng.integers(1, 17))
    s = int(rng.integers(1, 4))
    lin = int(rng.integers(1, 41))
    if shape:
        ci, co, k, s, lin, p = shape
    if transposed:
        pb = int(rng.integers(0, k)) if not shape else p
        pe = int(rng.integers(0, k)) if not shape else p
        opad = int(rng.integers(0, s)) if not shape else 0
        lout = (lin - 1) * s + k + opad - pb - pe
        if lout < 1:
            pb = pe = 0
            lout = (lin - 1) * s + k + opad
        w = rng.integers(-128, 128, (ci, co, k), dtype=np.int64).astype(np.int8)
        attrs = dict(stride=s, pad=(pb, pe), output_padding=opad)
    else:
        pl, pr = (int(rng.integers(0, k)), int(rng.integers(0, k))) if not shape else (p, p)
        if lin + pl + pr < k:
            lin = k
        lout = (lin + pl + pr - k) // s + 1
        w = rng.integers(-128, 128, (co, ci, k), dtype=np.int64).astype(np.int8)
        attrs = dict(stride=s, pad=(pl, pr))
    attrs.update(x_zp=int(rng.integers(-128, 128)), y_zp=int(rng.integers(-128, 128)))
    m_pos = rng.integers(2**30, 2**31, co).astype(np.int32)
    # outputs mostly inside int8 (a typical |acc| maps to ~32 LSB), some layers with n <= 32
    typical = 74 * 128 * np.sqrt(ci * -(-k // (s if transposed else 1)))
    n_mid = 31 + int(np.ceil(np.log2(typical / 32)))
    n_pos = (rng.integers(n_mid - 1, n_mid + 2, co) if rng.random() < 0.8 else rng.integers(24, 33, co)).astype(np.int32)
    if rng.random() < 0.5:
        m_neg, n_neg = rng.integers(2**30, 2**31, co).astype(np.int32), (n_pos + 3).astype(np.int32)
        n_neg[0] = 32
    else:
        m_neg, n_neg = m_pos.copy(), n_pos.copy()
    params = dict(w=w, bias=rng.integers(-2**16, 2**16, co).astype(np.int32),
                  m_pos=m_pos, n_pos=n_pos, m_neg=m_neg, n_neg=n_neg)
    kind = "conv_transpose1d" if transposed else "conv1d"
    op = Op(kind, "l", ["x"], ["q"], attrs, params)
    tensors = {"x": TensorInfo("x", (ci, lin), "int8"), "q": TensorInfo("q", (co, lout), "int8")}
    post = None
    if fused:
        tensors["s"] = TensorInfo("s", (co, lout), "int8")
        tensors["y"] = TensorInfo("y", (co, lout), "int8")
        ins = ["q", "s"] if rng.random() < 0.5 else ["s", "q"]
        n = int(rng.integers(14, 34))   # the int32 form of the add needs 17..46, below it the int64 one
        hi = min(2**n, 2**31 - 1)        # real multipliers 0.25..1: sums mostly inside int8
        post = Op("add", "a", ins, ["y"], dict(a_zp=int(rng.integers(-128, 128)), b_zp=int(rng.integers(-128, 128)),
                                               y_zp=int(rng.integers(-128, 128)), ma=int(rng.integers(hi // 4, hi)),
                                               mb=int(rng.integers(hi // 4, hi)), n=n))
    graph = IntGraph("g", ["x"], ["y" if fused else "q"], tensors, [op] + ([post] if post else []))
    return op, post, graph


def run_c(lib, fn, op, post, graph, lay, x, skip):
    chunk, nscratch = bc.chunk_and_scratch(op, graph, lay, budget=160)   # small: many windows per layer
    cfg = bc.config(op, graph, lay, chunk, post)
    w = bc.pack_weights(op, lay)
    bias = bc.bias((conv_bias if op.kind == "conv1d" else convt_bias)(op))
    mn = bc.multipliers(op)
    co, lout = graph.tensors["q"].shape
    y = np.zeros((co, lout), np.int8)
    scratch = np.full(nscratch + 64, 0x55, np.int8)   # garbage on entry; +64 guard must stay
    p = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    getattr(lib, f"x_{fn}")(p(x), p(w), p(bias), p(mn), p(skip), p(scratch), p(cfg), p(y))
    assert (scratch[nscratch:] == 0x55).all(), f"{fn} wrote past its scratch ({nscratch} B)"
    return y


def reference_out(op, post, graph, x, skip):
    q = reference.run_op(op, [x[None]], graph)[0]
    if post is None:
        return q
    args = [q if t == "q" else skip for t in post.inputs]
    return reference.add(args[0][None], args[1][None], post)[0]


@pytest.mark.parametrize("kset", list(SETS))
@pytest.mark.parametrize("transposed", [False, True])
def test_blocked_conv_matches_twin_and_reference_on_random_shapes(lib, kset, transposed):
    rng = np.random.default_rng(17 + 2 * transposed + (kset == "riscv"))
    _, fast, twin = SETS[kset]
    ks, inside, total = set(), 0, 0
    # the shipped model's shapes (the unrolled blocks), smaller, odd channel counts among them
    shapes = [(5, 6, 16 if transposed else 15, 2, 37, 7), (16, 9, 16 if transposed else 15, 2, 64, 7),
              (3, 2, 16 if transposed else 15, 2, 20, 7)]
    for i in range(150 + len(shapes)):
        op, post, graph = random_layer(rng, transposed, fused=i % 3 == 0, shape=shapes[i - 150] if i >= 150 else None)
        lay = layout(kset, op)
        ci, lin = graph.tensors["x"].shape
        x = rng.integers(-128, 128, (ci, lin), dtype=np.int64).astype(np.int8)
        skip = rng.integers(-128, 128, graph.tensors["q"].shape, dtype=np.int64).astype(np.int8)
        want = reference_out(op, post, graph, x, skip)
        got_fast = run_c(lib, fast, op, post, graph, lay, x, skip)
        got_twin = run_c(lib, twin, op, post, graph, lay, x, skip)
        what = f"{op.kind} ci={ci} lin={lin} w={op.params['w'].shape} attrs={op.attrs} fused={post is not None}"
        np.testing.assert_array_equal(got_twin, want, err_msg=f"{twin} vs reference: {what}")
        np.testing.assert_array_equal(got_fast, got_twin, err_msg=f"{fast} vs {twin}: {what}")
        ks.add(op.params["w"].shape[2])
        inside += int(((want > -128) & (want < 127)).sum())
        total += want.size
    assert ks == set(range(1, 17))
    assert inside > 0.6 * total, f"only {inside} of {total} outputs inside int8: the test would miss errors"


# --- the target versions under QEMU: Helium on mps3-an547, rv32 on virt ---------------------
QEMU_BOARDS = {"mve": "mps3-an547", "riscv": "virt"}


def _c_array(name: str, a: np.ndarray, ctype: str) -> str:
    return f"static const {ctype} {name}[{max(a.size, 1)}] = {{{', '.join(str(int(v)) for v in a.ravel()) or '0'}}};"


def write_check_model(kset: str, layers: list, out: Path, muls=()) -> None:
    """A firmware 'model' (the compiler's C API) whose layer 2i runs layer i's kernel and layer
    2i+1 its portable twin on the same pseudo-random input; logits[0] = layers whose outputs
    differ (0 expected), logits[1] = a checksum of the outputs. layers: conv (op, post, graph);
    muls: (C, L, a_zp, b_zp, y_zp, m, n) of ek_mul.h's broadcast mul, after them."""
    hdr, fast, twin = SETS[kset]
    out.mkdir(parents=True, exist_ok=True)
    lines = ['#include "model.h"', f'#include "{OVERLAYS / "ek_conv_core.h"}"', f'#include "{OVERLAYS / hdr}"',
             f'#include "{OVERLAYS / "ek_mul.h"}"']
    names, macs, calls = [], [], []
    maxx = maxy = maxs = 1
    for i, (c, length, azp, bzp, yzp, m, n) in enumerate(muls, start=len(layers)):
        maxx, maxy = max(maxx, c * length), max(maxy, c * length)
        names += [f"l{i}_mul", f"l{i}_mul_twin"]
        macs += [c * length] * 2
        args = f"xb, sk, y{{}}, {c}, {length}, {azp}, {bzp}, {yzp}, {m}, {n}"
        calls.append(f"""    fill(xb, {c * length}, {i}u + 1u); fill(sk, {c}, {i}u + 1001u);
    if (edgekit_layer_hook) edgekit_layer_hook({2 * i - 1});
    ek_mul_bcast({args.format(1)});
    if (edgekit_layer_hook) edgekit_layer_hook({2 * i});
    ek_mul_bcast_portable({args.format(2)});
    if (edgekit_layer_hook) edgekit_layer_hook({2 * i + 1});
    for (int j = 0; j < {c * length}; j++) {{ sum = sum * 31u + (uint8_t)y1[j]; if (y1[j] != y2[j]) {{ bad++; break; }} }}""")
    conv_lines, conv_names, conv_macs, conv_calls = [], [], [], []
    for i, (op, post, graph) in enumerate(layers):
        lay = layout(kset, op)
        chunk, ns = bc.chunk_and_scratch(op, graph, lay, {"mve": mve_set, "riscv": riscv_set}[kset].SET.scratch_budget)
        fb = (conv_bias if op.kind == "conv1d" else convt_bias)(op)
        conv_lines += [_c_array(f"w{i}", bc.pack_weights(op, lay), "int8_t"), _c_array(f"b{i}", bc.bias(fb), "int32_t"),
                  _c_array(f"mn{i}", bc.multipliers(op), "int32_t"),
                  _c_array(f"cfg{i}", bc.config(op, graph, lay, chunk, post), "int32_t")]
        g = bc.geometry(op, graph)
        nx, ny = g["ci"] * g["lin"], g["co"] * g["lout"]
        maxx, maxy, maxs = max(maxx, nx), max(maxy, ny), max(maxs, ns)
        conv_names += [f"l{i}_{kset}", f"l{i}_twin"]
        conv_macs += [op.macs(graph.tensors)] * 2
        conv_calls.append(f"""    fill(xb, {nx}, {i}u + 1u); fill(sk, {ny}, {i}u + 1001u); fill(y1, {ny}, 7u); fill(y2, {ny}, 9u);
    if (edgekit_layer_hook) edgekit_layer_hook({2 * i - 1});
    {fast}(xb, w{i}, b{i}, mn{i}, sk, scr, cfg{i}, y1);
    if (edgekit_layer_hook) edgekit_layer_hook({2 * i});
    {twin}(xb, w{i}, b{i}, mn{i}, sk, scr, cfg{i}, y2);
    if (edgekit_layer_hook) edgekit_layer_hook({2 * i + 1});
    for (int j = 0; j < {ny}; j++) {{ sum = sum * 31u + (uint8_t)y1[j]; if (y1[j] != y2[j]) {{ bad++; break; }} }}""")
    lines, names, macs, calls = lines + conv_lines, conv_names + names, conv_macs + macs, conv_calls + calls
    n = len(names)
    (out / "model.h").write_text(f"""#ifndef EDGEKIT_MODEL_H
#define EDGEKIT_MODEL_H
#include <stdint.h>
#define EDGEKIT_MODEL_NAME "check_{kset}"
#define EDGEKIT_MODEL_HASH "0000000000000000"
#define EDGEKIT_INPUT_CHANNELS 2
#define EDGEKIT_INPUT_LENGTH 64
#define EDGEKIT_INPUT_BYTES 128
#define EDGEKIT_DENOISED_BYTES 128
#define EDGEKIT_LOGITS_BYTES 2
#define EDGEKIT_ARENA_BYTES 8
#define EDGEKIT_NUM_LAYERS {n}
#define EDGEKIT_TOTAL_MACS {sum(macs) // 2}
extern const char *const edgekit_layer_names[EDGEKIT_NUM_LAYERS];
extern const uint32_t edgekit_layer_macs[EDGEKIT_NUM_LAYERS];
extern void (*edgekit_layer_hook)(int layer_index);
int32_t edgekit_model_run(const int8_t *input, int8_t *denoised, int8_t *logits, uint8_t *arena);
#endif
""")
    lines += [f"const char *const edgekit_layer_names[{n}] = {{{', '.join(f'{chr(34)}{s}{chr(34)}' for s in names)}}};",
              f"const uint32_t edgekit_layer_macs[{n}] = {{{', '.join(map(str, macs))}}};",
              "void (*edgekit_layer_hook)(int layer_index);",
              f"static int8_t xb[{maxx}], y1[{maxy}], y2[{maxy}], sk[{maxy}], scr[{maxs}];",
              "static uint32_t seed;",
              "static void fill(int8_t *p, int n, uint32_t s)",
              "{ uint32_t v = seed * 2654435761u + s; for (int i = 0; i < n; i++) { v = v * 1664525u + 1013904223u;"
              " p[i] = (int8_t)(v >> 24); } }",
              "int32_t edgekit_model_run(const int8_t *input, int8_t *denoised, int8_t *logits, uint8_t *arena)",
              "{", "    int bad = 0; uint32_t sum = 0; (void)arena;",
              "    seed = (uint8_t)input[0] + 256u * (uint8_t)input[1];", *calls,
              "    for (int j = 0; j < EDGEKIT_DENOISED_BYTES; j++) denoised[j] = input[j];",
              "    logits[0] = (int8_t)bad; logits[1] = (int8_t)sum;", "    return 0;", "}"]
    (out / "model.c").write_text("\n".join(lines) + "\n")


@pytest.mark.qemu
@pytest.mark.parametrize("kset", list(SETS))
def test_target_kernels_match_their_twins_under_qemu(build_fw, kset, tmp_path):
    """The target build (Helium assembly and intrinsics on Cortex-M55, the unrolled rv32
    blocks) against the portable twin compiled into the same firmware, on 44 random conv
    layers and 12 broadcast muls (the twins are checked against the integer reference on the
    host: above, and tests/test_ops.py)."""
    from edgekit.harness.device import open_device

    rng = np.random.default_rng(5 + (kset == "riscv"))
    layers = [random_layer(rng, transposed=i % 2 == 1, fused=i % 3 == 0) for i in range(40)]
    layers += [random_layer(rng, t, f, shape=(9, 6, 16 if t else 15, 2, 40, 7)) for t in (False, True)
               for f in (False, True)]
    muls = [(int(rng.integers(1, 70)), int(rng.integers(1, 70)), int(rng.integers(-128, 128)),
             int(rng.integers(-128, 128)), int(rng.integers(-128, 128)), int(rng.integers(2**30, 2**31)),
             int(rng.integers(33, 46))) for _ in range(12)]
    write_check_model(kset, layers, tmp_path / "model", muls)
    elf = build_fw(QEMU_BOARDS[kset], tmp_path / "model").path
    with open_device(QEMU_BOARDS[kset], elf) as dev:
        for k in range(2):
            r = dev.infer(np.random.default_rng(k).integers(-128, 128, (2, 64)).astype(np.int8))
            assert int(r.logits[0]) == 0, f"{int(r.logits[0])} of {len(layers) + len(muls)} layers differ from the twin"
    fast, twin = sum(r.layer_counts[0::2]), sum(r.layer_counts[1::2])
    assert 0 < fast < twin, (fast, twin)   # the target kernels ran (and are the faster ones)


# --- the shipped model on the host with each set (its portable twins) ----------------------
@pytest.mark.parametrize("kset", list(SETS))
def test_shipped_model_with_the_set_is_bit_exact_on_the_host(kset, tmp_path):
    """The whole model compiled with the set (host gcc: the portable twins) on 200 real test
    windows: every conv layer is the set's kernel and every output equals the reference."""
    import math

    from edgekit.compiler import HostModel, compile_model
    from edgekit.data import DataError, evaluation_windows, resolve_data_dir, split_records

    try:
        data_dir = resolve_data_dir()
        records = split_records(data_dir)["test"]
        ws = evaluation_windows(data_dir, records, "mixed", 6, per_record=math.ceil(200 / len(records)), seed=1)
    except DataError as e:
        pytest.fail(f"no real test windows: {e}")
    x = np.asarray(ws.noisy, dtype=np.int8)[:200]
    res = compile_model(Path(__file__).resolve().parents[1] / "models/acdae/model.onnx", "host", tmp_path,
                        kernels=kset, build_object=False)
    used = {row["name"]: row["kernel"] for row in res.report["layers"]}
    convs = {op.name: f"{kset}/{op.kind}" for op in res.graph.ops if op.kind in ("conv1d", "conv_transpose1d")}
    assert len(convs) == 12 and all(used[n] == want for n, want in convs.items()), used
    got = HostModel(res.out_dir).run(x)
    want = reference.run(res.graph, x)
    for name, key in zip(res.graph.outputs, ("denoised", "logits")):
        np.testing.assert_array_equal(got[key].reshape(want[name].shape), want[name], err_msg=f"{kset}: {name}")

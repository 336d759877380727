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
from edgekit.quant import reference
from edgekit.quant.intgraph import IntGraph, Op, TensorInfo

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
    chunk, nscratch = bc.chunk_and_scratch(op, graph, lay, budget=int(64 + 200 * np.random.default_rng(0).random()))
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

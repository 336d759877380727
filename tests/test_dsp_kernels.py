"""The Cortex-M DSP micro-kernels (edgekit/ops/overlays/cortex_m_dsp/ek_cortex_m_dsp.h), portable twin
built with the host gcc, against the integer reference on random layers: odd channel counts,
odd lengths, strides 1-4, any padding and output padding, kernel sizes 1-16, LeakyReLU or
not, with and without the fused skip add. The DSP (SMLAD/SXTB16) build is compared with
this twin under QEMU in tests/test_dsp_qemu.py."""
from __future__ import annotations

import numpy as np
import pytest

from dsp_harness import Layer, build_host_lib, random_layer
from edgekit.ops.overlays.cortex_m_dsp import _layout as L
from edgekit.ir import arithmetic, reference
from edgekit.ir.arithmetic import add_multipliers
from edgekit.ir.intgraph import Op


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return build_host_lib(tmp_path_factory.mktemp("edk_dsp"))


def _check(lib, lay: Layer, rng) -> None:
    g = lay.geo
    x = rng.integers(-128, 128, size=(g.ci, g.length)).astype(np.int8)
    skip = rng.integers(-128, 128, size=(g.co, g.lo)).astype(np.int8) if lay.post is not None else None
    want = lay.reference(x, skip)
    got = lay.run_c(lib, x, skip)
    assert got.shape == want.shape
    bad = np.argwhere(got != want)
    assert not bad.size, (f"{lay.kind} Ci={g.ci} Co={g.co} L={g.length} K={lay.op.params['w'].shape[2]} "
                          f"attrs={lay.op.attrs} fused_add={lay.post is not None}: {len(bad)} of {want.size} "
                          f"outputs differ, first at {bad[0].tolist()}")


@pytest.mark.parametrize("kind", ["conv1d", "conv_transpose1d"])
@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_every_kernel_size_matches_reference(lib, kind, stride):
    rng = np.random.default_rng(100 * stride + len(kind))
    for k in range(1, 17):
        for _ in range(3):
            ci, co = int(rng.integers(1, 8)), int(rng.integers(1, 8))
            pad = (int(rng.integers(0, k)), int(rng.integers(0, k)))
            if kind == "conv1d":
                length = int(rng.integers(max(1, k - sum(pad)), 3 * k + 9))
                lay = Layer(rng, kind, ci, co, length, k, stride, pad, leaky=bool(rng.integers(0, 2)),
                            fused_add=bool(rng.integers(0, 2)))
            else:
                length, opad = int(rng.integers(1, 2 * k + 7)), int(rng.integers(0, stride))
                if (length - 1) * stride + k + opad - sum(pad) < 1:
                    pad = (0, 0)
                lay = Layer(rng, kind, ci, co, length, k, stride, pad, opad, leaky=bool(rng.integers(0, 2)),
                            fused_add=bool(rng.integers(0, 2)))
            _check(lib, lay, rng)


def test_random_layers_match_reference(lib):
    rng = np.random.default_rng(7)
    for _ in range(300):
        _check(lib, random_layer(rng), rng)


@pytest.mark.parametrize("kind,ci,co,length,k,pad", [
    ("conv1d", 2, 16, 1024, 15, (7, 7)),            # the shipped model's enc1 .. enc6 shapes
    ("conv1d", 16, 32, 512, 15, (7, 7)),
    ("conv1d", 40, 40, 128, 15, (7, 7)),
    ("conv1d", 64, 64, 32, 15, (7, 7)),
    ("conv_transpose1d", 64, 64, 16, 16, (7, 7)),  # and its decoder, dec1 with 2 output channels
    ("conv_transpose1d", 32, 16, 256, 16, (7, 7)),
    ("conv_transpose1d", 16, 2, 512, 16, (7, 7)),
    ("conv_transpose1d", 17, 3, 33, 16, (6, 9)),
])
def test_model_shapes_match_reference(lib, kind, ci, co, length, k, pad):
    rng = np.random.default_rng(ci * co + length)
    for fused in (False, True):
        _check(lib, Layer(rng, kind, ci, co, length, k, 2, pad, leaky=not fused, fused_add=fused), rng)


def test_requantize_and_fused_add_match_arithmetic(lib):
    """Every shift 1..62 (the hi-word path n >= 32 and the 64-bit path n < 32), both signs."""
    import ctypes
    rng = np.random.default_rng(3)
    for n in range(1, 63):
        for _ in range(40):
            acc = int(rng.integers(-(2**31), 2**31)) >> int(rng.integers(0, 31))
            bias = int(rng.integers(-(2**20), 2**20))
            if not -(2**31) <= acc + bias < 2**31:
                continue
            m_pos, m_neg = int(rng.integers(2**30, 2**31)), int(rng.integers(2**30, 2**31))
            n_neg = int(rng.integers(1, 63))
            y_zp = int(rng.integers(-128, 128))
            rq = np.array([bias, m_pos, n, m_neg, n_neg], np.int32)
            want = int(arithmetic.requantize_leaky(np.array([acc + bias]), m_pos, n, m_neg, n_neg, y_zp)[0])
            got = lib.edk_layer_requant(ctypes.c_int32(acc), rq.ctypes.data_as(ctypes.c_void_p),
                                        ctypes.c_int32(y_zp), None, ctypes.c_int32(0))
            assert got == want, (acc, bias, m_pos, n, m_neg, n_neg, y_zp)
            ma, mb, pn = add_multipliers(float(rng.uniform(0.01, 3)), float(rng.uniform(0.01, 3)))
            add = Op("add", "a", ["q", "s"], ["z"], dict(a_zp=int(rng.integers(-128, 128)),
                     b_zp=int(rng.integers(-128, 128)), y_zp=int(rng.integers(-128, 128)), ma=ma, mb=mb, n=pn))
            skip = int(rng.integers(-128, 128))
            post = L.post_record(add.attrs, True)
            want2 = int(reference.add(np.array([want], np.int8), np.array([skip], np.int8), add)[0])
            got2 = lib.edk_layer_requant(ctypes.c_int32(acc), rq.ctypes.data_as(ctypes.c_void_p),
                                         ctypes.c_int32(y_zp), post.ctypes.data_as(ctypes.c_void_p),
                                         ctypes.c_int32(skip))
            assert got2 == want2


def test_weight_words_hold_w0_w2_w1_w3():
    taps = np.arange(-8, 8, dtype=np.int8).reshape(2, 8)
    words = L.pack_words(taps)
    assert words.shape == (2, 2) and words.dtype == np.uint32
    b = words.view(np.uint8).reshape(2, 2, 4).astype(np.int8)
    assert b[0, 0].tolist() == [-8, -6, -7, -5] and b[1, 1].tolist() == [4, 6, 5, 7]


def test_geometry_pads_taps_and_rows():
    g = L.conv1d_geometry(16, 512, 32, 15, 2, (7, 7))
    assert (g.taps, g.groups, g.lo, g.lpad, g.row % 2) == (16, 4, 256, 7, 0)
    assert g.row >= (g.lo - 1) * 2 + g.taps and g.row >= 7 + 512
    t = L.conv_transpose1d_geometry(32, 256, 16, 16, 2, (7, 7))
    assert t.lo == 512 and t.taps == 8 and t.groups == 2 and t.lpad == 7
    assert sorted(p.t0 for p in t.phases) == [0, 1] and sum(p.nt for p in t.phases) == 512

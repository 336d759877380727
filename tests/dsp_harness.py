"""Host harness for the cortex_m_dsp micro-kernels (ek_cortex_m_dsp.h): builds tests/c/edk_dsp_layers.c
with the host gcc (so the portable twin runs) and runs whole conv layers through it with the
layouts of edgekit/ops/overlays/cortex_m_dsp/_layout.py; random layers for the tests and the
QEMU firmware."""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from edgekit.ops.overlays.cortex_m_dsp import _layout as L
from edgekit.ir import reference
from edgekit.ir.arithmetic import add_multipliers, quantize_multiplier
from edgekit.ir.intgraph import Op

OVERLAY_DIR = Path(L.__file__).resolve().parent
LAYERS_C = Path(__file__).resolve().parent / "c" / "edk_dsp_layers.c"


def build_host_lib(out_dir: Path) -> ctypes.CDLL:
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc not found; install it with: sudo apt-get install gcc")
    so = Path(out_dir) / "libedk_dsp_layers.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", f"-I{OVERLAY_DIR}",
                    str(LAYERS_C), "-o", str(so)], check=True, capture_output=True, text=True)
    lib = ctypes.CDLL(str(so))
    lib.edk_layer_run.restype = None
    lib.edk_layer_requant.restype = ctypes.c_int32
    return lib


def _p(a: np.ndarray | None):
    return None if a is None else a.ctypes.data_as(ctypes.c_void_p)


class Layer:
    """A random int8 conv1d or conv_transpose1d (optionally LeakyReLU, optionally a fused
    skip add) with its micro-kernel layout."""

    def __init__(self, rng: np.random.Generator, kind: str, ci: int, co: int, length: int, k: int, stride: int,
                 pad: tuple[int, int], output_padding: int = 0, leaky: bool = True, fused_add: bool = False):
        self.kind = kind
        x_zp, y_zp = int(rng.integers(-128, 128)), int(rng.integers(-30, 31))
        wshape = (co, ci, k) if kind == "conv1d" else (ci, co, k)
        w = rng.integers(-128, 128, size=wshape).astype(np.int8)
        bias = rng.integers(-(2**15), 2**15, size=co).astype(np.int32)
        # multipliers that spread the outputs over the int8 range
        typical = 120.0 * 74.0 * np.sqrt(ci * k / stride) + 1.0
        reals = rng.uniform(0.3, 2.0, size=co) * 40.0 / typical
        m_pos, n_pos = zip(*(quantize_multiplier(float(r)) for r in reals))
        m_neg, n_neg = zip(*(quantize_multiplier(float(r) * 0.125) for r in reals)) if leaky else (m_pos, n_pos)
        params = dict(w=w, bias=bias, m_pos=np.array(m_pos, np.int32), n_pos=np.array(n_pos, np.int32),
                      m_neg=np.array(m_neg, np.int32), n_neg=np.array(n_neg, np.int32))
        attrs = dict(stride=stride, pad=tuple(pad), x_zp=x_zp, y_zp=y_zp)
        if kind == "conv_transpose1d":
            attrs["output_padding"] = output_padding
            self.geo = L.conv_transpose1d_geometry(ci, length, co, k, stride, pad, output_padding)
            self.words = L.conv_transpose1d_weights(w, self.geo, stride, pad[0])
        else:
            self.geo = L.conv1d_geometry(ci, length, co, k, stride, pad)
            self.words = L.conv1d_weights(w, self.geo)
        self.op = Op(kind, "layer", ["x"], ["y"], attrs, params)
        self.rq = L.requant_records(bias, *(params[n] for n in ("m_pos", "n_pos", "m_neg", "n_neg")))
        self.post = None
        if fused_add:
            ma, mb, n = add_multipliers(float(rng.uniform(0.2, 1.5)), float(rng.uniform(0.2, 1.5)))
            self.add = Op("add", "skip", ["y", "s"], ["z"], dict(a_zp=int(rng.integers(-128, 128)),
                          b_zp=int(rng.integers(-128, 128)), y_zp=int(rng.integers(-128, 128)), ma=ma, mb=mb, n=n))
            self.conv_is_a = bool(rng.integers(0, 2))
            if not self.conv_is_a:
                self.add.inputs = ["s", "y"]
            self.post = L.post_record(self.add.attrs, self.conv_is_a)

    @property
    def macs(self) -> int:
        g = self.geo
        return g.co * g.ci * int(self.op.params["w"].shape[2]) * (g.lo if self.kind == "conv1d" else g.length)

    def reference(self, x: np.ndarray, skip: np.ndarray | None) -> np.ndarray:
        fn = reference.conv1d if self.kind == "conv1d" else reference.conv_transpose1d
        y = fn(x[None], self.op)[0]
        if self.post is None:
            return y
        a, b = (y, skip) if self.conv_is_a else (skip, y)
        return reference.add(a[None], b[None], self.add)[0]

    def phases_array(self) -> np.ndarray:
        return np.array([[p.off, p.t0, p.nt, p.out_step] for p in self.geo.phases], np.int32).reshape(-1)

    def run_c(self, lib: ctypes.CDLL, x: np.ndarray, skip: np.ndarray | None) -> np.ndarray:
        g = self.geo
        x = np.ascontiguousarray(x, np.int8)
        xs = np.full(g.scratch_elems + 2, 0x5A5A, np.int16)   # garbage: widen must overwrite what is read
        y = np.zeros((g.co, g.lo), np.int8)
        if skip is not None:
            y[:] = skip  # in place over the skip operand, as the fused steps run
        ph = self.phases_array()
        post = self.post
        i32 = ctypes.c_int32
        lib.edk_layer_run(_p(x), i32(g.ci), i32(g.length), i32(self.op.attrs["x_zp"]), i32(g.lpad), i32(g.row),
                          _p(xs), i32(g.co), i32(g.lo), i32(g.in_step), i32(g.groups), i32(len(g.phases)), _p(ph),
                          _p(self.words), _p(self.rq), i32(self.op.attrs["y_zp"]),
                          _p(y) if skip is not None else None, _p(post), _p(y))
        return y


def random_layer(rng: np.random.Generator, kind: str | None = None) -> Layer:
    kind = kind or ("conv1d" if rng.integers(0, 2) else "conv_transpose1d")
    k = int(rng.integers(1, 17))
    stride = int(rng.integers(1, 5))
    ci, co = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    if kind == "conv1d":
        pad = (int(rng.integers(0, k)), int(rng.integers(0, k)))
        length = int(rng.integers(max(1, k - pad[0] - pad[1]), 40))
        opad = 0
    else:
        pad = (int(rng.integers(0, k)), int(rng.integers(0, k)))
        opad = int(rng.integers(0, stride))
        length = int(rng.integers(1, 30))
        if (length - 1) * stride + k + opad - pad[0] - pad[1] < 1:
            pad = (0, 0)
    return Layer(rng, kind, ci, co, length, k, stride, pad, opad, leaky=bool(rng.integers(0, 2)),
                 fused_add=bool(rng.integers(0, 2)))

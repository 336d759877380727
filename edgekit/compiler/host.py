"""Run generated C on the build machine (like emlearn): model.c + kernels.c -> a shared
library built with the host gcc, called through ctypes. Used to check the compiler against
the integer reference bit for bit, and by anything that wants the exact C behaviour.

    m = HostModel("build/host")          # a folder written by compile_model
    out = m.run(x_int8)                  # (N, C, L) or (C, L) int8 (or a dict by input name)
                                         #   -> {output name: int8 array}
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .errors import BuildError, ToolchainMissingError

HOST_CFLAGS = ("-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror")


def read_defines(header: str | Path, prefix: str = "EDGEKIT") -> dict[str, str]:
    """#define NAME VALUE lines of model.h (values as written, comments stripped)."""
    out = {}
    for line in Path(header).read_text().splitlines():
        m = re.match(rf"#define\s+({prefix}_\w+)\s+(.*?)\s*(/\*.*)?$", line)
        if m and m.group(2):
            out[m.group(1)] = m.group(2)
    return out


class HostModel:
    """The compiled model as a host shared library. Inputs and outputs come from compile.json
    (their ONNX names, shapes and C order); run() takes int8 arrays by input name and returns
    the outputs by their ONNX names (the two-output ACDAE also answers "denoised"/"logits")."""

    def __init__(self, out_dir: str | Path, cc: str = "gcc"):
        self.out_dir = Path(out_dir)
        rep = json.loads((self.out_dir / "compile.json").read_text())
        self.prefix = rep.get("prefix", "edgekit")
        up = self.prefix.upper()
        d = read_defines(self.out_dir / "model.h", up)
        n = lambda k: int(d[f"{up}_{k}"])  # noqa: E731
        self.arena_bytes = n("ARENA_BYTES")
        self.num_layers = n("NUM_LAYERS")
        self.model_hash = d[f"{up}_MODEL_HASH"].strip('"')
        self.inputs = [(io["name"], tuple(io["shape"])) for io in rep["inputs"]]
        self.outputs = [(io["name"], tuple(io["shape"])) for io in rep["outputs"]]
        self.input_bytes = int(np.prod(self.inputs[0][1]))
        if len(self.inputs) == 1 and len(self.inputs[0][1]) == 2:
            self.channels, self.length = self.inputs[0][1]
        self.lib_path = self._build(cc)
        self.lib = ctypes.CDLL(str(self.lib_path))
        self._run = getattr(self.lib, rep.get("run_function", "edgekit_model_run"))  # (inputs.., outputs.., arena)
        self._run.restype = ctypes.c_int32
        self._run.argtypes = [ctypes.c_void_p] * (len(self.inputs) + len(self.outputs) + 1)
        names = (ctypes.c_char_p * self.num_layers).in_dll(self.lib, f"{self.prefix}_layer_names")
        self.layer_names = [s.decode() for s in names]
        self.layer_macs = list((ctypes.c_uint32 * self.num_layers).in_dll(self.lib, f"{self.prefix}_layer_macs"))

    def _build(self, cc: str) -> Path:
        if shutil.which(cc) is None:
            raise ToolchainMissingError(f"host C compiler {cc!r} not found; install it: sudo apt-get install gcc")
        srcs = [self.out_dir / "model.c", self.out_dir / "kernels.c"]
        h = hashlib.sha256()
        headers = sorted(self.out_dir.glob("ops/*/*.h"))  # overlay micro-kernels kernels.c includes
        for p in srcs + [self.out_dir / "model.h", self.out_dir / "kernels.h", *headers]:
            h.update(p.read_bytes())
        h.update(" ".join(HOST_CFLAGS).encode())
        # beside the library, never in it; unique per source hash: dlopen caches by path
        lib = self.out_dir.parent / f"{self.out_dir.name}.host" / f"libedgekit_model_{h.hexdigest()[:12]}.so"
        if not lib.exists():
            lib.parent.mkdir(parents=True, exist_ok=True)
            tmp = lib.with_suffix(".tmp.so")
            cmd = [cc, *HOST_CFLAGS, "-I", str(self.out_dir), *map(str, srcs), "-o", str(tmp)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0 or r.stderr.strip():
                raise BuildError(f"{' '.join(cmd)}:\n{r.stderr.strip()}")
            tmp.replace(lib)
        return lib

    def run_one(self, *xs: np.ndarray, arena: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """One window: the inputs in their order -> the outputs in theirs (flat int8)."""
        if len(xs) != len(self.inputs):
            raise ValueError(f"the model takes {len(self.inputs)} inputs, got {len(xs)}")
        xs = [np.ascontiguousarray(x, dtype=np.int8) for x in xs]
        for x, (name, shape) in zip(xs, self.inputs):
            if x.size != int(np.prod(shape)):
                raise ValueError(f"input {name!r} has {x.size} values, the model takes {int(np.prod(shape))}")
        outs = [np.zeros(int(np.prod(shape)), np.int8) for _, shape in self.outputs]
        if arena is None:
            arena = self.new_arena()
        rc = self._run(*[x.ctypes.data for x in xs], *[o.ctypes.data for o in outs], arena.ctypes.data)
        if rc != 0:
            raise RuntimeError(f"{self.prefix} model run returned {rc}")
        return tuple(outs)

    def new_arena(self, fill: int = 0xA5) -> np.ndarray:
        """An 8-byte aligned arena (filled with garbage, to catch reads of unwritten bytes)."""
        raw = np.full(self.arena_bytes + 16, fill, np.uint8)
        off = (-raw.ctypes.data) % 8
        return raw[off:off + max(self.arena_bytes, 1)]

    def run(self, x) -> dict[str, np.ndarray]:
        """x: int8 (N, *shape) or shape: one array for a one-input model, or a dict input name
        (ONNX) -> array. Returns the outputs by ONNX name, shaped like the integer reference's
        (and, for a model whose two outputs are not so named, also as "denoised"/"logits")."""
        xs = x if isinstance(x, dict) else {self.inputs[0][0]: x}
        if sorted(xs) != sorted(n for n, _ in self.inputs):
            raise ValueError(f"the model's inputs are {[n for n, _ in self.inputs]}, got {sorted(xs)}")
        arrs = []
        single = None
        for name, shape in self.inputs:
            a = np.asarray(xs[name])
            if a.dtype != np.int8:
                raise TypeError(f"HostModel takes int8 input, got {a.dtype} for {name!r}")
            one = a.shape == shape
            single = one if single is None else single
            a = a[None] if one else a
            if a.shape[1:] != shape:
                raise ValueError(f"input {name!r} has shape {a.shape[1:]}, the model takes {shape}")
            arrs.append(a)
        arena = self.new_arena()
        rows = [self.run_one(*w, arena=arena) for w in zip(*arrs)]
        out = {name: np.stack([r[j] for r in rows]).reshape((len(rows),) + shape)
               for j, (name, shape) in enumerate(self.outputs)}
        if len(self.outputs) == 2:
            for alias, (name, _) in zip(("denoised", "logits"), self.outputs):
                out.setdefault(alias, out[name])
        return {k: v[0] for k, v in out.items()} if single else out

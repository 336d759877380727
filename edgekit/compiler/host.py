"""Run generated C on the build machine (like emlearn): model.c + kernels.c -> a shared
library built with the host gcc, called through ctypes. Used to check the compiler against
the integer reference bit for bit, and by anything that wants the exact C behaviour.

    m = HostModel("build/host")          # a folder written by compile_model
    out = m.run(x_int8)                  # (N, C, L) or (C, L) int8 -> {"denoised": ..., "logits": ...}
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


def read_defines(header: str | Path) -> dict[str, str]:
    """#define NAME VALUE lines of model.h (values as written, comments stripped)."""
    out = {}
    for line in Path(header).read_text().splitlines():
        m = re.match(r"#define\s+(EDGEKIT_\w+)\s+(.*?)\s*(/\*.*)?$", line)
        if m and m.group(2):
            out[m.group(1)] = m.group(2)
    return out


class HostModel:
    def __init__(self, out_dir: str | Path, cc: str = "gcc"):
        self.out_dir = Path(out_dir)
        d = read_defines(self.out_dir / "model.h")
        n = lambda k: int(d[k])  # noqa: E731
        self.channels, self.length = n("EDGEKIT_INPUT_CHANNELS"), n("EDGEKIT_INPUT_LENGTH")
        self.input_bytes, self.arena_bytes = n("EDGEKIT_INPUT_BYTES"), n("EDGEKIT_ARENA_BYTES")
        self.denoised_bytes, self.logits_bytes = n("EDGEKIT_DENOISED_BYTES"), n("EDGEKIT_LOGITS_BYTES")
        self.num_layers = n("EDGEKIT_NUM_LAYERS")
        self.model_hash = d["EDGEKIT_MODEL_HASH"].strip('"')
        self.shapes = {"denoised": (self.denoised_bytes,), "logits": (self.logits_bytes,)}
        self.graph_names = {}
        meta = self.out_dir / "compile.json"
        if meta.exists():
            rep = json.loads(meta.read_text())
            for o in rep.get("outputs", []):
                self.shapes[o["c_name"]] = tuple(o["shape"])
                self.graph_names[o["c_name"]] = o["name"]
        self.lib_path = self._build(cc)
        self.lib = ctypes.CDLL(str(self.lib_path))
        self._run = self.lib.edgekit_model_run
        self._run.restype = ctypes.c_int32
        self._run.argtypes = [ctypes.c_void_p] * 4
        names = (ctypes.c_char_p * self.num_layers).in_dll(self.lib, "edgekit_layer_names")
        self.layer_names = [s.decode() for s in names]
        self.layer_macs = list((ctypes.c_uint32 * self.num_layers).in_dll(self.lib, "edgekit_layer_macs"))

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

    def run_one(self, x: np.ndarray, arena: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.int8)
        if x.size != self.input_bytes:
            raise ValueError(f"input has {x.size} values, the model takes {self.input_bytes}")
        den = np.zeros(self.denoised_bytes, np.int8)
        log = np.zeros(self.logits_bytes, np.int8)
        if arena is None:
            arena = self.new_arena()
        rc = self._run(x.ctypes.data, den.ctypes.data, log.ctypes.data, arena.ctypes.data)
        if rc != 0:
            raise RuntimeError(f"edgekit_model_run returned {rc}")
        return den, log

    def new_arena(self, fill: int = 0xA5) -> np.ndarray:
        """An 8-byte aligned arena (filled with garbage, to catch reads of unwritten bytes)."""
        raw = np.full(self.arena_bytes + 16, fill, np.uint8)
        off = (-raw.ctypes.data) % 8
        return raw[off:off + max(self.arena_bytes, 1)]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """x: int8 (N, C, L) or (C, L). Returns {"denoised", "logits"} (plus the graph's own
        output names when they differ), shaped like the integer reference's outputs."""
        x = np.asarray(x)
        if x.dtype != np.int8:
            raise TypeError(f"HostModel takes int8 input, got {x.dtype}")
        single = x.shape == (self.channels, self.length)
        xb = x[None] if single else x
        if xb.shape[1:] != (self.channels, self.length):
            raise ValueError(f"input shape {x.shape} does not match the model's ({self.channels}, {self.length})")
        arena = self.new_arena()
        dens, logs = [], []
        for w in xb:
            d, lg = self.run_one(w, arena)
            dens.append(d)
            logs.append(lg)
        out = {"denoised": np.stack(dens).reshape((len(xb),) + self.shapes["denoised"]),
               "logits": np.stack(logs).reshape((len(xb),) + self.shapes["logits"])}
        for c, g in self.graph_names.items():
            if g != c:
                out[g] = out[c]
        return {k: v[0] for k, v in out.items()} if single else out

"""Any compiled model through the device protocol: the request is all inputs back to back
(in the model's input order), the reply's two output slots hold output 0 and then the other
outputs back to back (model.h's EDGEKIT_WIRE_* macros). The layout comes from the model's
compile.json, so the harness needs nothing else to stream any model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class IOLayout:
    def __init__(self, compile_json: str | Path | dict):
        rep = compile_json if isinstance(compile_json, dict) else json.loads(Path(compile_json).read_text())
        self.inputs = [(io["name"], tuple(io["shape"])) for io in rep["inputs"]]
        self.outputs = [(io["name"], tuple(io["shape"])) for io in rep["outputs"]]

    def request(self, xs: dict[str, np.ndarray]) -> np.ndarray:
        """One window: input name -> int8 array -> the request payload (flat int8)."""
        parts = []
        for name, shape in self.inputs:
            a = np.asarray(xs[name])
            if a.dtype != np.int8 or a.size != int(np.prod(shape)):
                raise ValueError(f"input {name!r}: want int8 {shape}, got {a.dtype} {a.shape}")
            parts.append(a.reshape(-1))
        return np.concatenate(parts)

    def outputs_of(self, slot0: np.ndarray, slot1: np.ndarray) -> dict[str, np.ndarray]:
        """The reply's two slots -> output name -> int8 array of its shape."""
        name0, shape0 = self.outputs[0]
        out = {name0: np.asarray(slot0).reshape(shape0)}
        flat, pos = np.asarray(slot1).reshape(-1), 0
        for name, shape in self.outputs[1:]:
            n = int(np.prod(shape))
            out[name] = flat[pos:pos + n].reshape(shape)
            pos += n
        return out


def run_windows(dev, layout: IOLayout, xs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every window (inputs by name, each (N, *shape)) through a synced Device."""
    n = len(next(iter(xs.values())))
    rows = []
    for i in range(n):
        r = dev.infer(layout.request({k: v[i] for k, v in xs.items()}))
        rows.append(layout.outputs_of(r.denoised, r.logits))
    return {name: np.stack([r[name] for r in rows]) for name, _ in layout.outputs}

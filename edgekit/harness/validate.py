"""validate: one model through onnxruntime, the integer reference, the host C build and the
device, compared output by output (like `stedgeai validate`).

onnxruntime runs the QDQ graph as ONNX defines it (its integer fusions off, see
edgekit/quant/ort.py). The device is a QEMU machine or a real board running the firmware
built from the model compiled for the target. Per output: the share of identical values, the
largest difference in LSB, the mean absolute error (real units), the cosine similarity of the
dequantized values and, for a classifier output (a vector), how often the argmax agrees.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ir import ort as eort
from ..ir import reference
from ..ir.intgraph import IntGraph


def compare(a: np.ndarray, b: np.ndarray, scale: float, zero_point: int, classifier: bool) -> dict:
    """a, b: int8 (N, *shape) -> the figures of b against a."""
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    d = np.abs(a64 - b64)
    ra, rb = scale * (a64 - zero_point), scale * (b64 - zero_point)
    num = float(np.sum(ra * rb))
    den = float(np.sqrt(np.sum(ra * ra) * np.sum(rb * rb)))
    out = {"identical_share": float(np.mean(d == 0)), "max_lsb": int(d.max()) if d.size else 0,
           "mae": float(np.mean(np.abs(ra - rb))), "mae_lsb": float(np.mean(d)),
           "cosine": num / den if den > 0 else (1.0 if num == 0 and np.array_equal(a, b) else 0.0)}
    if classifier:
        fa, fb = a64.reshape(len(a64), -1), b64.reshape(len(b64), -1)
        out["argmax_agreement"] = float(np.mean(fa.argmax(axis=1) == fb.argmax(axis=1)))
    return out


def is_classifier(shape: tuple) -> bool:
    """A vector output (one value per class), e.g. logits or probabilities."""
    return len(shape) == 1 and 2 <= shape[0] <= 1000


def load_inputs(graph: IntGraph, path: str | Path | None, random_n: int | None, seed: int = 0):
    """int8 inputs by graph input tensor, and a description for the report.

    path: .npy (one-input model) or .npz (arrays named after the ONNX inputs); int8 arrays are
    taken as they are, float arrays are quantized with the input's scale and zero point. Shape
    (N, *input shape) or one window. random_n: that many windows of uniform int8 values."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"--inputs {path} does not exist")
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            if len(graph.inputs) != 1:
                names = [graph.api_names.get(t, t) for t in graph.inputs]
                raise ValueError(f"the model has {len(graph.inputs)} inputs {names}: give an .npz with one array each")
            arrays = {graph.api_names.get(graph.inputs[0], graph.inputs[0]): data}
        else:
            arrays = {k: data[k] for k in data.files}
        out = {}
        for t in graph.inputs:
            name = graph.api_names.get(t, t)
            if name not in arrays:
                raise ValueError(f"{path} has no array for input {name!r} (it has {sorted(arrays)})")
            a = np.asarray(arrays[name])
            shape = tuple(graph.tensors[t].shape)
            if a.shape == shape:
                a = a[None]
            if a.ndim == len(shape) + 2 and a.shape[1] == 1:  # (N, 1, *shape): torch's batch axis kept
                a = a[:, 0]
            if a.shape[1:] != shape:
                raise ValueError(f"input {name!r}: {path} holds shape {a.shape}, the model takes (N, *{shape})")
            if a.dtype != np.int8:
                a = eort.quantize_inputs(graph, {name: a} if len(graph.inputs) == 1 else
                                         {graph.api_names.get(u, u): a for u in graph.inputs})[t]
            out[t] = a.astype(np.int8)
        n = {len(v) for v in out.values()}
        if len(n) != 1:
            raise ValueError(f"the inputs in {path} have different window counts {sorted(n)}")
        return out, {"source": str(path), "windows": n.pop()}
    n = 8 if random_n is None else int(random_n)
    if n < 1:
        raise ValueError(f"--random {n}: give at least 1 window")
    rng = np.random.default_rng(seed)
    out = {t: rng.integers(-128, 128, (n,) + tuple(graph.tensors[t].shape)).astype(np.int8) for t in graph.inputs}
    return out, {"source": f"random int8, seed {seed}", "windows": n}


@dataclass
class Validation:
    report: dict
    text: str

    @property
    def exit_code(self) -> int:
        return 0 if self.report["device_equals_reference"] else 1


def validate(model: str | Path, target: str, board: str, out_dir: str | Path, inputs: dict, inputs_info: dict,
             port: str | None = None, log=print) -> Validation:
    from ..compiler import HostModel, compile_model
    from ..firmware.build import build_firmware
    from .anymodel import IOLayout, run_windows
    from .device import open_device

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = Path(model)
    log(f"compiling {model} for {target} ...")
    res = compile_model(model, target, out_dir / "model")
    g = res.graph
    names = {t: g.api_names.get(t, t) for t in (*g.inputs, *g.outputs)}
    by_name = {names[t]: inputs[t] for t in g.inputs}
    log("onnxruntime, integer reference, host C build ...")
    ort_out = eort.run_int8(g, model, inputs)
    ref_out = reference.run(g, inputs)
    host_res = compile_model(model, "host", out_dir / "host", build_object=False)
    host_out = HostModel(host_res.out_dir).run(by_name)
    log(f"firmware for {board}, {inputs_info['windows']} windows on the device ...")
    elf = build_firmware(res.out_dir, board, out_dir / "firmware")
    with open_device(board, elf.path, port=port, timeout=30.0) as dev:
        if dev.info.model_hash != res.report["model_sha256"][:16]:
            raise RuntimeError(f"the device runs model {dev.info.model_hash}, not {res.report['model_sha256'][:16]}")
        dev_out = run_windows(dev, IOLayout(res.report), by_name)
    rows, lines = [], []
    for t in g.outputs:
        info, name = g.tensors[t], names[t]
        cls = is_classifier(tuple(info.shape))
        dev = dev_out[name].reshape(ref_out[t].shape)
        row = {"name": name, "shape": list(info.shape), "scale": info.scale, "zero_point": info.zero_point,
               "device_equals_reference": bool(np.array_equal(dev, ref_out[t])),
               "host_equals_reference": bool(np.array_equal(host_out[name].reshape(ref_out[t].shape), ref_out[t])),
               "vs_onnxruntime": compare(ort_out[t], dev, info.scale, info.zero_point, cls),
               "vs_reference": compare(ref_out[t], dev, info.scale, info.zero_point, cls)}
        rows.append(row)
        v = row["vs_onnxruntime"]
        arg = f"  argmax {v['argmax_agreement']:.4f}" if cls else ""
        lines.append(f"{name:<16} {'x'.join(map(str, info.shape)):<10} identical {v['identical_share']:.4f}  "
                     f"max {v['max_lsb']} LSB  MAE {v['mae']:.3g}  cosine {v['cosine']:.6f}{arg}  "
                     f"device==reference {'yes' if row['device_equals_reference'] else 'NO'}  "
                     f"host==reference {'yes' if row['host_equals_reference'] else 'NO'}")
    ok = all(r["device_equals_reference"] for r in rows)
    report = {
        "device_equals_reference": ok,
        "host_equals_reference": all(r["host_equals_reference"] for r in rows),
        "model": str(model), "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "target": target, "board": board, "inputs": inputs_info,
        "onnxruntime": "graph optimizations off (DequantizeLinear -> float op -> QuantizeLinear, as ONNX defines)",
        "outputs": rows,
    }
    (out_dir / "validate.json").write_text(json.dumps(report, indent=1) + "\n")
    head = (f"{'output':<16} {'shape':<10} device vs onnxruntime; device vs integer reference and host C build")
    verdict = ("device == integer reference bit for bit on every output" if ok
               else "MISMATCH: the device differs from the integer reference")
    text = "\n".join([head, *lines, verdict, f"wrote {out_dir / 'validate.json'}"])
    return Validation(report, text)

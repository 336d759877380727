"""Front end: ONNX QDQ -> IntGraph (via `edgekit.quant.onnx_import`) plus the checks the
C kernels rely on.

The kernels fold the input zero point into the bias (`folded_bias`: sum (x - zp) * w =
sum x * w - zp * sum w, with padding read as x = zp), accumulate sum x * w in int32 and add
the folded bias in int32 before the int64 requantize. So for every layer both the partial
sums (<= 128 * sum |w|) and the final |acc + bias| (the exact worst case over all int8
inputs) must stay below 2**31. `accumulator_bounds` computes these bounds from the integer
weights (per output channel, per output phase for a transposed conv) and `check_graph`
raises `AccumulatorOverflowError` naming the layer if one is exceeded.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from ..quant.intgraph import OP_KINDS, IntGraph, Op
from ..quant.onnx_import import UnsupportedModelError, load_intgraph
from .errors import AccumulatorOverflowError

INT32_MAX = 2**31 - 1


@dataclass
class Frontend:
    graph: IntGraph
    sha256: str          # of the ONNX file's bytes (or the serialized ModelProto)
    source: str          # path, or "<ModelProto>"
    acc_bounds: dict     # layer name -> largest possible |int32 accumulator + bias| (0 if none)


def _int8_dev(zp: int) -> int:
    """Largest |q - zp| over int8 q."""
    return max(abs(-128 - zp), abs(127 - zp))


def _input_bound(op: Op, graph: IntGraph) -> int:
    """Largest |x - x_zp| the op's (first) input can hold."""
    t = graph.tensors[op.inputs[0]]
    if t.dtype == "int8":
        return _int8_dev(int(op.attrs.get("x_zp", 0)))
    prod = graph.producer(op.inputs[0])
    if prod is None or prod.kind != "global_sum":
        raise UnsupportedModelError(f"layer {op.name!r}: an int32 input must come from a global_sum, "
                                    f"{op.inputs[0]!r} does not")
    return int(prod.attrs["length"]) * _int8_dev(int(prod.attrs["x_zp"]))


def folded_bias(op: Op) -> np.ndarray:
    """int64 bias with the input zero point folded in: conv1d/dense (Co,), conv_transpose1d
    (Co, stride): one per output phase r = (t + pad_begin) % stride, since a phase only
    uses the taps k = r + stride * m < K."""
    p, zp = op.params, int(op.attrs.get("x_zp", 0))
    bias, w = p["bias"].astype(np.int64), p["w"].astype(np.int64)
    if op.kind in ("conv1d", "dense"):
        return bias - zp * w.reshape(w.shape[0], -1).sum(axis=1)
    if op.kind == "conv_transpose1d":
        s = int(op.attrs["stride"])
        per_phase = np.stack([w[:, :, r::s].sum(axis=(0, 2)) for r in range(s)], axis=1)  # (Co, s)
        return bias[:, None] - zp * per_phase
    raise ValueError(f"{op.kind} has no bias")


def accumulator_bounds(graph: IntGraph) -> dict[str, int]:
    """Per layer: the largest |int32| the kernel's accumulation can reach: partial sums of
    x * w (x the raw int8 or int32 input), the folded bias, and the final acc + bias
    (exact worst case over all inputs)."""
    bounds = {}
    for op in graph.ops:
        p = op.params
        if op.kind in ("conv1d", "dense"):
            w = np.abs(p["w"].astype(np.int64)).reshape(p["w"].shape[0], -1)
            wsum = w.sum(axis=1)
        elif op.kind == "conv_transpose1d":
            s = int(op.attrs["stride"])
            w = np.abs(p["w"].astype(np.int64))  # (Ci, Co, K)
            wsum = np.max([w[:, :, r::s].sum(axis=(0, 2)) for r in range(s)], axis=0)
        elif op.kind == "global_sum":
            bounds[op.name] = int(op.attrs["length"]) * max(128, _int8_dev(int(op.attrs["x_zp"])))
            continue
        else:  # lut, mul, add: int64 or table arithmetic, nothing accumulates
            bounds[op.name] = 0
            continue
        raw = 128 if graph.tensors[op.inputs[0]].dtype == "int8" else _input_bound(op, graph)
        final = _input_bound(op, graph) * wsum + np.abs(p["bias"].astype(np.int64))
        bounds[op.name] = int(max(np.max(raw * wsum), np.max(final), np.max(np.abs(folded_bias(op)))))
    return bounds


def _expect_shape(op: Op, graph: IntGraph, want: tuple, what: str):
    got = tuple(graph.tensors[op.outputs[0]].shape)
    if int(np.prod(got)) != int(np.prod(want)):
        raise UnsupportedModelError(f"layer {op.name!r} ({op.kind}): output {op.outputs[0]!r} has shape {got}, "
                                    f"but {what} gives {want}")


def check_graph(graph: IntGraph) -> dict[str, int]:
    """Everything the code generator assumes; returns the accumulator bounds."""
    seen = set()
    for op in graph.ops:  # layers are keyed by name (weights, bounds, reports)
        if op.name in seen:
            raise UnsupportedModelError(f"two layers are named {op.name!r}; give every node a unique name")
        seen.add(op.name)
    for op in graph.ops:
        if op.kind not in OP_KINDS:
            raise UnsupportedModelError(f"layer {op.name!r}: op kind {op.kind!r} has no kernel; "
                                        f"supported: {', '.join(OP_KINDS)}")
        if len(op.outputs) != 1:
            raise UnsupportedModelError(f"layer {op.name!r}: exactly one output per layer is supported")
        ins = [graph.tensors[t] for t in op.inputs]
        if op.kind == "conv1d":
            (ci, length), (co, cin, k) = ins[0].shape, op.params["w"].shape
            pl, pr = op.attrs["pad"]
            lo = (length + pl + pr - k) // op.attrs["stride"] + 1
            _expect_shape(op, graph, (co, lo), f"Ci={ci} L={length} K={k} stride {op.attrs['stride']} pad {(pl, pr)}")
        elif op.kind == "conv_transpose1d":
            (ci, length), (cin, co, k) = ins[0].shape, op.params["w"].shape
            pb, pe = op.attrs["pad"]
            lo = (length - 1) * op.attrs["stride"] + k + op.attrs.get("output_padding", 0) - pb - pe
            _expect_shape(op, graph, (co, lo), f"L={length} K={k} stride {op.attrs['stride']} pad {(pb, pe)}")
        elif op.kind == "dense":
            co, cin = op.params["w"].shape
            if int(np.prod(ins[0].shape)) != cin:
                raise UnsupportedModelError(f"layer {op.name!r}: dense input {ins[0].shape} does not match "
                                            f"w {(co, cin)}")
            _expect_shape(op, graph, (co,), f"w {(co, cin)}")
        elif op.kind == "global_sum":
            if len(ins[0].shape) != 2 or ins[0].shape[1] != op.attrs["length"]:
                raise UnsupportedModelError(f"layer {op.name!r}: global_sum over {ins[0].shape}, length "
                                            f"{op.attrs['length']}")
        elif op.kind in ("mul", "add"):
            a, b = ins
            if op.kind == "add" and a.shape != b.shape:
                raise UnsupportedModelError(f"layer {op.name!r}: add needs equal shapes, got {a.shape}, {b.shape}")
            if op.kind == "mul" and b.shape != a.shape and (len(a.shape) != 2 or tuple(b.shape) != (a.shape[0], 1)):
                raise UnsupportedModelError(f"layer {op.name!r}: mul supports equal shapes or (C, 1), "
                                            f"got {a.shape} * {b.shape}")
        for t in ins:
            if t.dtype == "int32" and op.kind != "dense":
                raise UnsupportedModelError(f"layer {op.name!r} ({op.kind}) cannot take the int32 tensor {t.name!r}")
    bounds = accumulator_bounds(graph)
    for op in graph.ops:
        if bounds[op.name] > INT32_MAX:
            raise AccumulatorOverflowError(
                f"layer {op.name!r} ({op.kind}): the int32 accumulator (+ bias) can reach "
                f"{bounds[op.name]:,} > 2**31-1 = {INT32_MAX:,} for some int8 input "
                f"({bounds[op.name] / INT32_MAX:.2f}x over). Reduce the layer's fan-in "
                f"(channels x kernel) or the weight magnitudes, or split the layer.")
    return bounds


def check_io(graph: IntGraph) -> None:
    """The C API: one int8 (C, L) input; output 0 -> denoised, output 1 -> logits, both int8."""
    if len(graph.inputs) != 1:
        raise UnsupportedModelError(f"the C API takes exactly one input, the model has {len(graph.inputs)}")
    x = graph.tensors[graph.inputs[0]]
    if x.dtype != "int8" or len(x.shape) != 2:
        raise UnsupportedModelError(f"the model input must be int8 (channels, length), got {x.dtype} {x.shape}")
    if len(graph.outputs) != 2:
        raise UnsupportedModelError(f"the C API has two outputs (denoised, logits); the model has "
                                    f"{len(graph.outputs)}: {graph.outputs}")
    for name in graph.outputs:
        t = graph.tensors[name]
        if t.dtype != "int8":
            raise UnsupportedModelError(f"output {name!r} must be int8, got {t.dtype}")
        if name == graph.inputs[0]:
            raise UnsupportedModelError(f"output {name!r} is the model input itself")
    if graph.outputs[0] == graph.outputs[1]:
        raise UnsupportedModelError("the two outputs must be different tensors")


def load(model: str | Path | onnx.ModelProto) -> Frontend:
    """Read and check a model: the compiler's front end."""
    if isinstance(model, onnx.ModelProto):
        digest, source = hashlib.sha256(model.SerializeToString()).hexdigest(), "<ModelProto>"
    else:
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} does not exist; train and export one "
                                    f"(scripts/train.py) or pass --model PATH/model.onnx")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        try:  # repo-relative, so generated files do not depend on where the repo is checked out
            source = str(path.resolve().relative_to(Path(__file__).resolve().parents[2]))
        except ValueError:
            source = path.name
    graph = load_intgraph(model)
    check_io(graph)
    bounds = check_graph(graph)
    return Frontend(graph, digest, source, bounds)

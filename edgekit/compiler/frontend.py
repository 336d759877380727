"""Front end: ONNX QDQ -> IntGraph (via `edgekit.ir.onnx_import`) plus the checks the
C kernels rely on.

Each op module (edgekit/ops/) checks its own shapes and attributes (`check`) and bounds its
accumulator (`acc_bound`). The generic kernels fold the input zero point into the bias
(`folded_bias`: sum (x - zp) * w = sum x * w - zp * sum w, with padding read as x = zp),
accumulate sum x * w in int32 and add the folded bias in int32 before the int64
requantize. So for every layer both the partial sums (<= 128 * sum |w|) and the final
|acc + bias| (the exact worst case over all int8 inputs) must stay below 2**31;
`check_graph` raises `AccumulatorOverflowError` naming the layer if one is exceeded.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from .. import ops
from ..ir.intgraph import IntGraph, Op
from ..ir.onnx_import import UnsupportedModelError, load_intgraph
from .errors import AccumulatorOverflowError

INT32_MAX = 2**31 - 1


@dataclass
class Frontend:
    graph: IntGraph
    sha256: str          # of the ONNX file's bytes (or the serialized ModelProto)
    source: str          # path, or "<ModelProto>"
    acc_bounds: dict     # layer name -> largest possible |int32 accumulator + bias| (0 if none)


def folded_bias(op: Op) -> np.ndarray:
    """int64 bias with the input zero point folded in (the op module's folded_bias)."""
    fb = getattr(ops.get(op.kind), "folded_bias", None)
    if fb is None:
        raise ValueError(f"{op.kind} has no bias")
    return fb(op)


def accumulator_bounds(graph: IntGraph) -> dict[str, int]:
    """Per layer: the largest |int32| the kernel's accumulation can reach (each op module's
    acc_bound: partial sums, folded bias, final acc + bias; 0 when nothing accumulates)."""
    return {op.name: int(ops.get(op.kind).acc_bound(op, graph)) for op in graph.ops}


def check_graph(graph: IntGraph) -> dict[str, int]:
    """Everything the code generator assumes; returns the accumulator bounds."""
    seen = set()
    for op in graph.ops:  # layers are keyed by name (weights, bounds, reports)
        if op.name in seen:
            raise UnsupportedModelError(f"two layers are named {op.name!r}; give every node a unique name")
        seen.add(op.name)
    for op in graph.ops:
        if op.kind not in ops.OPS:
            raise UnsupportedModelError(f"layer {op.name!r}: op kind {op.kind!r} has no kernel; "
                                        f"supported: {', '.join(ops.OPS)}")
        if len(op.outputs) != 1:
            raise UnsupportedModelError(f"layer {op.name!r}: exactly one output per layer is supported")
        ops.get(op.kind).check(op, graph)
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
    """The C API: one or more int8 inputs and outputs, each its own caller buffer."""
    if not graph.inputs or not graph.outputs:
        raise UnsupportedModelError(f"the model needs at least one input and one output, it has "
                                    f"{len(graph.inputs)} and {len(graph.outputs)}")
    seen = {}
    for kind, names in (("input", graph.inputs), ("output", graph.outputs)):
        for name in names:
            t = graph.tensors[name]
            label = graph.api_names.get(name, name)
            if t.dtype != "int8":
                raise UnsupportedModelError(f"{kind} {label!r} must be int8, got {t.dtype}")
            b = graph.base(name)
            if b in seen:
                raise UnsupportedModelError(f"{kind} {label!r} is the same tensor as {seen[b]!r}; every input and "
                                            f"output needs its own buffer")
            seen[b] = label


def graph_digest(graph: IntGraph) -> str:
    """sha256 over an IntGraph's structure and integer contents (for graphs built in code)."""
    h = hashlib.sha256(repr([(n, t.shape, t.dtype) for n, t in graph.tensors.items()]).encode())
    for op in graph.ops:
        h.update(repr((op.kind, op.name, op.inputs, op.outputs, sorted(op.attrs.items()))).encode())
        for key in sorted(op.params):
            h.update(key.encode() + np.ascontiguousarray(op.params[key]).tobytes())
    return h.hexdigest()


def load(model: str | Path | onnx.ModelProto | IntGraph) -> Frontend:
    """Read and check a model (an ONNX file or ModelProto, or an IntGraph built in code, as
    the op tests do): the compiler's front end."""
    if isinstance(model, IntGraph):
        check_io(model)
        return Frontend(model, graph_digest(model), "<IntGraph>", check_graph(model))
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

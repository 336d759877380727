"""onnxruntime on a QDQ model, seen through its IntGraph: int8 inputs in, int8 outputs out.

The float graph inputs get the dequantized int8 values (which QuantizeLinear maps back to the
same integers), and each float output is quantized back with its tensor's scale and zero point
(exact: it is a DequantizeLinear of an int8 value). With optimized=False onnxruntime runs the
graph as ONNX defines it (DequantizeLinear -> float op -> QuantizeLinear, nothing fused); with
True it runs its own integer fusions (QLinearConv, QLinearSoftmax, ...), which round differently.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .intgraph import IntGraph


def session(model: str | Path | bytes, optimized: bool = False):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    if not optimized:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def run_int8(graph: IntGraph, model: str | Path | bytes, inputs: dict[str, np.ndarray],
             optimized: bool = False) -> dict[str, np.ndarray]:
    """inputs: graph input tensor -> int8 (N, *shape); returns graph output tensor -> int8 (N, *shape)."""
    sess = session(model, optimized)
    onnx_inputs = {i.name: i for i in sess.get_inputs()}
    feeds = {}
    for t in graph.inputs:
        name = graph.api_names.get(t, t)
        info, x = graph.tensors[t], np.asarray(inputs[t])
        want = onnx_inputs[name].type
        if want == "tensor(int8)":
            feeds[name] = x.astype(np.int8)
        else:
            feeds[name] = (np.float32(info.scale) * (x.astype(np.float32) - np.float32(info.zero_point)))
    names = [o.name for o in sess.get_outputs()]
    n = len(next(iter(feeds.values())))
    runs = [sess.run(names, {k: v[i:i + 1] for k, v in feeds.items()}) for i in range(n)]
    out = {}
    for t in graph.outputs:
        j = names.index(graph.api_names.get(t, t))
        info = graph.tensors[t]
        y = np.concatenate([r[j] for r in runs])
        if y.dtype != np.int8:
            y = np.clip(np.rint(y / np.float32(info.scale)) + info.zero_point, -128, 127)
        out[t] = y.reshape((n,) + tuple(info.shape)).astype(np.int8)
    return out


def quantize_inputs(graph: IntGraph, floats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float inputs by ONNX name -> int8 graph inputs (QuantizeLinear: round half to even, saturate)."""
    out = {}
    for t in graph.inputs:
        info = graph.tensors[t]
        x = np.asarray(floats[graph.api_names.get(t, t)], np.float32)
        out[t] = np.clip(np.rint(x / np.float32(info.scale)) + info.zero_point, -128, 127).astype(np.int8)
    return out

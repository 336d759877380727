"""Read an int8 ONNX QDQ model into an IntGraph: DequantizeLinear -> op -> QuantizeLinear
patterns become integer ops carrying exactly the integer reference's parameters.

Works for any QDQ model made of the supported ops (not only ACDAE); anything else fails
with the op, the node and the supported list.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from .arithmetic import add_multipliers, quantize_multiplier, quantize_multipliers
from .format import check_version
from .intgraph import IntGraph, Op, TensorInfo, UnsupportedModelError  # noqa: F401 (re-exported)

SUPPORTED_OPS = ("QuantizeLinear", "DequantizeLinear", "Conv", "ConvTranspose", "Gemm", "LeakyRelu",
                 "GlobalAveragePool", "Flatten", "Reshape", "Squeeze", "Sigmoid", "Mul", "Add")
_PASS_THROUGH = ("Flatten", "Reshape", "Squeeze")


def _fail(node, why: str):
    raise UnsupportedModelError(f"node {node.name or node.output[0]!r} ({node.op_type}): {why}. "
                                f"Supported ops: {', '.join(SUPPORTED_OPS)}")


class _Reader:
    def __init__(self, model: onnx.ModelProto):
        self.model = shape_inference.infer_shapes(model)
        g = self.model.graph
        self.inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.producer = {o: n for n in g.node for o in n.output}
        self.shapes = {}
        for vi in list(g.value_info) + list(g.input) + list(g.output):
            dims = vi.type.tensor_type.shape.dim
            self.shapes[vi.name] = tuple(d.dim_value for d in dims)
        self.tensors: dict[str, TensorInfo] = {}
        self.ops: list[Op] = []

    def attr(self, node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def qparams(self, node) -> tuple[np.ndarray, np.ndarray]:
        scale = self.inits.get(node.input[1])
        if scale is None:
            _fail(node, "scale must be a constant initializer")
        zp = self.inits[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros((), np.uint8)
        return scale.astype(np.float32), zp

    def activation(self, name: str) -> TensorInfo:
        """The int8 tensor behind a dequantized activation."""
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear" or node.input[0] in self.inits:
            where = node if node is not None else onnx.helper.make_node("Input", [], [name], name=name)
            _fail(where, f"input {name!r} must come from DequantizeLinear of an int8 activation")
        scale, zp = self.qparams(node)
        if scale.size != 1 or zp.dtype != np.int8:
            _fail(node, "activations must be per-tensor int8")
        return self.tensors[node.input[0]]

    def constant(self, name: str, want_dtype) -> tuple[np.ndarray, np.ndarray]:
        """(integer values, per-channel scale) of a dequantized initializer."""
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear" or node.input[0] not in self.inits:
            raise UnsupportedModelError(f"{name!r} must be a DequantizeLinear of an initializer")
        q = self.inits[node.input[0]]
        scale, zp = self.qparams(node)
        if q.dtype != want_dtype:
            _fail(node, f"{name} must be {np.dtype(want_dtype).name}, got {q.dtype}")
        if np.any(zp != 0):
            _fail(node, "weights and biases must be symmetric (zero point 0)")
        if q.dtype == np.int8 and q.min() < -127:
            _fail(node, "int8 weights must lie in [-127, 127]")
        return q, scale

    def add_tensor(self, name, dtype, scale=1.0, zp=0, shape=None) -> TensorInfo:
        shape = shape if shape is not None else self.shapes[name][1:]  # drop the batch
        t = TensorInfo(name, tuple(int(s) for s in shape), dtype, float(scale), int(zp))
        self.tensors[name] = t
        return t

    # --- patterns -------------------------------------------------------------------------
    def gap_source(self, name: str):
        """If `name` is (through Flatten/Reshape/Squeeze) a GlobalAveragePool, its node."""
        node = self.producer.get(name)
        while node is not None and node.op_type in _PASS_THROUGH:
            node = self.producer.get(node.input[0])
        return node if node is not None and node.op_type == "GlobalAveragePool" else None

    def weighted(self, q_node, core, alpha, out: TensorInfo):
        kind = core.op_type
        gap = self.gap_source(core.input[0])
        if gap is not None:
            x = self.activation(gap.input[0])
            length = x.shape[-1]
            sums = self.add_tensor(f"{gap.output[0]}_sum", "int32", x.scale, 0, shape=x.shape[:1])
            self.ops.append(Op("global_sum", gap.name or gap.output[0], [x.name], [sums.name],
                               attrs={"x_zp": x.zero_point, "length": length}))
        else:
            x, length = self.activation(core.input[0]), 1
        w, w_scale = self.constant(core.input[1], np.int8)
        params, attrs = {}, {"x_zp": 0 if gap is not None else x.zero_point, "y_zp": out.zero_point}
        if kind == "Gemm":
            if self.attr(core, "alpha", 1.0) != 1.0 or self.attr(core, "beta", 1.0) != 1.0:
                _fail(core, "Gemm alpha and beta must be 1")
            if not self.attr(core, "transB", 0):
                w, w_scale = w.T, w_scale
            if self.attr(core, "transA", 0):
                _fail(core, "Gemm transA is not supported")
        else:
            if self.attr(core, "group", 1) != 1 or any(d != 1 for d in self.attr(core, "dilations", [1])):
                _fail(core, "only group=1 and dilation=1 are supported")
            if self.attr(core, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                _fail(core, "auto_pad is not supported; use explicit pads")
        co = w.shape[1] if kind == "ConvTranspose" else w.shape[0]
        w_scale = np.broadcast_to(w_scale, (co,)).astype(np.float64)
        if len(core.input) > 2 and core.input[2]:
            b, b_scale = self.constant(core.input[2], np.int32)
            want = np.float64(x.scale) * w_scale
            if not np.allclose(np.broadcast_to(b_scale, (co,)), want, rtol=1e-5):
                b = np.round(b * np.broadcast_to(b_scale, (co,)) / want)  # re-express at s_x * s_w
            bias = b.astype(np.int64)
        else:
            bias = np.zeros(co, np.int64)
        real = np.float64(x.scale) * w_scale / (np.float64(out.scale) * length)
        m_pos, n_pos = quantize_multipliers(real)
        m_neg, n_neg = quantize_multipliers(real * alpha) if alpha is not None else (m_pos, n_pos)
        params.update(bias=(bias * length).astype(np.int32), m_pos=m_pos, n_pos=n_pos, m_neg=m_neg, n_neg=n_neg)
        src = sums.name if gap is not None else x.name
        if gap is not None or kind == "Gemm":
            params["w"] = w.reshape(co, -1).astype(np.int8)
            op = Op("dense", core.name or core.output[0], [src], [out.name], attrs, params, alpha)
        else:
            k = self.attr(core, "kernel_shape", [w.shape[2]])[0]
            pads = self.attr(core, "pads", [0, 0])
            attrs.update(stride=int(self.attr(core, "strides", [1])[0]), pad=(int(pads[0]), int(pads[1])))
            if kind == "ConvTranspose":
                if self.attr(core, "output_shape") is not None:
                    _fail(core, "output_shape is not supported; use pads and output_padding")
                attrs["output_padding"] = int(self.attr(core, "output_padding", [0])[0])
            params["w"] = w.astype(np.int8)
            assert w.shape[2] == k
            op = Op("conv_transpose1d" if kind == "ConvTranspose" else "conv1d", core.name or core.output[0], [src], [out.name],
                    attrs, params, alpha)
        self.ops.append(op)

    def quantize(self, q_node):
        scale, zp = self.qparams(q_node)
        if scale.size != 1 or zp.dtype != np.int8:
            _fail(q_node, "activations must be quantized per-tensor to int8")
        src = self.producer.get(q_node.input[0])
        if src is None:  # a float graph input quantized on entry
            self.add_tensor(q_node.output[0], "int8", scale, zp)
            return
        out = self.add_tensor(q_node.output[0], "int8", scale, zp)
        alpha = None
        core = src
        if src.op_type == "LeakyRelu":
            alpha = float(self.attr(src, "alpha", 0.01))
            core = self.producer.get(src.input[0])
            if core is None or core.op_type not in ("Conv", "ConvTranspose", "Gemm"):
                _fail(src, "LeakyRelu must follow Conv, ConvTranspose or Gemm")
        name = core.name or core.output[0]
        if core.op_type in ("Conv", "ConvTranspose", "Gemm"):
            self.weighted(q_node, core, alpha, out)
        elif core.op_type == "Sigmoid":
            x = self.activation(core.input[0])
            real = x.scale * (np.arange(-128, 128, dtype=np.float64) - x.zero_point)
            table = np.clip(np.rint(1.0 / (1.0 + np.exp(-real)) / out.scale) + out.zero_point, -128, 127)
            self.ops.append(Op("lut", name, [x.name], [out.name], params={"table": table.astype(np.int8)}))
        elif core.op_type == "Mul":
            a, b = self.activation(core.input[0]), self.activation(core.input[1])
            if np.prod(b.shape) > np.prod(a.shape):
                a, b = b, a
            if not (b.shape == a.shape or (len(b.shape) == len(a.shape) and b.shape[-1] == 1
                                           and b.shape[0] == a.shape[0])):
                _fail(core, f"Mul supports same shapes or a per-channel (C, 1) scale, got {a.shape} * {b.shape}")
            m, n = quantize_multiplier(a.scale * b.scale / out.scale)
            self.ops.append(Op("mul", name, [a.name, b.name], [out.name],
                               attrs={"a_zp": a.zero_point, "b_zp": b.zero_point, "y_zp": out.zero_point,
                                      "m": m, "n": n}))
        elif core.op_type == "Add":
            a, b = self.activation(core.input[0]), self.activation(core.input[1])
            if a.shape != b.shape:
                _fail(core, f"Add needs equal shapes, got {a.shape} + {b.shape}")
            ma, mb, n = add_multipliers(a.scale / out.scale, b.scale / out.scale)
            self.ops.append(Op("add", name, [a.name, b.name], [out.name],
                               attrs={"a_zp": a.zero_point, "b_zp": b.zero_point, "y_zp": out.zero_point,
                                      "ma": ma, "mb": mb, "n": n}))
        else:
            _fail(core, "this op cannot be lowered to an integer kernel between Dequantize and Quantize")


def _load_onnx(path: Path) -> onnx.ModelProto:
    """The ModelProto in `path`; ModelFormatError naming the file if it is not one."""
    from .format import ModelFormatError

    try:
        model = onnx.load(str(path))
    except (IsADirectoryError, PermissionError):
        raise
    except Exception as e:  # noqa: BLE001 -- protobuf raises DecodeError, RuntimeWarning, ValueError...
        raise ModelFormatError(f"{path} is not a valid ONNX file ({type(e).__name__}: {e})") from None
    if not model.graph.node or not model.graph.input or not model.graph.output:
        raise ModelFormatError(f"{path} is not a valid ONNX file (no graph: it has no nodes, inputs or outputs)")
    try:
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 -- onnx.checker.ValidationError and its C++ relatives
        raise ModelFormatError(f"{path} is not a valid ONNX model ({type(e).__name__}: {e})") from None
    return model


def load_intgraph(model: str | Path | onnx.ModelProto) -> IntGraph:
    """Build the IntGraph of a frozen int8 ONNX QDQ model (a path or a ModelProto)."""
    path = None
    if not isinstance(model, onnx.ModelProto):
        path = Path(model)
        if not path.exists():
            raise FileNotFoundError(f"model file {path} does not exist; train one with scripts/train.py "
                                    "or pass --model models/<name>/model.onnx")
        model = _load_onnx(path)
    props = {p.key: p.value for p in model.metadata_props}
    if "edgekit_format" in props or "edgekit_format_version" in props:
        check_version(props.get("edgekit_format"), props.get("edgekit_format_version"), path or "model")
    for node in model.graph.node:
        if node.op_type not in SUPPORTED_OPS:
            _fail(node, "unsupported op")
    r = _Reader(model)
    g = r.model.graph
    inputs = []
    for vi in g.input:
        if vi.name in r.inits:
            continue
        elem = vi.type.tensor_type.elem_type
        if elem == onnx.TensorProto.INT8:
            dq = next((n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] == vi.name), None)
            if dq is None:
                raise UnsupportedModelError(f"int8 input {vi.name!r} is not dequantized")
            scale, zp = r.qparams(dq)
            r.add_tensor(vi.name, "int8", scale, zp)
            inputs.append(vi.name)
        else:
            q = next((n for n in g.node if n.op_type == "QuantizeLinear" and n.input[0] == vi.name), None)
            if q is None:
                raise UnsupportedModelError(f"float input {vi.name!r} must go straight into QuantizeLinear")
            inputs.append(q.output[0])
    if len(inputs) != 1:
        raise UnsupportedModelError(f"exactly one model input is supported, got {len(inputs)}")
    for node in g.node:
        if node.op_type == "QuantizeLinear":
            r.quantize(node)
    outputs = []
    for vi in g.output:
        name = vi.name
        node = r.producer.get(name)
        if node is not None and node.op_type == "DequantizeLinear":
            name = node.input[0]
        if name not in r.tensors or r.tensors[name].dtype != "int8":
            raise UnsupportedModelError(f"output {vi.name!r} must be an int8 QuantizeLinear output")
        outputs.append(name)
    props_meta = {k: v for k, v in props.items()}
    return IntGraph(g.name or "model", inputs, outputs, r.tensors, r.ops, meta=props_meta)

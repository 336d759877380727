"""Read an int8 ONNX QDQ model into an IntGraph: the QuantizeLinear / DequantizeLinear pairs
around float ops become integer ops carrying exactly the integer reference's parameters.

It reads QDQ graphs as the common tools write them: edgekit's own exporter, torch's exporters
and onnxruntime's `quantize_static` (QDQ format, per-channel or per-tensor weights):

- an op between DequantizeLinear inputs and a QuantizeLinear output becomes one integer op;
  Conv/ConvTranspose/Gemm/MatMul directly followed by Relu or LeakyRelu (no Q/DQ between, as
  edgekit's exporter writes them) get the activation fused into their requantize;
- an activation with its own Q/DQ pair in front (Relu, LeakyRelu, Clip, Sigmoid, Tanh, ...,
  as onnxruntime writes them when it keeps the node) becomes a 256-entry table;
- a Relu that onnxruntime removed (its clamp is in the quantized range) needs nothing;
- layout ops (Transpose, Reshape, Squeeze, Unsqueeze, Flatten, Identity) are folded into views
  of the tensor they read when they move no data; a Transpose that moves data is a kernel;
- a QuantizeLinear of an already quantized tensor with other parameters is a requantize table.

Anything else fails with one line naming the op, the node and the reason.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from .arithmetic import add_multipliers, quantize_multiplier, quantize_multipliers
from .format import check_version
from .intgraph import IntGraph, Op, TensorInfo, UnsupportedModelError  # noqa: F401 (re-exported)

LAYOUT_OPS = ("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity")
WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
FUSABLE_ACTIVATIONS = ("Relu", "LeakyRelu")
# element-wise functions a table can hold exactly: name -> f(real values, node attributes)
TABLE_FUNCTIONS = {
    "Relu": lambda x, a: np.maximum(x, 0.0),
    "LeakyRelu": lambda x, a: np.where(x >= 0, x, x * a("alpha", 0.01)),
    "Sigmoid": lambda x, a: 1.0 / (1.0 + np.exp(-x)),
    "Tanh": lambda x, a: np.tanh(x),
    "HardSigmoid": lambda x, a: np.clip(a("alpha", 0.2) * x + a("beta", 0.5), 0.0, 1.0),
    "HardSwish": lambda x, a: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "Elu": lambda x, a: np.where(x >= 0, x, a("alpha", 1.0) * np.expm1(np.minimum(x, 0.0))),
    "Clip": None,  # min/max come from inputs, see _clip_bounds
}
POOL_OPS = ("GlobalAveragePool", "GlobalMaxPool", "MaxPool", "AveragePool", "ReduceMean", "ReduceSum",
            "ReduceMax")
OTHER_OPS = ("Add", "Sub", "Mul", "Concat", "Softmax")
SUPPORTED_OPS = (("QuantizeLinear", "DequantizeLinear") + WEIGHTED_OPS + tuple(TABLE_FUNCTIONS) + POOL_OPS
                 + OTHER_OPS + LAYOUT_OPS)


def _node_name(node) -> str:
    return node.name or (node.output[0] if node.output else "?")


def _fail(node, why: str):
    more = f" Supported ops: {', '.join(SUPPORTED_OPS)}" if why == "unsupported op" else ""
    raise UnsupportedModelError(f"{node.op_type} node {_node_name(node)!r}: {why}.{more}")


def _moves_no_data(in_shape: tuple, perm) -> bool:
    """A transpose moves no data when the axes longer than 1 keep their order."""
    big = [p for p in perm if in_shape[p] != 1]
    return big == sorted(big)


class _Reader:
    def __init__(self, model: onnx.ModelProto):
        try:
            self.model = shape_inference.infer_shapes(model, strict_mode=False)
        except Exception as e:  # noqa: BLE001 -- onnx raises several kinds
            raise UnsupportedModelError(f"ONNX shape inference failed: {str(e).splitlines()[0]}") from None
        g = self.model.graph
        self.inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for n in g.node:  # Constant nodes are initializers written differently
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                self.inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        self.producer = {o: n for n in g.node for o in n.output}
        self.readers: dict[str, list] = {}
        for n in g.node:
            for i in n.input:
                self.readers.setdefault(i, []).append(n)
        self.graph_outputs = {vi.name for vi in g.output}
        self.shapes = {}
        for vi in list(g.value_info) + list(g.input) + list(g.output):
            dims = vi.type.tensor_type.shape.dim
            self.shapes[vi.name] = tuple(d.dim_value for d in dims)
        self.tensors: dict[str, TensorInfo] = {}
        self.views: dict[str, str] = {}    # view tensor -> the tensor whose bytes it reads
        self.ints: dict[str, str] = {}     # float ONNX tensor -> the int8 tensor it dequantizes
        self.ops: list[Op] = []
        self.fused: set[str] = set()       # float tensors consumed by a fused pattern
        self.names: set[str] = set()

    # --- helpers --------------------------------------------------------------------------
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

    def shape(self, name: str, node) -> tuple:
        s = self.shapes.get(name)
        if s is None or any(d <= 0 for d in s):
            _fail(node, f"the shape of {name!r} is not static (export with a fixed batch of 1)")
        if not s or s[0] != 1:
            _fail(node, f"tensor {name!r} has shape {s}: only batch 1 (N, ...) tensors are supported")
        return tuple(int(d) for d in s[1:])

    def op_name(self, node) -> str:
        base = _node_name(node)
        name, i = base, 2
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def add_tensor(self, name, dtype, scale, zp, shape) -> TensorInfo:
        t = TensorInfo(name, tuple(int(s) for s in shape), dtype, float(scale), int(zp))
        self.tensors[name] = t
        return t

    def base(self, name: str) -> str:
        while name in self.views:
            name = self.views[name]
        return name

    def add_view(self, name: str, src: TensorInfo, shape) -> TensorInfo:
        """`name` reads the bytes of `src` with another shape (no data moves)."""
        if int(np.prod(shape)) != int(np.prod(src.shape)):
            raise UnsupportedModelError(f"view {name!r} of {src.name!r}: {shape} and {src.shape} differ in size")
        if tuple(shape) == tuple(src.shape):
            return src
        t = self.add_tensor(name, src.dtype, src.scale, src.zero_point, shape)
        self.views[name] = self.base(src.name)
        return t

    def activation(self, name: str, node) -> TensorInfo:
        """The int8 tensor behind a dequantized float tensor (an input of `node`)."""
        if name in self.ints:
            return self.tensors[self.ints[name]]
        prod = self.producer.get(name)
        if prod is None:
            _fail(node, f"input {name!r} is a float graph input that is not quantized first")
        if name in self.inits:
            _fail(node, f"input {name!r} is a float constant; only weights and biases of Conv, ConvTranspose, "
                        f"Gemm and MatMul may be constants")
        _fail(node, f"input {name!r} comes from {prod.op_type} node {_node_name(prod)!r} without a "
                    f"QuantizeLinear/DequantizeLinear pair in between")

    def constant(self, name: str, want_dtype, node) -> tuple[np.ndarray, np.ndarray]:
        """(integer values, scale) of a dequantized initializer (weights, biases)."""
        dq = self.producer.get(name)
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in self.inits:
            if name in self.inits:
                _fail(node, f"{name!r} is a float constant: quantize the model's weights and biases "
                            f"(e.g. onnxruntime.quantization.quantize_static)")
            _fail(node, f"{name!r} must be a DequantizeLinear of a constant")
        q = self.inits[dq.input[0]]
        scale, zp = self.qparams(dq)
        if q.dtype != want_dtype:
            _fail(node, f"{name} must be {np.dtype(want_dtype).name}, got {q.dtype}")
        if np.any(zp != 0):
            _fail(node, "weights and biases must be symmetric (zero point 0)")
        if q.dtype == np.int8 and q.size and q.min() < -127:
            _fail(node, "int8 weights must lie in [-127, 127] (quantize weights symmetrically)")
        return q, scale

    def const_value(self, name: str | None, node, default=None):
        if not name:
            return default
        if name in self.inits:
            return self.inits[name]
        dq = self.producer.get(name)
        if dq is not None and dq.op_type == "DequantizeLinear" and dq.input[0] in self.inits:
            q = self.inits[dq.input[0]].astype(np.float64)
            scale, zp = self.qparams(dq)
            return (q - zp.astype(np.float64)) * scale.astype(np.float64)
        _fail(node, f"{name!r} must be a constant")

    # --- the walk -------------------------------------------------------------------------
    def dequantize(self, node):
        if node.input[0] in self.inits:
            return  # a weight or bias: read where it is used
        src = node.input[0]
        if src not in self.tensors:
            _fail(node, f"{src!r} is not an int8 tensor of this graph")
        scale, zp = self.qparams(node)
        t = self.tensors[src]
        if scale.size != 1 or zp.dtype != np.int8:
            _fail(node, "activations must be dequantized per-tensor from int8")
        if not np.isclose(float(scale), t.scale, rtol=1e-6) or int(zp) != t.zero_point:
            _fail(node, f"dequantizes {src!r} with scale {float(scale):g} / zero point {int(zp)}, but it was "
                        f"quantized with {t.scale:g} / {t.zero_point}")
        self.ints[node.output[0]] = src

    def layout(self, node):
        """A layout op on a dequantized tensor: a view, or a transpose kernel when data moves."""
        src_name = node.input[0]
        if src_name not in self.ints:
            return  # on a float result: followed through by the pattern that reads it
        src = self.tensors[self.ints[src_name]]
        out_shape = self.shape(node.output[0], node)
        if node.op_type == "Transpose":
            full = (1,) + tuple(src.shape)
            perm = self.attr(node, "perm", list(range(len(full)))[::-1])
            if perm[0] != 0 and full[perm[0]] != 1:
                _fail(node, "a Transpose may not move the batch axis")
            if not _moves_no_data(full, perm):
                if len(src.shape) != 2:
                    _fail(node, f"a Transpose that moves data is supported on (C, L) tensors, got {src.shape}")
                name = node.output[0]
                t = self.add_tensor(name, "int8", src.scale, src.zero_point, out_shape)
                self.ops.append(Op("transpose", self.op_name(node), [src.name], [t.name]))
                self.ints[node.output[0]] = t.name
                return
        self.ints[node.output[0]] = self.add_view(node.output[0], src, out_shape).name

    def quantize(self, node):
        scale, zp = self.qparams(node)
        if scale.size != 1 or zp.dtype != np.int8:
            _fail(node, "activations must be quantized per-tensor to int8")
        v = node.input[0]
        out_name = node.output[0]
        if v in self.ints:  # re-quantizing an int8 tensor (often with the same parameters: a no-op)
            src = self.tensors[self.ints[v]]
            if np.isclose(float(scale), src.scale, rtol=1e-6) and int(zp) == src.zero_point:
                self.views[out_name] = self.base(src.name)
                self.tensors[out_name] = TensorInfo(out_name, src.shape, "int8", src.scale, src.zero_point)
                if out_name == self.base(src.name):  # cannot happen in a valid graph
                    _fail(node, "quantizes its own output")
                return
            out = self.add_tensor(out_name, "int8", scale, zp, src.shape)
            self.ops.append(Op("lut", self.op_name(node), [src.name], [out.name],
                               params={"table": _table(src, out, lambda x: x)}))
            return
        src = self.producer.get(v)
        if src is None:  # a float graph input quantized on entry
            self.add_tensor(out_name, "int8", scale, zp, self.shape(v, node))
            self.graph_input_of[v] = out_name
            return
        out = self.add_tensor(out_name, "int8", scale, zp, self.shape(out_name, node))
        self.lower(src, out, node)

    def lower(self, core, out: TensorInfo, q_node):
        """The integer op computing `out` from the float op `core` (read by QuantizeLinear q_node)."""
        kind = core.op_type
        act = None
        if kind in FUSABLE_ACTIVATIONS and core.input[0] not in self.ints:
            prev = self.producer.get(core.input[0])
            if prev is None or prev.op_type not in WEIGHTED_OPS:
                _fail(core, f"{kind} on a float tensor must follow Conv, ConvTranspose, Gemm or MatMul "
                            f"(or have a QuantizeLinear/DequantizeLinear pair in front)")
            act, core = core, prev
            kind = core.op_type
        if kind in WEIGHTED_OPS:
            return self.weighted(core, act, out)
        if kind == "Clip" and core.input[0] not in self.ints and \
                getattr(self.producer.get(core.input[0]), "op_type", None) in WEIGHTED_OPS:
            # Clip (e.g. ReLU6) right after a Conv/Gemm/MatMul: requantize to the output's scale,
            # then clamp the int8 values to [q(min), q(max)] (clamping commutes with the rounding)
            lo, hi = self.clip_bounds(core)
            pre = self.add_tensor(f"{out.name}_unclipped", "int8", out.scale, out.zero_point, out.shape)
            self.weighted(self.producer[core.input[0]], None, pre)
            self.ops.append(Op("lut", self.op_name(core), [pre.name], [out.name],
                               params={"table": _table(pre, out, lambda v: np.clip(v, lo, hi))}))
            return
        if kind in TABLE_FUNCTIONS:
            if core.input[0] not in self.ints:
                prev = self.producer.get(core.input[0])
                if prev is not None and prev.op_type in WEIGHTED_OPS:
                    _fail(core, f"directly after {prev.op_type} node {_node_name(prev)!r} only Relu, LeakyRelu "
                                f"and Clip fuse into the requantize; put a QuantizeLinear/DequantizeLinear pair "
                                f"in between")
            x = self.activation(core.input[0], core)
            if kind == "Clip":
                lo, hi = self.clip_bounds(core)
                fn = lambda v: np.clip(v, lo, hi)  # noqa: E731
            else:
                f = TABLE_FUNCTIONS[kind]
                fn = lambda v: f(v, lambda k, d: float(self.attr(core, k, d)))  # noqa: E731
            self.ops.append(Op("lut", self.op_name(core), [x.name], [out.name], params={"table": _table(x, out, fn)}))
            return
        if kind in POOL_OPS:
            return self.pool(core, out)
        if kind in ("Add", "Sub"):
            a, b = self.activation(core.input[0], core), self.activation(core.input[1], core)
            if a.shape != b.shape:
                _fail(core, f"{kind} needs equal shapes, got {a.shape} and {b.shape}")
            ma, mb, n = add_multipliers(a.scale / out.scale, b.scale / out.scale)
            if kind == "Sub":
                mb = -mb
            self.ops.append(Op("add", self.op_name(core), [a.name, b.name], [out.name],
                               attrs={"a_zp": a.zero_point, "b_zp": b.zero_point, "y_zp": out.zero_point,
                                      "ma": ma, "mb": mb, "n": n}))
            return
        if kind == "Mul":
            a, b = self.activation(core.input[0], core), self.activation(core.input[1], core)
            if np.prod(b.shape) > np.prod(a.shape):
                a, b = b, a
            if not (b.shape == a.shape or (len(b.shape) == len(a.shape) == 2 and b.shape[-1] == 1
                                           and b.shape[0] == a.shape[0])):
                _fail(core, f"Mul supports equal shapes or a per-channel (C, 1) scale, got {a.shape} * {b.shape}")
            m, n = quantize_multiplier(a.scale * b.scale / out.scale)
            self.ops.append(Op("mul", self.op_name(core), [a.name, b.name], [out.name],
                               attrs={"a_zp": a.zero_point, "b_zp": b.zero_point, "y_zp": out.zero_point,
                                      "m": m, "n": n}))
            return
        if kind == "Concat":
            return self.concat(core, out)
        if kind == "Softmax":
            return self.softmax(core, out)
        if kind in LAYOUT_OPS:
            _fail(core, "a layout op on a float result must have a QuantizeLinear/DequantizeLinear pair in front")
        _fail(core, "unsupported op")

    def clip_bounds(self, node) -> tuple[float, float]:
        lo = self.const_value(node.input[1] if len(node.input) > 1 else None, node, self.attr(node, "min", -np.inf))
        hi = self.const_value(node.input[2] if len(node.input) > 2 else None, node, self.attr(node, "max", np.inf))
        return float(np.asarray(lo)), float(np.asarray(hi))

    def float_source(self, name: str):
        """The node behind `name`, looking through layout ops on float results."""
        node = self.producer.get(name)
        while node is not None and node.op_type in LAYOUT_OPS and node.input[0] not in self.ints:
            node = self.producer.get(node.input[0])
        return node

    def weighted(self, core, act, out: TensorInfo):
        kind = core.op_type
        gap = self.float_source(core.input[0])
        if gap is not None and gap.op_type == "GlobalAveragePool" and core.input[0] not in self.ints:
            # a global average pool feeding the layer in float: keep the sum in int32, fold 1/L in
            x = self.activation(gap.input[0], gap)
            if len(x.shape) != 2:
                _fail(gap, f"GlobalAveragePool over {x.shape}: only (C, L) inputs are supported")
            length = x.shape[-1]
            sums = self.add_tensor(f"{gap.output[0]}_sum", "int32", x.scale, 0, x.shape[:1])
            self.ops.append(Op("global_sum", self.op_name(gap), [x.name], [sums.name],
                               attrs={"x_zp": x.zero_point, "length": length}))
            src, x_zp = sums.name, 0
        else:
            gap, length = None, 1
            x = self.activation(core.input[0], core)
            src, x_zp = x.name, x.zero_point
        w, w_scale = self.constant(core.input[1], np.int8, core)
        attrs = {"x_zp": x_zp, "y_zp": out.zero_point}
        rows = 1
        if kind == "Gemm":
            if self.attr(core, "alpha", 1.0) != 1.0 or self.attr(core, "beta", 1.0) != 1.0:
                _fail(core, "Gemm alpha and beta must be 1")
            if self.attr(core, "transA", 0):
                _fail(core, "Gemm transA is not supported")
            if not self.attr(core, "transB", 0):
                w = w.T
            if w_scale.size > 1 and w_scale.size != w.shape[0]:
                _fail(core, "Gemm weights must be quantized per output feature or per tensor")
        elif kind == "MatMul":
            if w.ndim != 2:
                _fail(core, f"MatMul needs a 2-D constant right operand, got {w.shape}")
            w = w.T  # (out features, in features)
            xs = self.tensors[src].shape
            if xs[-1] != w.shape[1]:
                _fail(core, f"MatMul of {xs} by {w.T.shape}: inner sizes differ")
            rows = int(np.prod(xs[:-1])) if len(xs) > 1 else 1
        else:
            if len(w.shape) != 3:
                _fail(core, f"{kind} with a {len(w.shape) - 2}-D kernel is not supported (only Conv1d)")
            if self.attr(core, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                _fail(core, "auto_pad is not supported; export with explicit pads")
            group = int(self.attr(core, "group", 1))
            dilation = int(self.attr(core, "dilations", [1])[0])
            if kind == "ConvTranspose" and (group != 1 or dilation != 1):
                _fail(core, "ConvTranspose supports only group=1 and dilation=1")
            if gap is not None and (group != 1 or w.shape[2] != 1):
                _fail(core, "a Conv reading a global average pool must be 1x1 with group=1")
            if group != 1:
                attrs["group"] = group
            if dilation != 1:
                attrs["dilation"] = dilation
        co = w.shape[1] if kind == "ConvTranspose" else w.shape[0]
        w_scale = np.broadcast_to(w_scale.astype(np.float64).reshape(-1), (co,)) if w_scale.size in (1, co) \
            else _fail(core, f"weight scale has {w_scale.size} values for {co} output channels")
        bias_name = core.input[2] if len(core.input) > 2 and core.input[2] else None
        if kind == "MatMul":
            bias_name = self.matmul_bias(core)
        if bias_name:
            b, b_scale = self.constant(bias_name, np.int32, core)
            b = np.broadcast_to(b.reshape(-1), (co,)).astype(np.float64)
            want = np.float64(x.scale) * w_scale
            b_scale = np.broadcast_to(b_scale.astype(np.float64).reshape(-1), (co,))
            if not np.allclose(b_scale, want, rtol=1e-5):
                b = np.round(b * b_scale / want)  # re-express at s_x * s_w
            bias = b.astype(np.int64)
        else:
            bias = np.zeros(co, np.int64)
        real = np.float64(x.scale) * w_scale / (np.float64(out.scale) * length)
        m_pos, n_pos = quantize_multipliers(real)
        alpha = None
        if act is not None:
            alpha = 0.0 if act.op_type == "Relu" else float(self.attr(act, "alpha", 0.01))
        if alpha is None:
            m_neg, n_neg = m_pos, n_pos
        elif alpha == 0.0:  # Relu: a zero multiplier for negative accumulators
            m_neg, n_neg = np.zeros_like(m_pos), np.ones_like(n_pos)
        else:
            m_neg, n_neg = quantize_multipliers(real * alpha)
        params = dict(bias=(bias * length).astype(np.int32), m_pos=m_pos, n_pos=n_pos, m_neg=m_neg, n_neg=n_neg)
        name = self.op_name(core)
        if gap is not None or kind == "Gemm" or (kind == "MatMul" and rows == 1):
            params["w"] = w.reshape(co, -1).astype(np.int8)
            op = Op("dense", name, [src], [out.name], attrs, params, alpha)
        elif kind == "MatMul":
            params["w"] = w.astype(np.int8)
            attrs["rows"] = rows
            op = Op("matmul", name, [src], [out.name], attrs, params, alpha)
        else:
            pads = self.attr(core, "pads", [0, 0])
            attrs.update(stride=int(self.attr(core, "strides", [1])[0]), pad=(int(pads[0]), int(pads[1])))
            if kind == "ConvTranspose":
                if self.attr(core, "output_shape") is not None:
                    _fail(core, "output_shape is not supported; use pads and output_padding")
                attrs["output_padding"] = int(self.attr(core, "output_padding", [0])[0])
            params["w"] = w.astype(np.int8)
            op = Op("conv_transpose1d" if kind == "ConvTranspose" else "conv1d", name, [src], [out.name],
                    attrs, params, alpha)
        self.ops.append(op)

    def matmul_bias(self, core) -> str | None:
        """torch writes Linear on a 3-D input as MatMul then Add of the bias: fuse that Add."""
        return None

    def pool(self, core, out: TensorInfo):
        kind = core.op_type
        x = self.activation(core.input[0], core)
        name = self.op_name(core)
        if len(x.shape) != 2:
            _fail(core, f"{kind} over {x.shape}: only (C, L) inputs are supported")
        c, length = x.shape
        if kind in ("ReduceMean", "ReduceSum", "ReduceMax"):
            axes = self.attr(core, "axes")
            if axes is None and len(core.input) > 1 and core.input[1]:
                axes = [int(v) for v in np.asarray(self.const_value(core.input[1], core)).reshape(-1)]
            if axes is None or sorted(a % 3 for a in axes) != [2]:
                _fail(core, f"{kind} is supported over the time axis only (axes=[-1]), got axes={axes}")
            kind = {"ReduceMean": "GlobalAveragePool", "ReduceMax": "GlobalMaxPool", "ReduceSum": "sum"}[kind]
        if kind in ("GlobalAveragePool", "sum"):
            mult = x.scale / out.scale / (length if kind == "GlobalAveragePool" else 1)
            m, n = quantize_multiplier(mult)
            self.ops.append(Op("mean", name, [x.name], [out.name],
                               attrs={"x_zp": x.zero_point, "y_zp": out.zero_point, "m": m, "n": n,
                                      "length": length}))
            return
        if kind == "GlobalMaxPool":
            kernel, stride, pads = length, length, (0, 0)
        else:
            kernel = int(self.attr(core, "kernel_shape")[0])
            stride = int(self.attr(core, "strides", [1])[0])
            p = self.attr(core, "pads", [0, 0])
            pads = (int(p[0]), int(p[1]))
            if self.attr(core, "ceil_mode", 0):
                _fail(core, "ceil_mode=1 is not supported")
            if any(d != 1 for d in self.attr(core, "dilations", [1])):
                _fail(core, "dilated pooling is not supported")
            if self.attr(core, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                _fail(core, "auto_pad is not supported; export with explicit pads")
        attrs = {"kernel": kernel, "stride": stride, "pad": pads, "x_zp": x.zero_point, "y_zp": out.zero_point}
        if kind in ("MaxPool", "GlobalMaxPool"):
            if not (np.isclose(x.scale, out.scale, rtol=1e-6) and x.zero_point == out.zero_point):
                m, n = quantize_multiplier(x.scale / out.scale)
                attrs.update(m=m, n=n)
            self.ops.append(Op("maxpool", name, [x.name], [out.name], attrs=attrs))
            return
        count_pad = int(self.attr(core, "count_include_pad", 0))
        attrs["count_include_pad"] = count_pad
        from ..ops import avgpool
        m, n = avgpool.multipliers(x.scale, out.scale, kernel)
        self.ops.append(Op("avgpool", name, [x.name], [out.name], attrs=attrs, params={"m": m, "n": n}))

    def concat(self, core, out: TensorInfo):
        ins = [self.activation(i, core) for i in core.input]
        rank = len(out.shape) + 1
        axis = int(self.attr(core, "axis", 1)) % rank
        if axis == 0:
            _fail(core, "Concat over the batch axis is not supported")
        for t in ins:
            if len(t.shape) != len(out.shape):
                _fail(core, f"Concat inputs of different ranks: {[t.shape for t in ins]}")
        ms, ns = [], []
        for t in ins:
            same = np.isclose(t.scale, out.scale, rtol=1e-6)
            m, n = (0, 0) if same else quantize_multiplier(t.scale / out.scale)
            ms.append(m)
            ns.append(n)
        self.ops.append(Op("concat", self.op_name(core), [t.name for t in ins], [out.name],
                           attrs={"axis": axis - 1, "x_zps": tuple(t.zero_point for t in ins),
                                  "y_zp": out.zero_point, "ms": tuple(ms), "ns": tuple(ns)}))

    def softmax(self, core, out: TensorInfo):
        x = self.activation(core.input[0], core)
        rank = len(x.shape) + 1
        axis = int(self.attr(core, "axis", -1)) % rank
        if axis != rank - 1:
            _fail(core, f"Softmax is supported over the last axis only, got axis={self.attr(core, 'axis', -1)}")
        from ..ops import softmax
        params, attrs = softmax.params(x, out, f"{core.op_type} node {_node_name(core)!r}")
        self.ops.append(Op("softmax", self.op_name(core), [x.name], [out.name], attrs=attrs, params=params))


def _table(x: TensorInfo, out: TensorInfo, fn) -> np.ndarray:
    """The 256-entry table of y = Q_out(fn(DQ_x(q))) (rounding half to even, as QuantizeLinear)."""
    real = np.float64(x.scale) * (np.arange(-128, 128, dtype=np.float64) - x.zero_point)
    y = np.rint(fn(real) / np.float64(out.scale)) + out.zero_point
    return np.clip(y, -128, 127).astype(np.int8)


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
        if node.op_type not in SUPPORTED_OPS and node.op_type != "Constant":
            _fail(node, "unsupported op")
    r = _Reader(model)
    r.graph_input_of = {}
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
            r.add_tensor(vi.name, "int8", scale, zp, r.shape(vi.name, dq))
            inputs.append(vi.name)
        else:
            readers = r.readers.get(vi.name, [])
            q = [n for n in readers if n.op_type == "QuantizeLinear"]
            other = [n for n in readers if n.op_type != "QuantizeLinear"]
            if other:
                _fail(other[0], f"reads the float model input {vi.name!r} directly; every input must go "
                                f"through one QuantizeLinear first (quantize the model with e.g. quantize_static)")
            if len(q) != 1:
                raise UnsupportedModelError(f"float input {vi.name!r} must go into exactly one QuantizeLinear, "
                                            f"it goes into {len(q)}")
            inputs.append(q[0].output[0])
    if not inputs:
        raise UnsupportedModelError("the model has no input")
    for node in g.node:
        if node.op_type == "QuantizeLinear":
            r.quantize(node)
        elif node.op_type == "DequantizeLinear":
            r.dequantize(node)
        elif node.op_type in LAYOUT_OPS:
            r.layout(node)
    outputs, api_names = [], {}
    for vi in g.output:
        name = vi.name
        node = r.producer.get(name)
        if name in r.ints:
            name = r.ints[name]
        elif node is not None and node.op_type == "DequantizeLinear":
            name = node.input[0]
        if name not in r.tensors or r.tensors[name].dtype != "int8":
            where = f"{node.op_type} node {_node_name(node)!r}" if node is not None else "the graph"
            raise UnsupportedModelError(f"output {vi.name!r} (from {where}) is not quantized: every output must "
                                        f"be int8 from a QuantizeLinear (quantize the model's outputs too)")
        outputs.append(name)
        api_names[name] = vi.name
    meta = dict(props)
    graph = IntGraph(g.name or "model", inputs, outputs, r.tensors, r.ops, meta=meta, views=dict(r.views),
                     api_names=api_names)
    for vi in g.input:
        if vi.name not in r.inits:
            graph.api_names.setdefault(r.graph_input_of.get(vi.name, vi.name), vi.name)
    _check_used(graph, r)
    return graph


def _check_used(graph: IntGraph, r: _Reader) -> None:
    """Every float op of the ONNX graph must have become part of an integer op."""
    produced = {t for op in graph.ops for t in op.outputs} | set(graph.inputs) | set(graph.views)
    for t in graph.outputs:
        if graph.base(t) not in produced and t not in produced:
            raise UnsupportedModelError(f"output {t!r} is computed by no integer op")

"""Export a QAT-trained ACDAE as an int8 ONNX QDQ model (batch 1) plus its sidecar.

Graph conventions (what `onnx_import` reads back, and what onnxruntime runs):
- input `input` int8 (1, C, W) and outputs `denoised` int8 (1, C, W), `logits` int8 (1, 2);
- every activation is QuantizeLinear -> DequantizeLinear with its frozen (scale, zero point);
- weights are int8 initializers behind a per-channel DequantizeLinear, biases int32 at
  scale s_in * s_w (zero point 0);
- Conv/ConvTranspose/Gemm -> [LeakyRelu] -> QuantizeLinear; GlobalAveragePool feeds its
  consumer (a 1x1 Conv or Flatten+Gemm) in float, which the integer model keeps in int32.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from ..model.acdae import ACDAE, ECA, QConv, QDense
from ..model.fakequant import ActQuant, quantize_bias, quantize_weight
from ..ir.format import FORMAT_NAME, FORMAT_VERSION

OPSET = 17


class _Builder:
    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, output, name=None, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=name or output, **attrs))
        return output

    def qdq(self, x_f: str, q: ActQuant, name: str, output_name: str | None = None) -> tuple[str, str]:
        """Quantize a float tensor with q's frozen params; returns (int8 name, dequantized name)."""
        scale, zp = q.qparams()
        s = self.const(f"{name}_scale", np.float32(scale.item()))
        z = self.const(f"{name}_zp", np.int8(zp.item()))
        xq = self.node("QuantizeLinear", [x_f, s, z], output_name or f"{name}_q", name=f"{name}_quant")
        return xq, self.node("DequantizeLinear", [xq, s, z], f"{name}_dq", name=f"{name}_dequant")

    def weight(self, name, w_q: np.ndarray, scale: np.ndarray, axis: int) -> str:
        self.const(f"{name}_q", w_q)
        self.const(f"{name}_scale", scale.astype(np.float32))
        self.const(f"{name}_zp", np.zeros(scale.shape, np.int8))
        return self.node("DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zp"], f"{name}_dq",
                         axis=axis)

    def bias(self, name, b: torch.Tensor, in_q: ActQuant, w_scale: torch.Tensor) -> str:
        b_q, b_scale = quantize_bias(b, in_q.qparams()[0], w_scale)
        b_scale = b_scale.numpy().astype(np.float32)
        self.const(f"{name}_q", b_q.numpy().astype(np.int32))
        self.const(f"{name}_scale", b_scale)
        self.const(f"{name}_zp", np.zeros(b_scale.shape, np.int32))
        return self.node("DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zp"], f"{name}_dq",
                         axis=0)


def _in_scale(q: ActQuant) -> float:
    return float(q.qparams()[0].item())


def _conv(g: _Builder, name: str, layer: QConv, x_dq: str, in_q: ActQuant, out_name=None):
    c = layer.conv
    w_q, w_s = quantize_weight(c.weight, layer.w_axis)
    w = g.weight(f"{name}_w", w_q.numpy(), w_s.numpy(), layer.w_axis)
    b = g.bias(f"{name}_b", c.bias, in_q, w_s)
    k = c.kernel_size[0]
    attrs = dict(kernel_shape=[k], strides=[c.stride[0]], pads=[c.padding[0], c.padding[0]])
    if layer.transposed:
        attrs["output_padding"] = [c.output_padding[0]]
    y = g.node("ConvTranspose" if layer.transposed else "Conv", [x_dq, w, b], f"{name}_f", name=name, **attrs)
    if layer.leaky is not None:
        y = g.node("LeakyRelu", [y], f"{name}_act", alpha=float(layer.leaky))
    return g.qdq(y, layer.oq, name, out_name)


def _dense(g: _Builder, name: str, layer: QDense, x_f: str, in_q: ActQuant, out_name=None):
    w_q, w_s = quantize_weight(layer.fc.weight, 0)
    w = g.weight(f"{name}_w", w_q.numpy(), w_s.numpy(), 0)
    b = g.bias(f"{name}_b", layer.fc.bias, in_q, w_s)
    y = g.node("Gemm", [x_f, w, b], f"{name}_f", name=name, transB=1)
    if layer.leaky is not None:
        y = g.node("LeakyRelu", [y], f"{name}_act", alpha=float(layer.leaky))
    return g.qdq(y, layer.oq, name, out_name)


def _eca(g: _Builder, name: str, eca: ECA, x_dq: str):
    taps_q, w_s = quantize_weight(eca.weight[None], 0)  # one scale for the k taps
    band = eca.band_matrix(taps_q[0].to(torch.int32)).to(torch.int8).numpy()
    scale = np.full(eca.channels, w_s.item(), np.float32)
    w = g.weight(f"{name}_w", band[:, :, None], scale, 0)
    pooled = g.node("GlobalAveragePool", [x_dq], f"{name}_pool")
    pre = g.node("Conv", [pooled, w], f"{name}_f", name=name, kernel_shape=[1])
    _, pre_dq = g.qdq(pre, eca.pre_q, f"{name}_pre")
    gate = g.node("Sigmoid", [pre_dq], f"{name}_sigmoid_f", name=f"{name}_sigmoid")
    _, gate_dq = g.qdq(gate, eca.gate_q, f"{name}_gate")
    y = g.node("Mul", [x_dq, gate_dq], f"{name}_scale_f", name=f"{name}_scale")
    return g.qdq(y, eca.out_q, f"{name}_out")


def build_onnx(model: ACDAE, name: str = "acdae") -> onnx.ModelProto:
    model = model.eval()
    cfg = model.config
    g = _Builder()
    s_in = g.const("input_scale", np.float32(_in_scale(model.in_q)))
    z_in = g.const("input_zp", np.int8(0))
    h = g.node("DequantizeLinear", ["input", s_in, z_in], "input_dq", name="input_dequant")
    q = model.in_q
    skips = []
    for i, (conv, eca) in enumerate(zip(model.enc, model.eca)):
        _, h = _conv(g, f"enc{i + 1}", conv, h, q)
        q = conv.oq
        for j, r in enumerate(model.enc_refine[i]):
            _, h = _conv(g, f"enc{i + 1}_r{j + 1}", r, h, q)
            q = r.oq
        _, h = _eca(g, f"enc{i + 1}_eca", eca, h)
        q = eca.out_q
        skips.append(h)
    pooled = g.node("GlobalAveragePool", [h], "head_pool")
    flat = g.node("Flatten", [pooled], "head_flat", axis=1)
    _, f1 = _dense(g, "fc1", model.fc1, flat, q)
    _dense(g, "fc2", model.fc2, f1, model.fc1.oq, out_name="logits")
    x_dq = "input_dq"
    for i in reversed(range(len(model.dec))):
        last = i == 0
        out_name = "denoised" if last and not cfg.residual else None
        hq, h = _conv(g, f"dec{i + 1}", model.dec[i], h, q, out_name=out_name)
        q = model.dec[i].oq
        if not last:
            s = g.node("Add", [h, skips[i - 1]], f"dec{i + 1}_skip_f", name=f"dec{i + 1}_skip")
            _, h = g.qdq(s, model.skip_q[i - 1], f"dec{i + 1}_skip")
            q = model.skip_q[i - 1]
        for j, r in enumerate(model.dec_refine[i]):
            _, h = _conv(g, f"dec{i + 1}_r{j + 1}", r, h, q)
            q = r.oq
    if cfg.residual:
        s = g.node("Add", [h, x_dq], "residual_f", name="residual")
        g.qdq(s, model.out_q, "residual", "denoised")
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.INT8, [1, cfg.in_channels, cfg.window])],
        [helper.make_tensor_value_info("denoised", TensorProto.INT8, [1, cfg.in_channels, cfg.window]),
         helper.make_tensor_value_info("logits", TensorProto.INT8, [1, cfg.n_classes])],
        initializer=g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgekit")
    m.ir_version = 8
    helper.set_model_props(m, {"edgekit_format": FORMAT_NAME, "edgekit_format_version": str(FORMAT_VERSION),
                               "edgekit_config": json.dumps(cfg.to_dict())})
    onnx.checker.check_model(m, full_check=True)
    return m


def export_model(model: ACDAE, out_dir: str | Path, name: str = "acdae", extra: dict | None = None) -> Path:
    """Write out_dir/model.onnx and out_dir/model.json (the versioned sidecar); returns the ONNX path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = build_onnx(model, name)
    path = out / "model.onnx"
    data = m.SerializeToString()
    path.write_bytes(data)
    sidecar = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": name,
        "task": "ecg",   # run.py scores ECG denoising and AF for this task; validate.py takes any model
        "onnx": "model.onnx",
        "onnx_sha256": hashlib.sha256(data).hexdigest(),
        "config": model.config.to_dict(),
        "input": {"scale": _in_scale(model.in_q), "zero_point": 0,
                  "normalization": "edgekit.data.scaling.normalize (per-lead mean removal, power-of-two shift)"},
        "outputs": {"denoised": "int8 (1, C, W), same units as the input after dequantization",
                    "logits": "int8 (1, 2): [non-AF, AF]"},
        "classes": ["non-AF", "AF"],
        "rounding": "half_up",
        **(extra or {}),
    }
    (out / "model.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return path

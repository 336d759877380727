"""Hand-written fake quantization for QAT (torch.ao's eager QAT skips Conv1d/ConvTranspose1d).

Weights: per-channel symmetric int8, |q| <= 127. Activations: per-tensor asymmetric int8
with EMA ranges that are frozen before the end of training. Biases: int32 at scale
s_in * s_w. Every quantizer uses torch's fake_quantize ops (straight-through gradients).
"""
from __future__ import annotations

import torch
from torch import nn


class ActQuant(nn.Module):
    """Per-tensor asymmetric int8 fake quantization with an EMA range (or a fixed one)."""

    def __init__(self, momentum: float = 0.02, fixed: tuple[float, int] | None = None):
        super().__init__()
        self.momentum = momentum
        self.fixed = fixed
        self.enabled = False  # float pre-training: identity
        self.frozen = fixed is not None
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))
        self.register_buffer("seen", torch.tensor(False))

    def observe(self, x: torch.Tensor) -> None:
        lo, hi = x.detach().min(), x.detach().max()
        if not bool(self.seen):
            self.lo.copy_(lo), self.hi.copy_(hi), self.seen.fill_(True)
        else:
            self.lo.lerp_(lo, self.momentum), self.hi.lerp_(hi, self.momentum)

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale float32, zero_point int32) as the exported model and the integer reference see them."""
        if self.fixed is not None:
            return torch.tensor(self.fixed[0], dtype=torch.float32), torch.tensor(self.fixed[1], dtype=torch.int32)
        lo, hi = torch.clamp(self.lo, max=0.0), torch.clamp(self.hi, min=0.0)
        scale = torch.clamp((hi - lo) / 255.0, min=1e-6).float()
        zp = torch.clamp(torch.round(-128.0 - lo / scale), -128, 127).to(torch.int32)
        return scale, zp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        if self.training and not self.frozen:
            self.observe(x)
        scale, zp = self.qparams()
        return torch.fake_quantize_per_tensor_affine(x, scale, zp, -128, 127)


def weight_scale(w: torch.Tensor, axis: int) -> torch.Tensor:
    dims = [d for d in range(w.dim()) if d != axis]
    amax = w.detach().abs().amax(dim=dims)
    return torch.clamp(amax / 127.0, min=1e-8).float()


def fake_quant_weight(w: torch.Tensor, axis: int) -> torch.Tensor:
    scale = weight_scale(w, axis)
    zp = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale, zp, axis, -127, 127)


def fake_quant_bias(b: torch.Tensor, bias_scale: torch.Tensor) -> torch.Tensor:
    q = torch.round(b / bias_scale) * bias_scale
    return b + (q - b).detach()


def quantize_weight(w: torch.Tensor, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer weights and their per-channel scales, exactly as fake_quant_weight rounds them."""
    scale = weight_scale(w, axis)
    shape = [1] * w.dim()
    shape[axis] = -1
    q = torch.clamp(torch.round(w.detach() / scale.reshape(shape)), -127, 127).to(torch.int8)
    return q, scale


def set_qat(model: nn.Module, enabled: bool) -> None:
    model.qat = enabled
    for m in model.modules():
        if isinstance(m, ActQuant):
            m.enabled = enabled


def freeze_ranges(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, ActQuant):
            m.frozen = True

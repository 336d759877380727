"""Hand-written fake quantization for QAT (torch.ao's eager QAT skips Conv1d/ConvTranspose1d).

Weights: per-channel symmetric int8, |q| <= 127. Activations: per-tensor asymmetric int8
with EMA ranges (or, with `learn_ranges`, ranges learned by gradient as in LSQ) that are frozen
before the end of training. Biases: int32 at scale
s_in * s_w. Gradients are straight-through (zero where an activation saturates).

The forward pass rounds exactly as the integer reference does (`ir.arithmetic`):
activations half up (torch's fake_quantize ops round half to even and multiply by a
float32 1/scale), and the integer weights, biases and scales are computed once, in float32,
by the same functions the exporter calls. Run in float64 (`model.double()`), a QAT model
then differs from the integer model only where an accumulator lies within ~1e-12 of a
rounding boundary; in float32 the accumulation error (~1e-5 LSB) flips a few in 10^4.
"""
from __future__ import annotations

import torch
from torch import nn


def _ste(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """y in the forward pass; the gradient of x (times mask) in the backward pass."""
    g = x if mask is None else x * mask
    return y.detach() + (g - g.detach())


class ActQuant(nn.Module):
    """Per-tensor asymmetric int8 fake quantization with an EMA range, a learned one (`learn`), or a
    fixed one. However the range is set, the forward value is the same function of (lo, hi)."""

    def __init__(self, momentum: float = 0.02, fixed: tuple[float, int] | None = None):
        super().__init__()
        self.momentum = momentum
        self.fixed = fixed
        self.enabled = False  # float pre-training: identity
        self.frozen = fixed is not None
        self.learn = False  # ranges learned by gradient (learn_ranges) instead of tracked by EMA
        # buffers, not parameters (model.parameters() stays the weights); learn_ranges() makes
        # them require grad and range_tensors() hands them to the optimizer
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))
        self.register_buffer("seen", torch.tensor(False))

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        lo, hi = x.detach().min(), x.detach().max()
        if not bool(self.seen):
            self.lo.copy_(lo), self.hi.copy_(hi), self.seen.fill_(True)
        else:
            self.lo.lerp_(lo.to(self.lo.dtype), self.momentum), self.hi.lerp_(hi.to(self.hi.dtype), self.momentum)

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale float32, zero_point int32) as the exported model and the integer reference see them.
        Computed in float32 whatever the module's dtype, so a float64 copy has the same scales."""
        if self.fixed is not None:
            return torch.tensor(self.fixed[0], dtype=torch.float32), torch.tensor(self.fixed[1], dtype=torch.int32)
        scale, zp = self._scale_and_real_zero_point()
        return scale, torch.clamp(torch.round(zp), -128, 127).to(torch.int32)

    def _scale_and_real_zero_point(self) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 scale and the zero point before rounding, differentiable in lo and hi."""
        lo, hi = torch.clamp(self.lo.float(), max=0.0), torch.clamp(self.hi.float(), min=0.0)
        scale = torch.clamp((hi - lo) / 255.0, min=1e-6)
        return scale, -128.0 - lo / scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        learning = self.learn and self.training and not self.frozen
        if self.training and not self.frozen and not self.learn:
            self.observe(x)
        scale, zp = self.qparams()
        s, z = scale.detach().to(x.dtype), zp.to(x.dtype)
        q = torch.floor(x.detach() / s + 0.5) + z  # half up, as the integer requantize
        inside = (q >= -128) & (q <= 127)
        y = (q.clamp(-128, 127) - z) * s
        if not learning:
            return _ste(x, y, inside)
        return y + _grad_only(self._lsq(x, z))  # the forward value stays y, bit for bit

    def _lsq(self, x: torch.Tensor, zp: torch.Tensor) -> torch.Tensor:
        """The fake quantizer as a function of x, lo and hi (rounding straight-through): its
        gradient moves the range to where the loss wants it, clipping included (LSQ). Only its
        gradient is used: in float its value can differ from the exact one by rounding error."""
        scale, real_zp = (t.to(x.dtype) for t in self._scale_and_real_zero_point())
        z = real_zp + (zp - real_zp).detach()
        v = x / scale
        v = v + (torch.floor(v.detach() + 0.5) - v.detach())
        return (torch.clamp(v + z, -128, 127) - z) * scale


def _grad_only(t: torch.Tensor) -> torch.Tensor:
    """Zero in the forward pass, t's gradient in the backward pass."""
    return t - t.detach()


def _channel_shape(w: torch.Tensor, axis: int) -> list[int]:
    shape = [1] * w.dim()
    shape[axis] = -1
    return shape


def weight_scale(w: torch.Tensor, axis: int) -> torch.Tensor:
    """Per-channel float32 scale: max |w| / 127 (float32 arithmetic whatever w's dtype)."""
    dims = [d for d in range(w.dim()) if d != axis]
    amax = w.detach().float().abs().amax(dim=dims)
    return torch.clamp(amax / 127.0, min=1e-8)


def quantize_weight(w: torch.Tensor, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 weights, float32 per-channel scales): the exported integers."""
    scale = weight_scale(w, axis)
    q = torch.round(w.detach().float() / scale.reshape(_channel_shape(w, axis)))
    return torch.clamp(q, -127, 127).to(torch.int8), scale


def fake_quant_weight(w: torch.Tensor, axis: int) -> torch.Tensor:
    q, scale = quantize_weight(w, axis)
    return _ste(w, q.to(w.dtype) * scale.to(w.dtype).reshape(_channel_shape(w, axis)))


def quantize_bias(b: torch.Tensor, in_scale: torch.Tensor, w_scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int32 biases, their float32 scales s_in * s_w): the exported integers."""
    b_scale = in_scale.float() * w_scale.float()
    return torch.round(b.detach().float() / b_scale).to(torch.int32), b_scale


def fake_quant_bias(b: torch.Tensor, in_scale: torch.Tensor, w_scale: torch.Tensor) -> torch.Tensor:
    """The integer bias at the accumulator's exact scale s_in * s_w (the integer model adds
    it to the int32 accumulator, so its real scale is the product, not the float32 rounding)."""
    q, _ = quantize_bias(b, in_scale, w_scale)
    return _ste(b, q.to(b.dtype) * (in_scale.to(b.dtype) * w_scale.to(b.dtype)))


def set_qat(model: nn.Module, enabled: bool) -> None:
    model.qat = enabled
    for m in model.modules():
        if isinstance(m, ActQuant):
            m.enabled = enabled


def learn_ranges(model: nn.Module, only: tuple[str, ...] | None = None) -> None:
    """From now on the activation ranges (not fixed ones) are trained with the weights; with `only`,
    just those under the named top-level submodules (the others keep their EMA ranges)."""
    for name, m in model.named_modules():
        if only is not None and name.split(".")[0] not in only:
            continue
        if isinstance(m, ActQuant) and m.fixed is None:
            m.learn = True
            m.lo.requires_grad_(True), m.hi.requires_grad_(True)


def range_tensors(model: nn.Module) -> list[torch.Tensor]:
    """The learned activation ranges (lo, hi of every learning ActQuant), for the optimizer."""
    return [t for m in model.modules() if isinstance(m, ActQuant) and m.learn for t in (m.lo, m.hi)]


def freeze_ranges(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, ActQuant):
            m.frozen = True
            m.lo.requires_grad_(False), m.hi.requires_grad_(False)

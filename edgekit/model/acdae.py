"""ACDAE: Attention-based Convolutional Denoising AutoEncoder with an AF classifier head.

encoder: per level a strided Conv1d + LeakyReLU, then Efficient Channel Attention (ECA)
decoder: per level a ConvTranspose1d + LeakyReLU, plus the encoder's output of the same
         length (additive skip); the last level is linear and, with `residual`, adds the
         input itself (the outermost skip), so the decoder learns the noise to take away
head:    global average pool of the bottleneck -> Linear + LeakyReLU -> Linear -> 2 logits

Every activation passes an ActQuant, every weight a per-channel fake quantizer; with QAT
off (float pre-training) they are identities. LeakyReLU sits between the conv and its
output quantizer, so the integer model folds it into one requantize.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import INPUT_SCALE, ACDAEConfig  # noqa: F401  (re-exported; torch-free)
from .fakequant import ActQuant, fake_quant_bias, fake_quant_weight, weight_scale

GATE_QPARAMS = (1.0 / 256.0, -128)  # sigmoid output in [0, 1) with 256 steps


def transpose_padding(kernel: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) so that ConvTranspose1d exactly multiplies the length by stride."""
    pad = max(0, -(-(kernel - stride) // 2))
    out_pad = 2 * pad + stride - kernel
    if not 0 <= out_pad < stride:
        raise ValueError(f"no padding makes kernel {kernel} / stride {stride} upsample exactly")
    return pad, out_pad


class QConv(nn.Module):
    """Conv1d or ConvTranspose1d with fake-quant weights/bias, optional LeakyReLU, output quantizer."""

    def __init__(self, cin, cout, kernel, stride, transposed=False, leaky=None):
        super().__init__()
        self.transposed, self.leaky = transposed, leaky
        if transposed:
            pad, out_pad = transpose_padding(kernel, stride)
            self.conv = nn.ConvTranspose1d(cin, cout, kernel, stride, pad, out_pad)
        else:
            self.conv = nn.Conv1d(cin, cout, kernel, stride, (kernel - 1) // 2)
        self.oq = ActQuant()
        self.w_axis = 1 if transposed else 0

    def forward(self, x: torch.Tensor, in_q: ActQuant) -> torch.Tensor:
        w, b = self.conv.weight, self.conv.bias
        if in_q.enabled:
            b = fake_quant_bias(b, in_q.qparams()[0], weight_scale(w, self.w_axis))
            w = fake_quant_weight(w, self.w_axis)
        c = self.conv
        if self.transposed:
            y = F.conv_transpose1d(x, w, b, c.stride, c.padding, c.output_padding)
        else:
            y = F.conv1d(x, w, b, c.stride, c.padding)
        if self.leaky is not None:
            y = F.leaky_relu(y, self.leaky)
        return self.oq(y)


class QDense(nn.Module):
    """Linear on a (pooled) vector with fake-quant weights/bias, optional LeakyReLU."""

    def __init__(self, cin, cout, leaky=None, bias=True):
        super().__init__()
        self.fc = nn.Linear(cin, cout, bias=bias)
        self.leaky = leaky
        self.oq = ActQuant()

    def forward(self, x: torch.Tensor, in_q: ActQuant) -> torch.Tensor:
        w, b = self.fc.weight, self.fc.bias
        if in_q.enabled:
            if b is not None:
                b = fake_quant_bias(b, in_q.qparams()[0], weight_scale(w, 0))
            w = fake_quant_weight(w, 0)
        y = F.linear(x, w, b)
        if self.leaky is not None:
            y = F.leaky_relu(y, self.leaky)
        return self.oq(y)


class ECA(nn.Module):
    """Efficient Channel Attention: mean over time -> Conv1d(k) across channels -> sigmoid -> scale.

    The k-tap conv across channels is the same as a C x C banded matrix; the exported graph
    uses that matrix as a 1x1 conv on the pooled vector (one per-tensor weight scale)."""

    def __init__(self, channels: int, k: int = 3):
        super().__init__()
        self.k, self.channels = k, channels
        self.weight = nn.Parameter(torch.randn(k) * 0.3)
        idx = torch.arange(channels)
        tap = idx[None, :] - idx[:, None] + k // 2  # W[o, c] = w[c - o + k//2]
        self.register_buffer("tap", tap.clamp(0, k - 1), persistent=False)
        self.register_buffer("band", (tap >= 0) & (tap < k), persistent=False)
        self.pre_q = ActQuant()
        self.gate_q = ActQuant(fixed=GATE_QPARAMS)
        self.out_q = ActQuant()

    def band_matrix(self, w: torch.Tensor) -> torch.Tensor:
        return torch.where(self.band, w[self.tap], torch.zeros((), dtype=w.dtype))

    def quantized_taps(self) -> torch.Tensor:
        w = self.weight
        if self.pre_q.enabled:
            w = fake_quant_weight(w[None], 0)[0]  # one scale for the k taps
        return w

    def forward(self, x: torch.Tensor, in_q: ActQuant) -> torch.Tensor:
        pooled = x.mean(dim=2)  # (N, C); the integer model keeps the sum in int32
        pre = self.pre_q(pooled @ self.band_matrix(self.quantized_taps()).T)
        gate = self.gate_q(torch.sigmoid(pre))
        return self.out_q(x * gate[:, :, None])


class ACDAE(nn.Module):
    # the modules after the bottleneck: train.py can learn just their activation ranges
    DECODER = ("dec", "dec_refine", "skip_q", "out_q")

    def __init__(self, config: ACDAEConfig | None = None):
        super().__init__()
        cfg = self.config = config or ACDAEConfig()
        cfg.check()
        a = cfg.leaky_slope
        self.qat = False
        self.in_q = ActQuant(fixed=(INPUT_SCALE, 0))
        chans = (cfg.in_channels,) + tuple(cfg.widths)
        self.enc = nn.ModuleList(QConv(chans[i], chans[i + 1], cfg.kernel, cfg.strides[i], leaky=a)
                                 for i in range(len(cfg.widths)))
        self.eca = nn.ModuleList(ECA(c, cfg.eca_kernel) for c in cfg.widths)
        self.dec = nn.ModuleList(QConv(chans[i + 1], chans[i], cfg.dec_kernel, cfg.strides[i],
                                       transposed=True, leaky=a if i > 0 else None)
                                 for i in range(len(cfg.widths)))
        # stride-1 convs: enc_refine[i] after enc[i] (before its ECA); dec_refine[i] after level
        # i's skip add (levels > 0; the last decoder level stays one linear ConvTranspose)
        self.enc_refine = nn.ModuleList(
            nn.ModuleList(QConv(c, c, cfg.kernel, 1, leaky=a) for _ in range(cfg.refine)) for c in cfg.widths)
        self.dec_refine = nn.ModuleList(
            nn.ModuleList(QConv(c, c, cfg.kernel, 1, leaky=a) for _ in range(cfg.refine if i > 0 else 0))
            for i, c in enumerate(chans[:-1]))
        self.skip_q = nn.ModuleList(ActQuant() for _ in cfg.widths[:-1])
        self.out_q = ActQuant() if cfg.residual else None
        self.fc1 = QDense(cfg.widths[-1], cfg.head_hidden, leaky=a)
        self.fc2 = QDense(cfg.head_hidden, cfg.n_classes)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ActQuant, list[torch.Tensor]]:
        """Encoder on the quantized input: (bottleneck, its quantizer, encoder outputs for the skips)."""
        h, q, skips = x, self.in_q, []
        for conv, refine, eca in zip(self.enc, self.enc_refine, self.eca):
            h, q = conv(h, q), conv.oq
            for r in refine:
                h, q = r(h, q), r.oq
            h, q = eca(h, q), eca.out_q
            skips.append(h)
        return h, q, skips

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, C, W) in model units (int8 input / 128). Returns (denoised, logits)."""
        x = self.in_q(x)
        h, q, skips = self.encode(x)
        logits = self.fc2(self.fc1(h.mean(dim=2), q), self.fc1.oq)
        for i in reversed(range(len(self.dec))):
            h = self.dec[i](h, q)
            q = self.dec[i].oq
            if i > 0:
                h = self.skip_q[i - 1](h + skips[i - 1])
                q = self.skip_q[i - 1]
            for r in self.dec_refine[i]:
                h, q = r(h, q), r.oq
        if self.out_q is not None:
            h = self.out_q(h + x)
        return h, logits

    def layer_rows(self) -> list[tuple[str, int, int]]:
        """(layer, parameters, MACs) per layer, in execution order (encoder, head, decoder)."""
        cfg = self.config

        def conv_row(name, layer, length):  # length: the output (Conv1d) or input (ConvTranspose1d)
            c = layer.conv
            return (name, sum(p.numel() for p in c.parameters()),
                    c.in_channels * c.out_channels * c.kernel_size[0] * length)

        rows, lengths, length = [], [], cfg.window
        for i, conv in enumerate(self.enc):
            length //= cfg.strides[i]
            lengths.append(length)
            rows.append(conv_row(f"enc{i + 1}", conv, length))
            rows += [conv_row(f"enc{i + 1}_r{j + 1}", r, length) for j, r in enumerate(self.enc_refine[i])]
            ch = cfg.widths[i]  # pool (ch * length) + the banded ch x ch matrix + the channel scale
            rows.append((f"enc{i + 1}_eca", cfg.eca_kernel, ch * ch + 2 * ch * length))
        for name, fc in (("fc1", self.fc1), ("fc2", self.fc2)):
            rows.append((name, sum(p.numel() for p in fc.parameters()), fc.fc.weight.numel()))
        for i in reversed(range(len(self.dec))):
            rows.append(conv_row(f"dec{i + 1}", self.dec[i], lengths[i]))
            rows += [conv_row(f"dec{i + 1}_r{j + 1}", r, lengths[i] * cfg.strides[i])
                     for j, r in enumerate(self.dec_refine[i])]
        return rows

    def layer_table(self) -> str:
        """Parameters and MACs per layer, with the totals."""
        rows = self.layer_rows()
        lines = [f"{'layer':<12}{'params':>10}{'MACs':>12}"]
        lines += [f"{name:<12}{p:>10,}{m:>12,}" for name, p, m in rows]
        lines.append(f"{'total':<12}{sum(r[1] for r in rows):>10,}{sum(r[2] for r in rows):>12,}")
        return "\n".join(lines)

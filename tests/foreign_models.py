"""Foreign test models, made the way a user of the common tools makes them: a torch module,
exported by torch's legacy ONNX exporter (opset 17, batch 1), quantized by onnxruntime's
`quantize_static` (QDQ format, per-channel int8 weights, int8 activations, MinMax calibration
on a few seeded ECG-like windows). Nothing here is hand-built QDQ.

Each builder is deterministic (seeded weights and calibration data) and cached as an .onnx
under the temp directory, keyed by this file's text and the tool versions, so the tests of a
session and of later sessions export and quantize each model once.

    path = build("beat_cnn")            # -> Path of the quantized model
    x = calibration_inputs("beat_cnn")  # the float inputs calibration saw (dict name -> array)
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

MODELS = ("beat_cnn", "eca", "multi_io", "tcn")
OPSET = 17
CALIBRATION_WINDOWS = 8


def _modules():
    """The torch modules (imported lazily: only the builders need torch)."""
    import torch
    from torch import nn

    class BeatCNN(nn.Module):
        """A 1D CNN beat classifier: 1 x 256 window -> 5 class probabilities."""

        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv1d(1, 8, 7, padding=3), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2),
                nn.Conv1d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                nn.Conv1d(16, 16, 3, padding=1, stride=2), nn.ReLU(), nn.MaxPool1d(2))
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, 32), nn.ReLU(), nn.Linear(32, 5))

        def forward(self, x):
            return torch.softmax(self.head(self.features(x)), dim=-1)

    class ECABlock(nn.Module):
        """Efficient channel attention as torch code writes it: pool over time, transpose the
        channels onto the time axis, a Conv1d across channels, sigmoid, transpose back, scale."""

        def __init__(self, k=3):
            super().__init__()
            self.pool = nn.AdaptiveAvgPool1d(1)
            self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

        def forward(self, x):
            y = self.pool(x)                                   # (N, C, 1)
            y = self.conv(y.transpose(-1, -2)).transpose(-1, -2)
            return x * torch.sigmoid(y)

    class ECANet(nn.Module):
        """Conv -> ReLU -> ECA -> Conv: a small denoiser-like model around the ECA block."""

        def __init__(self):
            super().__init__()
            self.inp = nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU())
            self.eca = ECABlock(3)
            self.out = nn.Conv1d(16, 1, 5, padding=2)

        def forward(self, x):
            return self.out(self.eca(self.inp(x)))

    class MultiIO(nn.Module):
        """Two leads in, three outputs: a denoised lead, class logits and a pooled embedding."""

        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.ReLU())
            self.b = nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.ReLU())
            self.trunk = nn.Sequential(nn.Conv1d(16, 16, 3, padding=1), nn.ReLU())
            self.den = nn.Conv1d(16, 1, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool1d(1)
            self.fc = nn.Linear(16, 4)

        def forward(self, lead1, lead2):
            a, b = self.a(lead1), self.b(lead2)
            h = self.trunk(torch.cat([a, b - a], dim=1))
            emb = self.pool(h).flatten(1)
            return self.den(h), self.fc(emb), emb

    class TCN(nn.Module):
        """A small temporal convolutional network: dilated depthwise + pointwise residual blocks."""

        def __init__(self, ch=12, dilations=(1, 2, 4, 8)):
            super().__init__()
            self.inp = nn.Sequential(nn.Conv1d(1, ch, 3, padding=1), nn.ReLU())
            self.blocks = nn.ModuleList(nn.Sequential(
                nn.Conv1d(ch, ch, 3, padding=d, dilation=d, groups=ch), nn.ReLU(),
                nn.Conv1d(ch, ch, 1), nn.ReLU()) for d in dilations)
            self.mix = nn.Conv1d(ch, ch, 3, padding=2, dilation=2, groups=3)
            self.pool = nn.AdaptiveAvgPool1d(1)
            self.fc = nn.Linear(ch, 3)

        def forward(self, x):
            h = self.inp(x)
            for blk in self.blocks:
                h = h + blk(h)
            h = torch.relu(self.mix(h))
            return self.fc(self.pool(h).flatten(1))

    class LeakyAvg(nn.Module):
        """The 20-line user model: Conv1d -> LeakyReLU -> average pool -> Linear."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(1, 8, 7, padding=3)
            self.act = nn.LeakyReLU(0.1)
            self.pool = nn.AvgPool1d(4)
            self.fc = nn.Linear(8 * 32, 3)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.act(self.conv(x))), 1))

    class TokenMLP(nn.Module):
        """Per-time-step channel mixing: transpose (C, L) -> (L, C), a bias-free Linear (MatMul),
        Clip (ReLU6), transpose back, a max over time (ReduceMax) and a mean (ReduceMean)."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(1, 8, 5, padding=2)
            self.mix = nn.Linear(8, 6, bias=False)

        def forward(self, x):
            h = torch.relu(self.conv(x)).transpose(1, 2)           # (N, L, 8)
            h = torch.nn.functional.relu6(self.mix(h)).transpose(1, 2)  # (N, 6, L)
            return torch.cat([h.amax(-1, keepdim=True), h.mean(-1, keepdim=True)], dim=-1)

    class Conv2dNet(nn.Module):
        """A 2-D convolution: not supported (the error test)."""

        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv1d(8, 8, 3, padding=1)
            self.conv = nn.Conv2d(1, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv1(x).unsqueeze(1))

    return {"beat_cnn": (BeatCNN, {"input": (1, 256)}),
            "leaky_avg": (LeakyAvg, {"input": (1, 128)}),
            "token_mlp": (TokenMLP, {"input": (1, 64)}),
            "conv2d": (Conv2dNet, {"input": (8, 16)}),
            "eca": (ECANet, {"input": (1, 128)}),
            "multi_io": (MultiIO, {"lead1": (1, 128), "lead2": (1, 128)}),
            "tcn": (TCN, {"input": (1, 128)})}


OUTPUT_NAMES = {"beat_cnn": ["probs"], "eca": ["output"], "multi_io": ["denoised", "logits", "embedding"],
                "tcn": ["logits"], "leaky_avg": ["logits"], "token_mlp": ["features"], "conv2d": ["y"]}
EXTRA_MODELS = ("leaky_avg", "token_mlp", "conv2d")


def _ecg_like(rng: np.random.Generator, n: int, shape: tuple) -> np.ndarray:
    """Windows that look a little like ECG: a beat train (narrow Gaussians) plus wander and noise."""
    c, length = shape
    t = np.arange(length)
    out = np.empty((n, c, length), np.float32)
    for i in range(n):
        for ch in range(c):
            period = rng.uniform(60, 110)
            phase = rng.uniform(0, period)
            beats = sum(np.exp(-0.5 * ((t - phase - k * period) / rng.uniform(2, 4)) ** 2)
                        for k in range(-1, int(length / period) + 2))
            wander = 0.2 * np.sin(2 * np.pi * t / rng.uniform(150, 400) + rng.uniform(0, 6.3))
            out[i, ch] = beats * rng.uniform(0.8, 1.5) + wander + 0.05 * rng.standard_normal(length)
    return out


def input_shapes(name: str) -> dict[str, tuple]:
    return dict(_modules()[name][1])


def calibration_inputs(name: str, n: int = CALIBRATION_WINDOWS, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded float inputs (N, C, L) per model input: ECG-like windows, half of them with extra noise."""
    rng = np.random.default_rng(seed)
    shapes = input_shapes(name)
    out = {}
    for k, shape in shapes.items():
        x = _ecg_like(rng, n, shape)
        x[n // 2:] += 0.3 * rng.standard_normal(x[n // 2:].shape).astype(np.float32)
        out[k] = x
    return out


def _cache_dir() -> Path:
    d = Path(os.environ.get("EDGEKIT_FOREIGN_CACHE", Path(tempfile.gettempdir()) / "edgekit-foreign-models"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _key() -> str:
    import onnx
    import onnxruntime
    import torch

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(f"{torch.__version__} {onnx.__version__} {onnxruntime.__version__}".encode())
    return h.hexdigest()[:12]


def export_float(name: str, path: Path) -> None:
    """torch -> float ONNX (legacy exporter, opset 17, batch 1), weights seeded."""
    import torch

    cls, shapes = _modules()[name]
    torch.manual_seed(sum(map(ord, name)))
    model = cls().eval()
    with torch.no_grad():  # give BatchNorm non-trivial statistics, as a trained model has
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    args = tuple(torch.zeros((1,) + tuple(s)) for s in shapes.values())
    torch.onnx.export(model, args, str(path), input_names=list(shapes), output_names=OUTPUT_NAMES[name],
                      opset_version=OPSET, dynamo=False, do_constant_folding=True)


def quantize(float_path: Path, out_path: Path, inputs: dict[str, np.ndarray], keep_activations=False) -> None:
    """onnxruntime quantize_static: QDQ, per-channel int8 weights, int8 activations, MinMax.
    keep_activations: keep Relu/Clip nodes with their own Q/DQ pair (QDQKeepRemovableActivations)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            n = len(next(iter(inputs.values())))
            self.items = iter([{k: v[i:i + 1] for k, v in inputs.items()} for i in range(n)])

        def get_next(self):
            return next(self.items, None)

    quantize_static(str(float_path), str(out_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"QDQKeepRemovableActivations": bool(keep_activations)})


def build(name: str, keep_activations: bool = False) -> Path:
    """The quantized model `name` (one of MODELS or EXTRA_MODELS), built once and cached."""
    if name not in MODELS + EXTRA_MODELS:
        raise KeyError(f"unknown foreign model {name!r}; known: {', '.join(MODELS + EXTRA_MODELS)}")
    out = _cache_dir() / f"{name}{'-keep' if keep_activations else ''}-{_key()}.onnx"
    if out.is_file():
        return out
    tmp = Path(tempfile.mkdtemp(dir=_cache_dir()))
    export_float(name, tmp / "float.onnx")
    quantize(tmp / "float.onnx", tmp / "model.onnx", calibration_inputs(name), keep_activations)
    os.replace(tmp / "model.onnx", out)  # atomic: a parallel test session never reads half a file
    shutil.rmtree(tmp, ignore_errors=True)
    return out

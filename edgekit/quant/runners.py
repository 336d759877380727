"""One interface over the three forms of a trained model: float, QAT fake-quant, integer.

Each runner maps int8 windows (N, C, W) to (denoised in input units (float), logits (float),
int8 outputs or None). Input units = the int8 input's units (1 LSB of the normalized window).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..model.acdae import ACDAE, ACDAEConfig, INPUT_SCALE
from ..model.checkpoint import load_torch_file
from ..model.fakequant import freeze_ranges, set_qat
from ..ir.format import read_sidecar
from ..ir.intmodel import IntModel  # noqa: F401  (re-exported; torch-free)


def load_torch(model_dir: str | Path, which: str) -> ACDAE:
    """which = 'float' (float pre-trained weights) or 'qat' (fine-tuned, fake-quant on).

    The QAT model runs in float64: its rounding decisions then follow the exact accumulator
    (float32 accumulation error alone flips a few outputs in 10^4 by one LSB)."""
    model_dir = Path(model_dir)
    meta = read_sidecar(model_dir / "model.onnx")
    if meta is None:
        raise FileNotFoundError(f"{model_dir} has no model.json: train a model with "
                                f"scripts/train.py --out {model_dir}, or pass --model-dir models/acdae")
    model = ACDAE(ACDAEConfig.from_dict(meta["config"]))
    if which == "qat":
        set_qat(model, True)
        freeze_ranges(model)
    path = model_dir / f"{which}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: scripts/train.py writes float.pt and qat.pt next to model.onnx")
    model.load_state_dict(load_torch_file(path, f"{which} weights"))
    return (model.double() if which == "qat" else model).eval()


@torch.no_grad()
def run_torch(model: ACDAE, x: np.ndarray, batch: int = 512):
    dens, logits, dq, lq = [], [], [], []
    dtype = next(model.parameters()).dtype
    for s in range(0, len(x), batch):
        d, l = model(torch.from_numpy(x[s : s + batch].astype(np.float64) * INPUT_SCALE).to(dtype))
        dens.append(d.numpy() / INPUT_SCALE)
        logits.append(l.numpy())
        if model.qat:
            out_q = model.out_q if model.out_q is not None else model.dec[0].oq
            (ds, dz), (ls, lz) = out_q.qparams(), model.fc2.oq.qparams()
            dq.append(torch.round(d / ds).numpy().astype(np.int64) + int(dz))
            lq.append(torch.round(l / ls).numpy().astype(np.int64) + int(lz))
    ints = (np.concatenate(dq).astype(np.int8), np.concatenate(lq).astype(np.int8)) if model.qat else None
    return np.concatenate(dens), np.concatenate(logits), ints


def run_onnxruntime(onnx_path: str | Path, x: np.ndarray):
    """onnxruntime on the QDQ model (batch 1, one window at a time): int8 (denoised, logits)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    outs = [sess.run(None, {name: x[i : i + 1]}) for i in range(len(x))]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

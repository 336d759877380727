"""Accuracy of a device run: denoising per input SNR and AF detection, from int8 outputs.

The same function scores the device's outputs and the integer reference's outputs; a run is
consistent when both give identical numbers (they must: the outputs are bit-exact).

    s = score(workload, denoised_int8, logits_int8, dequant)
    s["denoise"]["12"]   # metrics.denoise_scores of the windows at 12 dB input SNR
    s["af"]["window"]    # metrics.af_scores, window level (labels < 0, flutter, excluded)
    s["af"]["segment"]   # the same per segment, if the workload streams segments

``dequant(which, q)`` maps an int8 output to real units: ``which`` is "denoised" (-> input
units, the units of ``WindowSet.target``) or "logits".
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import metrics
from .workload import Workload, snr_key


def onnx_dequant(int_model) -> Callable:
    """dequant(which, q) for an ``edgekit.quant.runners.IntModel``."""
    from ..model.config import INPUT_SCALE

    names = {"denoised": int_model.den_name, "logits": int_model.logit_name}

    def dequant(which: str, q: np.ndarray) -> np.ndarray:
        out = int_model.dequant(names[which], np.asarray(q))
        return out / INPUT_SCALE if which == "denoised" else out

    return dequant


def _segment_af(workload: Workload, logits: np.ndarray) -> dict:
    ids, pred = metrics.segment_predictions(logits, workload.segment)
    return metrics.af_scores(workload.segment_label[ids], pred)


def score(workload: Workload, denoised: np.ndarray, logits: np.ndarray, dequant: Callable) -> dict:
    ws = workload.windows
    denoised, logits = np.asarray(denoised), np.asarray(logits)
    if len(denoised) != len(ws) or len(logits) != len(ws):
        raise ValueError(f"{len(denoised)} outputs for {len(ws)} windows")
    den = dequant("denoised", denoised).reshape(ws.target.shape)
    logit_f = dequant("logits", logits).reshape(len(ws), -1)
    keys = np.array(workload.snr_keys)
    denoise = {}
    for key in dict.fromkeys(keys):  # the SNRs in stream order
        sel = keys == key
        denoise[key] = metrics.denoise_scores(ws.target[sel], ws.noisy[sel], den[sel], ws.shift[sel])
    if len(denoise) > 1:
        denoise["all"] = metrics.denoise_scores(ws.target, ws.noisy, den, ws.shift)
    af = {"window": metrics.af_scores(ws.af, np.argmax(logits.reshape(len(ws), -1), axis=1))}
    if workload.segment is not None:
        af["segment"] = _segment_af(workload, logit_f)
    return {"denoise": denoise, "af": af}


__all__ = ["onnx_dequant", "score", "snr_key"]

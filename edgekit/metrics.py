"""Denoising and AF scores, shared by the model evaluation and the device harness.

Signals are (N, leads, W) arrays in the same units (the model's input units: ADC counts
after the per-window normalization). `clean` is the mean-removed clean window. Per window,
both leads are pooled:
    SNR(x) = 10 log10( sum clean^2 / sum (x - clean)^2 )
    snr_imp_db = SNR(denoised) - SNR(noisy input)        (averaged over windows)
    rmse = sqrt(mean (denoised - clean)^2), reported in mV (gain 200 adu/mV, x 2**shift)
    prd  = 100 sqrt( sum (denoised - clean)^2 / sum clean^2 )   (%)

denoise_v2 is the metric as the denoising literature states it, in ADC counts, per window AND lead:
the clean signal, the added noise (noisy input - clean, measured on the noisy ADC signal before
the int8 scaling) and the output error (model output in ADC counts - clean) are each mean-removed
over the window, and
    snr_in  = 10 log10( sum clean_c^2 / sum noise_c^2 ),  snr_out = 10 log10( sum clean_c^2 / sum err_c^2 )
    snr_imp_db = mean over windows and leads of (snr_out - snr_in)
    snr_imp_pooled_db = 10 log10( sum noise_c^2 / sum err_c^2 ), energies summed over all windows and leads
The old pooled-lead figure (denoise_scores) counts input rounding and the integer scaling's mean
shift as noise; denoise_v2 does not.
"""
from __future__ import annotations

import numpy as np

MITDB_GAIN = 200.0  # adu per mV


def _snr_db(clean: np.ndarray, x: np.ndarray) -> np.ndarray:
    num = np.sum(clean.astype(np.float64) ** 2, axis=(1, 2))
    den = np.sum((x.astype(np.float64) - clean) ** 2, axis=(1, 2))
    return 10 * np.log10(np.maximum(num, 1e-12) / np.maximum(den, 1e-12))


def denoise_scores(clean, noisy, denoised, shift=None) -> dict:
    """Mean snr_imp_db, rmse (mV) and prd (%) over windows; shift (N, leads) rescales to ADC counts."""
    clean = np.asarray(clean, np.float64)
    err = np.asarray(denoised, np.float64) - clean
    scale = 1.0 if shift is None else (2.0 ** np.asarray(shift, np.float64))[:, :, None]
    rmse_mv = np.sqrt(np.mean((err * scale) ** 2, axis=(1, 2))) / MITDB_GAIN
    prd = 100 * np.sqrt(np.sum(err**2, axis=(1, 2)) / np.maximum(np.sum(clean**2, axis=(1, 2)), 1e-12))
    snr_in, snr_out = _snr_db(clean, noisy), _snr_db(clean, denoised)
    return {"snr_imp_db": float(np.mean(snr_out - snr_in)), "snr_in_db": float(np.mean(snr_in)),
            "snr_out_db": float(np.mean(snr_out)), "rmse": float(np.mean(rmse_mv)), "prd": float(np.mean(prd)),
            "windows": int(len(clean))}


def af_scores(labels, predicted) -> dict:
    """accuracy, sensitivity (AF recall), specificity, F1 (AF positive); labels < 0 are ignored."""
    y, p = np.asarray(labels), np.asarray(predicted)
    keep = y >= 0
    y, p = y[keep] == 1, p[keep] == 1
    tp, tn = int(np.sum(y & p)), int(np.sum(~y & ~p))
    fp, fn = int(np.sum(~y & p)), int(np.sum(y & ~p))
    n = max(len(y), 1)
    sens = tp / max(tp + fn, 1)
    prec = tp / max(tp + fp, 1)
    return {"accuracy": (tp + tn) / n, "sensitivity": sens, "specificity": tn / max(tn + fp, 1),
            "f1": 2 * prec * sens / max(prec + sens, 1e-12), "n": int(len(y)), "af": int(np.sum(y))}


def segment_predictions(window_logits, segment_ids) -> tuple[np.ndarray, np.ndarray]:
    """Average the windows' AF probabilities over each segment: (segment ids, predicted class)."""
    z = np.asarray(window_logits, np.float64)
    prob = np.exp(z[:, 1] - np.logaddexp(z[:, 0], z[:, 1]))
    ids = np.unique(segment_ids)
    mean = np.array([prob[segment_ids == s].mean() for s in ids])
    return ids, (mean >= 0.5).astype(np.int8)


def agreement(a, b) -> dict:
    """How two int8 outputs agree: identical fraction and max difference in LSB."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    d = np.abs(a - b)
    return {"identical_fraction": float(np.mean(d == 0)), "max_lsb": int(d.max()) if d.size else 0}


def _centered_power(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    return np.einsum("...i,...i->...", x, x)


def denoise_v2_terms(clean_adc, noisy_adc, out_adc) -> dict:
    """Per window and lead (N, leads): clean, noise and error energies (mean-removed) and the
    input, output and improvement SNRs in dB (see the module docstring)."""
    clean = np.asarray(clean_adc, np.float64)
    pc = np.maximum(_centered_power(clean), 1e-12)
    pn = np.maximum(_centered_power(np.asarray(noisy_adc, np.float64) - clean), 1e-12)
    pe = np.maximum(_centered_power(np.asarray(out_adc, np.float64) - clean), 1e-12)
    snr_in, snr_out = 10 * np.log10(pc / pn), 10 * np.log10(pc / pe)
    return {"pc": pc, "pn": pn, "pe": pe, "snr_in": snr_in, "snr_out": snr_out, "imp": snr_out - snr_in}


def denoise_v2_summary(terms: dict, select=None) -> dict:
    """Mean improvement over windows and leads with the pooled-energy figure beside it; the
    standard error is over windows (each window's two leads averaged first)."""
    t = {k: v if select is None else v[select] for k, v in terms.items()}
    per_window = t["imp"].mean(axis=1)
    n = len(per_window)
    se = float(per_window.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"snr_imp_db": float(t["imp"].mean()), "snr_imp_se_db": se,
            "snr_imp_pooled_db": float(10 * np.log10(t["pn"].sum() / t["pe"].sum())),
            "snr_in_db": float(t["snr_in"].mean()), "snr_out_db": float(t["snr_out"].mean()), "windows": int(n),
            "leads": int(t["imp"].shape[1])}

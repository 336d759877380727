"""The clean reference: each record with its own baseline drift removed.

MIT-BIH recordings carry their own baseline wander. Used as the denoising target as-is,
it would ask the model to keep some low-frequency drift (the recording's) and remove the
rest (the added NSTDB bw/em noise), which no model can tell apart; the model would cap the
output SNR near 12 dB. So the clean signal is the record after a zero-phase 0.5 Hz
high-pass (2nd-order Butterworth run forward and backward), rounded back to ADC counts,
as denoising studies do with baseline-corrected references. The noisy input is this clean
signal plus NSTDB noise, so the added noise is the only noise there is to remove.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.signal import butter, sosfiltfilt

from .paths import resolve_data_dir
from .records import FS, load_record

HIGHPASS_HZ = 0.5


def remove_baseline(adc: np.ndarray) -> np.ndarray:
    """int16 (..., N) at FS: the 0.5 Hz zero-phase high-pass, rounded to ADC counts, read-only."""
    sos = butter(2, HIGHPASS_HZ, btype="highpass", fs=FS, output="sos")
    out = np.rint(sosfiltfilt(sos, np.asarray(adc, np.float64), axis=-1)).astype(np.int16)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=64)
def _clean(data_dir: str, name: str) -> np.ndarray:
    return remove_baseline(load_record(data_dir, name).adc)


def clean_adc(data_dir, name: str) -> np.ndarray:
    """int16 (2, N): record `name` without its baseline drift, in ADC counts (baseline 0)."""
    return _clean(str(resolve_data_dir(data_dir)), str(name))

"""MIT-BIH Noise Stress Test Database noise records in ADC units (200 adu/mV).

Kinds: 'bw' baseline wander, 'ma' muscle artifact, 'em' electrode motion -- read from
nstdb/em_derived, a *derived em* estimate (118e00 - 118), not the original em record -- and
'mixed', which is not a record: mixing.mix builds it from the other three.

Training noise comes from the first part of each noise record and test noise from the rest
(noise_part), so no noise sample is seen in both.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from .errors import DataError
from .paths import require_file, resolve_data_dir
from .records import FS
from .wfdb_read import read_header, read_signals

NOISE_KINDS = ("bw", "ma", "em", "mixed")
BASE_KINDS = ("bw", "ma", "em")
_RECORD_OF = {"bw": "bw", "ma": "ma", "em": "em_derived"}
ADU_PER_MV = 200.0
TRAIN_FRACTION = 0.7


def check_kind(kind, allowed=NOISE_KINDS) -> str:
    if kind not in allowed:
        raise ValueError(f"noise kind {kind!r} is not one of {list(allowed)}")
    return kind


def load_noise(data_dir, kind) -> np.ndarray:
    """Noise record `kind` ('bw', 'ma' or 'em' = derived em) as float64 (2, N) adu at
    200 adu/mV, each channel's mean removed. Cached and read-only."""
    check_kind(kind, BASE_KINDS)
    return _load_noise(str(resolve_data_dir(data_dir)), kind)


@functools.lru_cache(maxsize=8)
def _load_noise(data_dir: str, kind: str) -> np.ndarray:
    name = _RECORD_OF[kind]
    base = Path(data_dir) / "nstdb" / name
    what = f"nstdb noise record {name} ({'derived em' if kind == 'em' else kind})"
    require_file(base.with_suffix(".hea"), what)
    header = read_header(base, what)
    if header.fs != FS or header.n_sig != 2:
        raise DataError(f"{what}: expected 2 channels at {FS} Hz, got {header.n_sig} at {header.fs} Hz")
    for f in sorted(set(header.file_name)):
        require_file(base.parent / f, what)
    rec = read_signals(base, what, header)
    x = rec.d_signal.T.astype(np.float64)
    gain = np.array([g if g else 200.0 for g in rec.adc_gain])  # header gain 0 = wfdb default 200
    x *= (ADU_PER_MV / gain)[:, None]
    x -= x.mean(axis=1, keepdims=True)
    x.flags.writeable = False
    return x


def noise_part(noise: np.ndarray, part: str, train_fraction: float = TRAIN_FRACTION) -> np.ndarray:
    """'train': the first `train_fraction` of the samples, 'test': the rest (a view)."""
    cut = int(noise.shape[-1] * train_fraction)
    if part == "train":
        return noise[..., :cut]
    if part == "test":
        return noise[..., cut:]
    raise ValueError(f"part {part!r} is not one of ['train', 'test']")

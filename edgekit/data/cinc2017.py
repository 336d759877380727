"""PhysioNet/CinC Challenge 2017 (AliveCor, single lead, 300 Hz) as an optional external AF check.

Each recording is brought to the mitdb input format: resampled 300 -> 360 Hz explicitly with
scipy.signal.resample_poly(x, 6, 5), rescaled from its header gain to 200 adu/mV (baseline 0),
and its one lead copied into BOTH channels. The model was trained on two mitdb leads (MLII and
V1/V5); CinC has one lead-I-like lead, so this is a domain shift and the result is an external
check, not a headline number.

cinc_clean_pool offers the 'O' (other rhythm) records, which that AF check never reads, as
extra patients for denoising experiments (scripts/sweep.py --extra-cinc); measured: they do
not help on mitdb (docs/experiments.md).
"""
from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np
import wfdb
from scipy.signal import resample_poly

from .baseline import remove_baseline
from .errors import DataError
from .noise import ADU_PER_MV
from .paths import resolve_data_dir
from .records import FS, WINDOW

FOLDER = Path("cinc2017") / "training2017"
SOURCE_FS = 300
_WHERE = ("Download training2017.zip from https://physionet.org/content/challenge-2017/1.0.0/ "
          "(PhysioNet/CinC Challenge 2017) and unpack it to DIR/cinc2017/training2017.")


def load_cinc2017(data_dir=None, labels=("N", "A"), limit=None):
    """[(name, adc int16 (2, M) at 360 Hz and 200 adu/mV, label)] for the records whose
    REFERENCE-v3.csv label is in `labels`, in file order, at most `limit` of them."""
    folder = resolve_data_dir(data_dir) / FOLDER
    reference = folder / "REFERENCE-v3.csv"
    if not reference.is_file():
        raise DataError(f"CinC 2017 labels {reference} not found. {_WHERE}")
    with reference.open(newline="") as f:
        rows = [(r[0].strip(), r[1].strip()) for r in csv.reader(f) if len(r) >= 2]
    rows = [(name, lab) for name, lab in rows if lab in labels][:limit]
    out = []
    for name, lab in rows:
        base = folder / name
        if not base.with_suffix(".hea").is_file() or not base.with_suffix(".mat").is_file():
            raise DataError(f"CinC 2017 record {name}: {base}.hea/.mat missing. {_WHERE}")
        rec = wfdb.rdrecord(str(base), physical=False)
        if rec.fs != SOURCE_FS or rec.n_sig != 1:
            raise DataError(f"CinC 2017 record {name}: expected 1 lead at {SOURCE_FS} Hz, "
                            f"got {rec.n_sig} at {rec.fs} Hz")
        gain = rec.adc_gain[0] or 200.0
        mv_in_adu = (rec.d_signal[:, 0].astype(np.float64) - rec.baseline[0]) * (ADU_PER_MV / gain)
        x = resample_poly(mv_in_adu, FS // 60, SOURCE_FS // 60)  # 6 / 5
        x = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
        out.append((name, np.stack([x, x]), lab))
    return out


@functools.lru_cache(maxsize=2)
def _pool(data_dir: str, labels: tuple[str, ...], min_samples: int) -> tuple[np.ndarray, ...]:
    return tuple(remove_baseline(adc) for _name, adc, _lab in load_cinc2017(data_dir, labels=labels)
                 if adc.shape[1] >= min_samples)


def cinc_clean_pool(data_dir=None, labels=("O",), min_samples=WINDOW) -> tuple[np.ndarray, ...]:
    """Clean references of the CinC records with these labels, as mitdb records are cleaned
    (baseline.remove_baseline): int16 (2, M) at 360 Hz, the lead in both channels, read-only,
    those of at least `min_samples`.
    The default 'O' records are disjoint from the N/A records of the external AF check."""
    return _pool(str(resolve_data_dir(data_dir)), tuple(labels), int(min_samples))

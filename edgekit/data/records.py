"""MIT-BIH Arrhythmia Database records as raw ADC counts plus beat and rhythm annotations.

FS = 360 Hz is the mitdb (and nstdb) sampling rate. WINDOW = 1024 samples = 2.84 s at 360 Hz,
two to four beats. The denoising literature's default is 512 (1.42 s, one or two beats); with the
same training steps 1024 raised the 0 dB mixed-noise score on the validation records from 7.77 to
8.60 dB (docs/experiments.md, "Window length"): with several beats in view the model tells the repeating beat from the
noise. It costs RAM (the arena doubles). Being a power of two, the device computes the per-window
mean as a right shift instead of a division. SEGMENT = 4096 samples = 11.4 s (>= 10 s) is the
AF scoring unit: WINDOWS_PER_SEGMENT = SEGMENT // WINDOW consecutive windows.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from .errors import DataError
from .paths import require_file, resolve_data_dir
from .wfdb_read import read_annotations, read_header, read_signals

FS = 360
WINDOW = 1024
SEGMENT = 4096
WINDOWS_PER_SEGMENT = SEGMENT // WINDOW

# Beat codes as in the MIT-BIH beat table, which counts '!' (ventricular flutter wave) as a
# beat. Not beats: '+' rhythm change, '~' noise, '|' artifact, '"' comment, '[' ']' VF on/off,
# 'x' blocked P wave, and the other non-QRS codes.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?!")


@dataclass(eq=False)
class Record:
    name: str
    adc: np.ndarray             # int16 (2, N), raw ADC counts (wfdb d_signal), read-only
    fs: int
    lead_names: list[str]
    gain: list[float]           # adu/mV
    baseline: list[int]         # ADC count of 0 mV
    beat_samples: np.ndarray    # int64
    beat_symbols: list[str]
    rhythm_samples: np.ndarray  # int64, where each rhythm starts
    rhythm_labels: list[str]    # aux_note, e.g. '(AFIB', '(N', '(AFL'

    @property
    def n_samples(self) -> int:
        return self.adc.shape[1]


def mitdb_records(data_dir=None) -> list[str]:
    """Record names from mitdb/RECORDS, else from the .hea files present."""
    mitdb = resolve_data_dir(data_dir) / "mitdb"
    listing = mitdb / "RECORDS"
    if listing.is_file():
        return listing.read_text().split()
    names = sorted(p.stem for p in mitdb.glob("*.hea"))
    if not names:
        raise DataError(f"{mitdb} holds neither a RECORDS file nor any .hea header")
    return names


def load_record(data_dir, name) -> Record:
    """mitdb record `name`; cached per (resolved directory, name)."""
    return _load_record(str(resolve_data_dir(data_dir)), str(name))


@functools.lru_cache(maxsize=64)
def _load_record(data_dir: str, name: str) -> Record:
    base = Path(data_dir) / "mitdb" / name
    what = f"mitdb record {name}"
    require_file(base.with_suffix(".hea"), what)
    header = read_header(base, what)
    if header.fs != FS:
        raise DataError(f"{what} is sampled at {header.fs} Hz, edgekit needs {FS} Hz: "
                        f"resample it to {FS} Hz first")
    if header.n_sig != 2:
        raise DataError(f"{what} has {header.n_sig} lead(s), edgekit needs 2 (e.g. MLII and V1/V5)")
    for f in sorted(set(header.file_name)):
        require_file(base.parent / f, what)
    require_file(base.with_suffix(".atr"), what + " (annotations)")

    rec = read_signals(base, what, header)
    adc = np.ascontiguousarray(rec.d_signal.T).astype(np.int16)
    adc.flags.writeable = False  # shared through the cache
    ann = read_annotations(base, "atr", what + " (annotations)")
    symbols = list(ann.symbol)
    aux = [(a or "").strip("\x00 ") for a in (ann.aux_note or [""] * len(symbols))]
    samples = np.asarray(ann.sample, dtype=np.int64)
    is_beat = np.array([s in BEAT_SYMBOLS for s in symbols], dtype=bool)
    is_rhythm = np.array([s == "+" and a.startswith("(") for s, a in zip(symbols, aux)], dtype=bool)
    return Record(
        name=name, adc=adc, fs=int(rec.fs), lead_names=list(rec.sig_name),
        gain=[float(g) if g else 200.0 for g in rec.adc_gain],  # header gain 0 = wfdb default 200
        baseline=[int(b) for b in rec.baseline],
        beat_samples=samples[is_beat], beat_symbols=[s for s, b in zip(symbols, is_beat) if b],
        rhythm_samples=samples[is_rhythm], rhythm_labels=[a for a, r in zip(aux, is_rhythm) if r],
    )


def af_mask(record: Record) -> np.ndarray:
    """Per-sample rhythm label, int8 (N,): 1 in '(AFIB', 0 in other rhythms, -1 in '(AFL'.

    A rhythm annotation holds from its sample until the next rhythm annotation; samples before
    the first one are 0. Atrial flutter is a distinct rhythm: its windows are excluded (label -1)
    from AF training and scoring but still used for denoising.
    """
    n = record.n_samples
    mask = np.zeros(n, dtype=np.int8)
    starts = np.clip(record.rhythm_samples, 0, n)
    ends = np.append(starts[1:], n)
    for s, e, label in zip(starts, ends, record.rhythm_labels):
        if label == "(AFIB":
            mask[s:e] = 1
        elif label == "(AFL":
            mask[s:e] = -1
    return mask

"""ECG records as ADC counts at 360 Hz plus beat and rhythm annotations.

mitdb records are named by their number ("100"); records of the other databases by
"<database>/<record>" ("qtdb/sel30", "svdb/800", "vfdb/609"). mitdb is read as it is (360 Hz,
200 adu/mV). The others (DATABASES) are brought to mitdb's form: converted to mV with each
lead's own ADC gain and baseline, expressed in mitdb's 200 adu/mV (baseline 0), resampled to
360 Hz with a polyphase filter (scipy.signal.resample_poly) and rounded to integer counts;
annotation samples are rescaled to 360 Hz. A record whose annotations carry no rhythm notes
(svdb, qtdb: see RHYTHM_ANNOTATED) has has_rhythm False: its windows get AF label -1 (denoising only).

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
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from .errors import DataError
from .paths import require_file, resolve_data_dir
from .wfdb_read import read_annotations, read_header, read_signals

FS = 360
WINDOW = 1024
SEGMENT = 4096
WINDOWS_PER_SEGMENT = SEGMENT // WINDOW
MITDB_GAIN = 200.0  # adu/mV of mitdb, the unit every database is expressed in
# the databases read besides mitdb; their records are named "<database>/<record>"
DATABASES = ("qtdb", "svdb", "vfdb")
# databases whose rhythm notes are complete, so a window without '(AFIB' is not AF. qtdb's
# annotations were made for waveform boundaries (2 of its 90 records carry a stray rhythm note)
# and svdb has none: their windows get AF label -1.
RHYTHM_ANNOTATED = ("mitdb", "vfdb")

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
    has_rhythm: bool = True     # False: no rhythm notes, so no AF label (-1)

    @property
    def database(self) -> str:
        return database_of(self.name)

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


def database_of(name: str) -> str:
    """'mitdb' for a bare record number, else the part before the '/'."""
    return str(name).split("/", 1)[0] if "/" in str(name) else "mitdb"


def database_records(data_dir, database: str) -> list[str]:
    """'<database>/<record>' names from <database>/RECORDS (else the .hea files present), without
    the records listed in <database>/DUPLICATES_MITDB (excerpts of mitdb's own patients)."""
    if database == "mitdb":
        return mitdb_records(data_dir)
    if database not in DATABASES:
        raise DataError(f"unknown database {database!r}: expected mitdb or one of {', '.join(DATABASES)}")
    folder = resolve_data_dir(data_dir) / database
    listing = folder / "RECORDS"
    names = listing.read_text().split() if listing.is_file() else sorted(p.stem for p in folder.glob("*.hea"))
    if not names:
        raise DataError(f"{folder} holds neither a RECORDS file nor any .hea header; get it with "
                        f"wfdb.dl_database('{database}', '{folder}')")
    dup = folder / "DUPLICATES_MITDB"
    skip = set(dup.read_text().split()) if dup.is_file() else set()
    return [f"{database}/{n}" for n in names if n not in skip]


def load_record(data_dir, name) -> Record:
    """Record `name` ("100", or "qtdb/sel30" for another database); cached per (resolved directory, name)."""
    data_dir, name = str(resolve_data_dir(data_dir)), str(name)
    if database_of(name) == "mitdb":
        return _load_record(data_dir, name)
    return _load_other(data_dir, name)


def _annotations(base: Path, rhythm: bool, fs_ratio: Fraction | None = None, what: str = "") -> dict:
    """Beat and rhythm annotations of `base`.atr (none if the file is absent), samples rescaled by
    fs_ratio; rhythm: whether the database's rhythm notes are complete (RHYTHM_ANNOTATED)."""
    if not base.with_suffix(".atr").is_file():
        return dict(beat_samples=np.zeros(0, np.int64), beat_symbols=[], rhythm_samples=np.zeros(0, np.int64),
                    rhythm_labels=[], has_rhythm=False)
    ann = read_annotations(base, "atr", f"{what or base.name} (annotations)")
    symbols = list(ann.symbol)
    aux = [(a or "").strip("\x00 ") for a in (ann.aux_note or [""] * len(symbols))]
    samples = np.asarray(ann.sample, dtype=np.int64)
    if fs_ratio is not None:
        samples = np.rint(samples * float(fs_ratio)).astype(np.int64)
    is_beat = np.array([s in BEAT_SYMBOLS for s in symbols], dtype=bool)
    is_rhythm = np.array([s == "+" and a.startswith("(") for s, a in zip(symbols, aux)], dtype=bool)
    return dict(beat_samples=samples[is_beat], beat_symbols=[s for s, b in zip(symbols, is_beat) if b],
                rhythm_samples=samples[is_rhythm], rhythm_labels=[a for a, r in zip(aux, is_rhythm) if r],
                has_rhythm=rhythm)


@functools.lru_cache(maxsize=160)
def _load_other(data_dir: str, name: str) -> Record:
    database, rec_name = name.split("/", 1)
    base = Path(data_dir) / database / rec_name
    what = f"{database} record {rec_name}"
    require_file(base.with_suffix(".hea"), what)
    header = read_header(base, what)
    if header.n_sig != 2:
        raise DataError(f"{what} has {header.n_sig} lead(s), edgekit needs 2")
    for f in sorted(set(header.file_name)):
        require_file(base.parent / f, what)
    rec = read_signals(base, what, header)
    gain = np.array([float(g) if g else MITDB_GAIN for g in rec.adc_gain])  # header gain 0 = wfdb default 200
    baseline = np.array([float(b) for b in rec.baseline])
    adc = to_mitdb_units(rec.d_signal.T, gain, baseline, float(rec.fs))
    adc.flags.writeable = False  # shared through the cache
    ratio = Fraction(FS) / Fraction(rec.fs).limit_denominator(1000)
    return Record(name=name, adc=adc, fs=FS, lead_names=list(rec.sig_name), gain=[MITDB_GAIN] * 2,
                  baseline=[0, 0], **_annotations(base, database in RHYTHM_ANNOTATED, ratio, what))


def to_mitdb_units(d_signal, gain, baseline, fs: float) -> np.ndarray:
    """int16 (2, N') at FS: raw ADC counts (2, N) at `fs` -> mV (per-lead gain and baseline) -> mitdb's
    200 adu/mV, resampled by a polyphase filter (Kaiser window, scipy's default) and rounded."""
    x = (np.asarray(d_signal, np.float64) - np.asarray(baseline, np.float64)[:, None]) \
        * (MITDB_GAIN / np.asarray(gain, np.float64))[:, None]
    ratio = Fraction(FS) / Fraction(fs).limit_denominator(1000)
    if ratio != 1:
        x = resample_poly(x, ratio.numerator, ratio.denominator, axis=1)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


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
    ann = _annotations(base, rhythm=True, what=what)
    return Record(
        name=name, adc=adc, fs=int(rec.fs), lead_names=list(rec.sig_name),
        gain=[float(g) if g else MITDB_GAIN for g in rec.adc_gain],  # header gain 0 = wfdb default 200
        baseline=[int(b) for b in rec.baseline], **ann,
    )


def af_mask(record: Record) -> np.ndarray:
    """Per-sample rhythm label, int8 (N,): 1 in '(AFIB', 0 in other rhythms, -1 in '(AFL'.

    A rhythm annotation holds from its sample until the next rhythm annotation; samples before
    the first one are 0. Atrial flutter is a distinct rhythm: its windows are excluded (label -1)
    from AF training and scoring but still used for denoising. A record without rhythm notes
    (has_rhythm False) is -1 throughout.
    """
    n = record.n_samples
    if not record.has_rhythm:
        return np.full(n, -1, dtype=np.int8)
    mask = np.zeros(n, dtype=np.int8)
    starts = np.clip(record.rhythm_samples, 0, n)
    ends = np.append(starts[1:], n)
    for s, e, label in zip(starts, ends, record.rhythm_labels):
        if label == "(AFIB":
            mask[s:e] = 1
        elif label == "(AFL":
            mask[s:e] = -1
    return mask

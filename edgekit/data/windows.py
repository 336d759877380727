"""Windows of (noisy int8 input, clean target, AF label) for training and evaluation.

All three builders share one vectorized pipeline (_build): gather clean ADC windows (the
record without its own baseline drift, see baseline.py), add noise
at the requested SNR (mixing.mix), scale per window as the device does (scaling.normalize) and
express the clean signal in the same units (scaling.target).

AF label of a window (af_label): 1 if at least half of its samples are AF; else -1 if at least
half are AF or atrial flutter together (flutter-dominated or an AF/AFL mix: excluded from AF
training and scoring); else 0. A segment (segment_windows) is -1 as soon as it contains any
flutter, else 1 if at least half of it is AF, else 0. Windows and segments of a record without
rhythm notes (Record.has_rhythm False) are -1.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from tqdm.auto import tqdm

from .augment import Augment, gather_augmented, read_span
from .baseline import clean_adc
from .mixing import check_snr, mix
from .noise import BASE_KINDS, NOISE_KINDS, check_kind, load_noise, noise_part
from .paths import resolve_data_dir
from .records import RHYTHM_ANNOTATED, WINDOW, WINDOWS_PER_SEGMENT, Record, database_of, load_record
from .scaling import normalize, target

CHUNK = 1024  # windows per vectorized step: small enough for its arrays to stay in cache
PROGRESS_FROM = 200_000  # show a progress bar from this many windows on
CLEAN = "none"          # noise kind recorded for windows without added noise


@dataclass(eq=False)
class WindowSet:
    noisy: np.ndarray    # int8 (N, 2, W): the model input
    target: np.ndarray   # float32 (N, 2, W): clean signal in input units
    af: np.ndarray       # int8 (N,): 1 AF, 0 other, -1 excluded (flutter)
    record: np.ndarray   # str (N,)
    start: np.ndarray    # int64 (N,): first sample in the record
    snr_db: np.ndarray   # float32 (N,): inf for clean windows
    noise: np.ndarray    # str (N,): noise kind, 'none' for clean windows
    shift: np.ndarray    # int32 (N, 2)
    mean: np.ndarray     # int32 (N, 2)

    def __post_init__(self):
        sizes = {f.name: len(getattr(self, f.name)) for f in fields(self)}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"WindowSet fields differ in length: {sizes}")

    def __len__(self) -> int:
        return len(self.af)

    def subset(self, index) -> "WindowSet":
        return WindowSet(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def save(self, path) -> None:
        np.savez(path, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def concat(cls, *sets: "WindowSet") -> "WindowSet":
        return cls(**{f.name: np.concatenate([getattr(w, f.name) for w in sets]) for f in fields(cls)})

    @classmethod
    def load(cls, path) -> "WindowSet":
        with np.load(path, allow_pickle=False) as z:
            return cls(**{f.name: z[f.name] for f in fields(cls)})


class Segments(NamedTuple):
    windows: WindowSet   # consecutive windows, grouped in order
    segment: np.ndarray  # int64 (N,): segment id of each window
    label: np.ndarray    # int8 (n_segments,): AF label of each segment


def af_label(n_af, n_afl, n) -> np.ndarray:
    """Window AF label from its counts of AF and flutter samples (see module docstring)."""
    n_af, n_afl = np.asarray(n_af), np.asarray(n_afl)
    label = np.zeros(n_af.shape, dtype=np.int8)
    label[2 * (n_af + n_afl) >= n] = -1
    label[2 * n_af >= n] = 1
    return label


def segment_label(n_af, n_afl, n) -> np.ndarray:
    """Segment AF label: -1 if it holds any flutter, else 1 if at least half is AF, else 0."""
    n_af, n_afl = np.asarray(n_af), np.asarray(n_afl)
    return np.where(n_afl > 0, -1, np.where(2 * n_af >= n, 1, 0)).astype(np.int8)


def _rhythm_counts(rec: Record, starts: np.ndarray, length: int):
    """(AF samples, flutter samples) in [start, start+length) from the rhythm intervals
    (same result as summing af_mask over the window, without the per-sample mask)."""
    begin = np.clip(rec.rhythm_samples, 0, rec.n_samples)
    end = np.append(begin[1:], rec.n_samples)
    counts = []
    for wanted in ("(AFIB", "(AFL"):
        keep = np.array([lab == wanted for lab in rec.rhythm_labels], dtype=bool)
        b, e = begin[keep], end[keep]
        overlap = np.minimum(e, starts[:, None] + length) - np.maximum(b, starts[:, None])
        counts.append(np.clip(overlap, 0, None).sum(axis=1))
    return counts


def _gather(signal: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """signal (2, L) -> windows (len(starts), 2, WINDOW), copied row by row from a strided view."""
    return sliding_window_view(signal, WINDOW, axis=1).transpose(1, 0, 2)[starts]


def _noise_parts(data_dir, kinds, part) -> dict:
    """The noise parts the kinds need, as float32 (half the memory traffic of float64)."""
    need = set(BASE_KINDS) if "mixed" in kinds else {k for k in kinds if k in BASE_KINDS}
    return {k: noise_part(load_noise(data_dir, k), part).astype(np.float32) for k in sorted(need)}


def _mix_kind(clean, kind: str, snr, noise_starts, parts) -> np.ndarray:
    """clean int16 (n, 2, W) windows with noise of one `kind` added at `snr` (n,), the noise
    read at `noise_starts` (n, 3) in `parts`; kind 'none' returns them unchanged."""
    if kind == CLEAN:
        return clean
    need = BASE_KINDS if kind == "mixed" else (kind,)
    segs = {k: _gather(parts[k], noise_starts[:, j]) for j, k in enumerate(BASE_KINDS) if k in need}
    return mix(clean, segs, kind, snr)


def _build(data_dir, names, rec_idx, starts, kinds, snr, noise_starts, parts, aug=None, adc=None) -> WindowSet:
    """The shared pipeline. rec_idx indexes `names`; kinds: str per window ('none' = clean);
    noise_starts: (n, 3) offsets into the noise parts of bw, ma, em; aug: per-window
    augmentation draws (Augment.draw) or None; adc: None, or a dict that receives the clean and
    noisy ADC windows (int16 (n, 2, W), before the int8 scaling) as 'clean' and 'noisy'."""
    records = [load_record(data_dir, nm) for nm in names]
    n = len(rec_idx)
    kinds = np.asarray(kinds).astype(str)
    out = dict(
        noisy=np.empty((n, 2, WINDOW), np.int8), target=np.empty((n, 2, WINDOW), np.float32),
        shift=np.empty((n, 2), np.int32), mean=np.empty((n, 2), np.int32),
    )
    if adc is not None:
        adc["clean"], adc["noisy"] = np.empty((n, 2, WINDOW), np.int16), np.empty((n, 2, WINDOW), np.int16)
    af = np.zeros(n, np.int8)
    for r in np.unique(rec_idx):
        sel = np.flatnonzero(rec_idx == r)
        af[sel] = af_label(*_rhythm_counts(records[r], starts[sel], WINDOW), WINDOW) if records[r].has_rhythm else -1

    # Work in (kind, record) order so every gather and mix is on a contiguous slice; results
    # go back to the drawn order when stored.
    order = np.lexsort((rec_idx, kinds))
    kind_sorted = kinds[order]
    cuts = np.flatnonzero(kind_sorted[1:] != kind_sorted[:-1]) + 1
    with tqdm(total=n, disable=n < PROGRESS_FROM, unit="win", desc="windows") as bar:
        for g_lo, g_hi in zip(np.r_[0, cuts], np.r_[cuts, n]):
            kind = str(kind_sorted[g_lo])
            for lo in range(g_lo, g_hi, CHUNK):
                pos = order[lo:min(lo + CHUNK, g_hi)]
                ri, st = rec_idx[pos], starts[pos]
                clean = np.empty((len(pos), 2, WINDOW), np.int16)
                rec_cuts = np.r_[0, np.flatnonzero(ri[1:] != ri[:-1]) + 1, len(pos)]
                for a, b in zip(rec_cuts[:-1], rec_cuts[1:]):
                    sig = clean_adc(data_dir, names[ri[a]])
                    if aug is None:
                        clean[a:b] = _gather(sig, st[a:b])
                    else:
                        p = pos[a:b]
                        clean[a:b] = gather_augmented(sig, st[a:b], WINDOW, aug["factor"][p],
                                                      aug["sign"][p], aug["swap"][p])
                noisy = _mix_kind(clean, kind, snr[pos], noise_starts[pos], parts)
                q, mean, shift = normalize(noisy)
                out["noisy"][pos], out["mean"][pos], out["shift"][pos] = q, mean, shift
                out["target"][pos] = target(clean, shift)
                if adc is not None:
                    adc["clean"][pos], adc["noisy"][pos] = clean, noisy
                bar.update(len(pos))

    return WindowSet(
        **out, af=af, record=np.asarray(names)[rec_idx].astype(str), start=starts.astype(np.int64),
        snr_db=snr.astype(np.float32), noise=np.asarray(kinds).astype(str),
    )


def _noise_offsets(rng, parts: dict, n: int, span: int) -> np.ndarray:
    """(n, 3) random offsets for bw, ma, em with room for `span` samples in each noise part."""
    u = rng.random((n, len(BASE_KINDS)))
    out = np.zeros((n, len(BASE_KINDS)), np.int64)
    for j, b in enumerate(BASE_KINDS):
        if b in parts:
            room = parts[b].shape[1] - span + 1
            if room < 1:
                raise ValueError(f"the {b} noise part is shorter than {span} samples")
            out[:, j] = (u[:, j] * room).astype(np.int64)
    return out


def _noise_plan(rng, data_dir, n, noise_kinds, snr_range, part):
    """Random noise for `n` training windows: (kind per window, SNR uniform in `snr_range`, the
    noise parts they read, (n, 3) offsets into those parts), drawn from `rng` in that order."""
    kinds = np.asarray(noise_kinds)[rng.integers(len(noise_kinds), size=n)]
    snr = rng.uniform(*snr_range, size=n)
    parts = _noise_parts(data_dir, noise_kinds, part)
    return kinds, snr, parts, _noise_offsets(rng, parts, n, WINDOW)


def rhythm_share_weights(records, share: float | None) -> np.ndarray | None:
    """Record probabilities that give the rhythm-annotated patients (mitdb, vfdb: RHYTHM_ANNOTATED)
    `share` of the windows and the denoising-only ones (qtdb, svdb) the rest, uniform per patient
    within each; None (or only one kind of patient present): uniform over all records."""
    if share is None:
        return None
    if not 0.0 < share < 1.0:
        raise ValueError(f"rhythm share {share:g} must be a fraction in (0, 1)")
    rhythm = np.array([database_of(r) in RHYTHM_ANNOTATED for r in records])
    if rhythm.all() or not rhythm.any():
        return None
    return np.where(rhythm, share / rhythm.sum(), (1.0 - share) / (~rhythm).sum())


def sample_training_windows(data_dir, records, n, seed, noise_kinds=NOISE_KINDS,
                            snr_range=(-6, 24), part="train", augment: Augment | None = None,
                            weights=None) -> WindowSet:
    """`n` random windows: record (uniform, or drawn with probabilities `weights`), start, noise
    kind, SNR in `snr_range` and noise offset inside the noise `part`, the clean ECG augmented by
    `augment` (see augment.py). Deterministic for a seed; without augmentation and weights the
    draws are those of earlier versions."""
    data_dir = resolve_data_dir(data_dir)
    records = [str(r) for r in records]
    noise_kinds = [check_kind(k) for k in noise_kinds]
    lo, hi = check_snr(snr_range)
    rng = np.random.default_rng(seed)
    lengths = np.array([load_record(data_dir, r).n_samples for r in records])
    if weights is None:
        rec_idx = rng.integers(len(records), size=n)
    else:
        w = np.asarray(weights, np.float64)
        if w.shape != (len(records),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights need one non-negative value per record ({len(records)}), not all zero")
        rec_idx = rng.choice(len(records), size=n, p=w / w.sum())
    u = rng.random(n)
    kinds, snr, parts, noise_starts = _noise_plan(rng, data_dir, n, noise_kinds, (lo, hi), part)
    aug = augment.draw(rng, n) if augment is not None and augment.active else None
    need = WINDOW if aug is None else read_span(aug["factor"], WINDOW)
    starts = (u * (lengths[rec_idx] - need + 1)).astype(np.int64)
    # AF labels count the record span at the nominal window length, also when stretched
    return _build(data_dir, records, rec_idx, starts, kinds, snr, noise_starts, parts, aug)


def sample_pool_windows(data_dir, pool, n, seed, source: str, noise_kinds=NOISE_KINDS,
                        snr_range=(-6, 24), part="train") -> WindowSet:
    """`n` random windows from `pool`, clean int16 (2, M) signals from outside mitdb (e.g.
    cinc2017.cinc_clean_pool), mixed as sample_training_windows mixes mitdb: uniform signal,
    start, noise kind and SNR. They carry no AF label (-1) and `source` as their record name."""
    data_dir = resolve_data_dir(data_dir)
    noise_kinds = [check_kind(k) for k in noise_kinds]
    lo, hi = check_snr(snr_range)
    short = [i for i, c in enumerate(pool) if c.shape[-1] < WINDOW]
    if not pool or short:
        raise ValueError(f"the pool needs signals of at least {WINDOW} samples (empty or short: {short[:5]})")
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(pool), size=n)
    lengths = np.array([c.shape[-1] for c in pool])
    starts = (rng.random(n) * (lengths[idx] - WINDOW + 1)).astype(np.int64)
    kinds, snr, parts, noise_starts = _noise_plan(rng, data_dir, n, noise_kinds, (lo, hi), part)
    clean = np.stack([pool[i][:, s:s + WINDOW] for i, s in zip(idx, starts)]) if n else \
        np.empty((0, 2, WINDOW), np.int16)
    noisy = np.empty_like(clean)
    for kind in np.unique(kinds):
        sel = np.flatnonzero(kinds == kind)
        noisy[sel] = _mix_kind(clean[sel], str(kind), snr[sel], noise_starts[sel], parts)
    q, mean, shift = normalize(noisy)
    return WindowSet(noisy=q, target=target(clean, shift), af=np.full(n, -1, np.int8),
                     record=np.full(n, source), start=starts, snr_db=snr.astype(np.float32),
                     noise=kinds.astype(str), shift=shift, mean=mean)


def _kind_and_snr(noise_kind, snr_db, n):
    if noise_kind is None:
        return np.full(n, CLEAN), np.full(n, np.inf)
    check_kind(noise_kind)
    return np.full(n, noise_kind), np.full(n, float(check_snr(snr_db)))


def evaluation_windows(data_dir, records, noise_kind, snr_db, per_record=64, seed=0,
                       part="test", adc: dict | None = None) -> WindowSet:
    """`per_record` non-overlapping windows evenly spaced through each record, noise from the
    test part (noise_kind=None: clean). Deterministic. adc: a dict that receives the clean and
    noisy ADC windows before the int8 scaling (keys 'clean', 'noisy'), for metrics in ADC counts."""
    data_dir = resolve_data_dir(data_dir)
    records = [str(r) for r in records]
    rec_idx, starts = [], []
    for i, r in enumerate(records):
        length = load_record(data_dir, r).n_samples
        if per_record * WINDOW > length:
            raise ValueError(f"record {r} ({length} samples) cannot hold {per_record} windows of {WINDOW}")
        starts.append(np.round(np.linspace(0, length - WINDOW, per_record)).astype(np.int64))
        rec_idx.append(np.full(per_record, i))
    rec_idx, starts = np.concatenate(rec_idx), np.concatenate(starts)
    kinds, snr = _kind_and_snr(noise_kind, snr_db, len(starts))
    parts = _noise_parts(data_dir, [] if noise_kind is None else [noise_kind], part)
    noise_starts = _noise_offsets(np.random.default_rng(seed), parts, len(starts), WINDOW)
    return _build(data_dir, records, rec_idx, starts, kinds, snr, noise_starts, parts, adc=adc)


def segment_windows(data_dir, records, windows_per_segment=WINDOWS_PER_SEGMENT, noise_kind=None, snr_db=None,
                    seed=0, part="test") -> Segments:
    """Each record cut into consecutive segments of `windows_per_segment` non-overlapping
    windows (4 x 1024 = SEGMENT = 4096 samples = 11.4 s >= 10 s); the tail shorter than a segment is
    dropped. Noise (if any) is one continuous stretch of the test part per segment, mixed at
    `snr_db` per window."""
    data_dir = resolve_data_dir(data_dir)
    records = [str(r) for r in records]
    span = windows_per_segment * WINDOW
    rec_idx, seg_starts = [], []
    for i, r in enumerate(records):
        rec = load_record(data_dir, r)
        s = np.arange(rec.n_samples // span, dtype=np.int64) * span
        seg_starts.append(s)
        rec_idx.append(np.full(len(s), i))
    seg_rec, seg_starts = np.concatenate(rec_idx), np.concatenate(seg_starts)
    n_seg = len(seg_starts)
    offsets = np.arange(windows_per_segment, dtype=np.int64) * WINDOW
    starts = (seg_starts[:, None] + offsets).ravel()
    win_rec = np.repeat(seg_rec, windows_per_segment)
    segment = np.repeat(np.arange(n_seg, dtype=np.int64), windows_per_segment)

    kinds, snr = _kind_and_snr(noise_kind, snr_db, len(starts))
    parts = _noise_parts(data_dir, [] if noise_kind is None else [noise_kind], part)
    seg_noise = _noise_offsets(np.random.default_rng(seed), parts, n_seg, span)
    noise_starts = (seg_noise[:, None, :] + offsets[None, :, None]).reshape(-1, len(BASE_KINDS))
    windows = _build(data_dir, records, win_rec, starts, kinds, snr, noise_starts, parts)

    label = np.zeros(n_seg, np.int8)
    for r in np.unique(seg_rec):
        sel = np.flatnonzero(seg_rec == r)
        n_af, n_afl = _rhythm_counts(load_record(data_dir, records[r]), seg_starts[sel], span)
        label[sel] = segment_label(n_af, n_afl, span) if load_record(data_dir, records[r]).has_rhythm else -1
    return Segments(windows, segment, label)

"""The windows a device run streams: real ECG from the held-out test records, with noise.

    wl = ecg_workload(200, snrs=(0, 12, 24), noise="mixed")     # wl.windows is a WindowSet
    wl = ecg_workload(200, segments=True)                       # consecutive 4-window segments

Windows come from ``split_records(data_dir, seed)['test']`` (records the model never saw) and
are mixed with NSTDB noise from its test part at the given SNRs (``edgekit.data``). Window i is
at ``snrs[i % len(snrs)]`` and its clean part is spread evenly over all test records, so any
prefix of the stream covers every SNR and many records. With ``segments=True`` the stream is
whole segments of ``per_segment`` consecutive windows (4 x 1024 samples = 11.4 s, as the model
evaluation uses), segment k at ``snrs[k % len(snrs)]``, so AF can be scored per segment too.
Deterministic for (n, snrs, noise, seed, segments).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from ..data import (WINDOWS_PER_SEGMENT, WindowSet, evaluation_windows, resolve_data_dir, segment_windows,
                    split_records)
from ..data.windows import CLEAN


def snr_key(snr: float) -> str:
    """'0', '12', '-6', '7.5', or 'clean' for windows without noise (snr inf)."""
    if not math.isfinite(snr):
        return "clean"
    return f"{snr:g}"


@dataclass(eq=False)
class Workload:
    windows: WindowSet              # in streaming order
    noise: str                      # noise kind ('mixed', 'bw', 'ma', 'em', 'none')
    snrs: tuple                     # the SNRs asked for, in order (empty for clean)
    records: list[str]              # the test records drawn from
    seed: int
    segment: np.ndarray | None = None        # segment id per window (segments=True)
    segment_label: np.ndarray | None = None  # AF label per segment id (index = id)
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def snr_keys(self) -> list[str]:
        """Per window: its SNR as a key (see snr_key)."""
        return [snr_key(float(s)) for s in self.windows.snr_db]

    def describe(self) -> str:
        kind = "clean" if self.noise == CLEAN else f"{self.noise} noise at {', '.join(map(snr_key, self.snrs))} dB"
        seg = (f", {len(np.unique(self.segment))} segments of {self.meta['per_segment']} windows"
               if self.segment is not None else "")
        return (f"{len(self)} windows from test records {', '.join(self.records)} ({kind}{seg}, "
                f"seed {self.seed})")


def _concat(sets: list[WindowSet]) -> WindowSet:
    return WindowSet(**{f.name: np.concatenate([getattr(s, f.name) for s in sets]) for f in fields(WindowSet)})


def _spread(pool: int, count: int) -> np.ndarray:
    """`count` indices spread evenly over range(pool)."""
    if count <= 0:
        return np.zeros(0, np.int64)
    return np.round(np.linspace(0, pool - 1, count)).astype(np.int64)


def ecg_workload(n: int, snrs=(0, 12, 24), noise: str = "mixed", seed: int = 0, data_dir=None,
                 segments: bool = False, per_segment: int = WINDOWS_PER_SEGMENT, split_seed: int = 0) -> Workload:
    """``n`` int8 windows (see the module docstring). noise='none' streams clean windows.
    With segments, n is rounded up to whole segments."""
    if n < 1:
        raise ValueError(f"need at least one window, got {n}")
    data_dir = resolve_data_dir(data_dir)
    records = split_records(data_dir, seed=split_seed)["test"]
    kind = None if noise in (None, CLEAN) else noise
    snrs = tuple(float(s) for s in snrs) if kind is not None else (math.inf,)
    if not snrs:
        raise ValueError("give at least one SNR")
    if segments:
        return _segment_workload(data_dir, records, n, snrs, kind, seed, per_segment)

    per_record = math.ceil(n / len(records))
    order = np.arange(n)
    parts = []
    for j, snr in enumerate(snrs):
        mine = order[order % len(snrs) == j]
        if not len(mine):
            continue
        pool = evaluation_windows(data_dir, records, kind, None if kind is None else snr,
                                  per_record=per_record, seed=seed + j)
        # window i of the stream takes the pool position proportional to i: consecutive
        # windows come from different places (and records), every record is covered
        pick = _spread(len(pool), n)[mine]
        parts.append((mine, pool.subset(pick)))
    ws = _concat([p for _, p in parts])
    pos = np.concatenate([m for m, _ in parts])
    ws = ws.subset(np.argsort(pos, kind="stable"))
    return Workload(ws, CLEAN if kind is None else kind, () if kind is None else snrs, list(records), seed,
                    meta={"per_record_pool": per_record})


def _segment_workload(data_dir, records, n, snrs, kind, seed, per_segment) -> Workload:
    n_seg = math.ceil(n / per_segment)
    sets, seg_ids, labels = [], [], []
    for j, snr in enumerate(snrs):
        mine = np.arange(n_seg)[np.arange(n_seg) % len(snrs) == j]
        if not len(mine):
            continue
        ws, seg, lab = segment_windows(data_dir, records, per_segment, kind, None if kind is None else snr,
                                       seed=seed + j)
        chosen = _spread(len(lab), n_seg)[mine]  # segments spread over all records
        for new_id, s in zip(mine, chosen):
            sel = np.flatnonzero(seg == s)
            sets.append((new_id, ws.subset(sel)))
            labels.append((new_id, lab[s]))
    sets.sort(key=lambda t: t[0])
    ws = _concat([s for _, s in sets])
    seg_ids = np.repeat(np.array([i for i, _ in sets], np.int64), per_segment)
    label = np.zeros(n_seg, np.int8)
    for i, lab in labels:
        label[i] = lab
    return Workload(ws, CLEAN if kind is None else kind, () if kind is None else snrs, list(records), seed,
                    segment=seg_ids, segment_label=label, meta={"per_segment": per_segment})

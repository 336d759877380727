"""Device-side evaluation mechanics: stream windows, compare bit for bit, collect latency.

``evaluate(device, windows, reference)``: ``windows`` is any iterable of int8 [channels, length]
arrays, ``reference(window) -> (denoised, logits)`` the integer model to match (e.g.
``edgekit.firmware.stub_model.reference`` now, the ``edgekit.quant`` integer reference later).
Accuracy metrics (SNR, AF F1, ...) belong to the caller; this only proves the device computes
what the reference computes, and how long it takes.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from .protocol import HelloInfo


@dataclass
class WindowResult:
    index: int
    count: int
    layer_counts: list[int]
    denoised_mismatches: int   # samples that differ from the reference
    denoised_max_abs_diff: int
    logits_equal: bool
    logits: list[int] = field(default_factory=list)

    @property
    def bit_exact(self) -> bool:
        return self.denoised_mismatches == 0 and self.logits_equal


def latency_stats(counts, clock_hz: int, total_macs: int, unit: str) -> dict:
    """p50/p99/max etc. in counter units, microseconds at clock_hz, and counts per MAC.
    (For the host board the unit is ns and clock_hz is 1e9, so the same formula holds.)"""
    c = np.asarray(counts, dtype=np.float64)
    if c.size == 0:
        return {}
    pct = {k: float(np.percentile(c, q, method="inverted_cdf")) for k, q in (("p50", 50), ("p99", 99))}
    stats = {"unit": unit, "n": int(c.size), "min": float(c.min()), **pct, "max": float(c.max()),
             "mean": float(c.mean()), "std": float(c.std()), "clock_hz": clock_hz}
    for k in ("p50", "p99", "max"):
        stats[f"{k}_us"] = stats[k] / clock_hz * 1e6
    stats["per_mac_p50"] = stats["p50"] / total_macs if total_macs else None
    return stats


@dataclass
class EvalResult:
    hello: HelloInfo
    windows: list[WindowResult]
    wall_s: float
    retried: int = 0
    device_errors: int = 0
    meta: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list, repr=False)  # (denoised, logits) per window, if kept

    @property
    def n(self) -> int:
        return len(self.windows)

    @property
    def n_bit_exact(self) -> int:
        return sum(w.bit_exact for w in self.windows)

    @property
    def bit_exact(self) -> bool:
        return self.n > 0 and self.n_bit_exact == self.n

    @property
    def windows_per_s(self) -> float:
        return self.n / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def counts(self) -> list[int]:
        return [w.count for w in self.windows]

    def latency(self) -> dict:
        h = self.hello
        return latency_stats(self.counts, h.clock_hz, h.total_macs, h.counter_kind)

    def layers(self) -> list[dict]:
        """Per layer: name, MACs, median count, share of the total, count per MAC."""
        h = self.hello
        if self.n:
            med = np.median(np.array([w.layer_counts for w in self.windows], dtype=np.int64), axis=0)
        else:
            med = np.zeros(h.num_layers)
        total = med.sum() or 1.0
        return [{"index": i, "name": h.layer_names[i] if i < len(h.layer_names) else str(i),
                 "macs": h.layer_macs[i] if i < len(h.layer_macs) else 0,
                 "count_p50": float(med[i]), "share": float(med[i] / total),
                 "count_per_mac": float(med[i] / h.layer_macs[i]) if i < len(h.layer_macs) and h.layer_macs[i] else None}
                for i in range(len(med))]

    def summary(self) -> dict:
        return {"board": self.hello.board, "model": self.hello.model_name, "model_hash": self.hello.model_hash,
                "windows": self.n, "bit_exact_windows": self.n_bit_exact, "bit_exact": self.bit_exact,
                "windows_per_s": self.windows_per_s, "wall_s": self.wall_s, "retried": self.retried,
                "device_errors": self.device_errors, "latency": self.latency(), **self.meta}

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "hello": asdict(self.hello), "layers": self.layers(),
                "windows": [asdict(w) for w in self.windows]}


def compare(index: int, got, ref) -> WindowResult:
    den, logits, count, layer_counts = got
    ref_den = np.asarray(ref[0], dtype=np.int8).reshape(den.shape)
    ref_logits = np.asarray(ref[1], dtype=np.int8).reshape(logits.shape)
    diff = np.abs(den.astype(np.int16) - ref_den.astype(np.int16))
    return WindowResult(index, int(count), list(map(int, layer_counts)), int(np.count_nonzero(diff)),
                        int(diff.max(initial=0)), bool(np.array_equal(logits, ref_logits)),
                        list(map(int, logits)))


def evaluate(device, windows: Iterable[np.ndarray], reference: Callable | Sequence, limit: int | None = None,
             progress: bool = True, desc: str | None = None, keep_outputs: bool = False, start: int = 0,
             on_result: Callable | None = None) -> EvalResult:
    """Run each window on the device and compare it with the reference bit for bit.

    ``reference`` is a callable ``window -> (denoised, logits)`` or a sequence whose item i is
    window i's expected ``(denoised, logits)`` (e.g. the integer reference run on the whole batch
    beforehand). ``keep_outputs`` keeps the device's outputs in ``result.outputs``.
    ``start``: the first window's index (``windows`` then begins at that window, and a sequence
    ``reference`` is still indexed by window index); ``limit`` counts windows from index 0.
    ``on_result(window_result, (denoised, logits))`` is called as each window's reply arrives
    (the run log appends it there), so nothing streamed is lost if the link dies later.
    Wall time covers the link round trips only (the reference runs outside the timer)."""
    hello = device.info or device.hello()
    errors0, retried0 = len(device.errors), device.retried
    results, outputs, wall = [], [], 0.0
    expected = reference if not callable(reference) else None
    if limit is None and hasattr(windows, "__len__"):
        limit = start + len(windows)
    todo = None if limit is None else max(0, limit - start)
    it = islice(windows, todo) if todo is not None else windows
    for i, w in enumerate(tqdm(it, total=todo, disable=not progress, unit="win",
                               desc=desc or hello.board, mininterval=0.5), start):
        t = time.perf_counter()
        got = device.infer(w)
        wall += time.perf_counter() - t
        res = compare(i, got, expected[i] if expected is not None else reference(w))
        results.append(res)
        if keep_outputs:
            outputs.append((got.denoised, got.logits))
        if on_result is not None:
            on_result(res, (got.denoised, got.logits))
    return EvalResult(hello, results, wall, device.retried - retried0, len(device.errors) - errors0,
                      outputs=outputs)

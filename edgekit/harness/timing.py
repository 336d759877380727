"""Latency in a person's units: instructions (exact under QEMU's -icount), cycles (a board's cycle
counter: DWT CYCCNT, mcycle), milliseconds at a real board's clock, and the real-time factor
against the window's duration.

    t = real_time({"unit": "instructions", "p50": 7.1e7, ...}, board, window_s=2.844)
    t["ms_p50"], t["estimate"], t["clock_hz"], t["clock_board"], t["rtf_p50"]

A QEMU board counts instructions, not time. Its milliseconds are an estimate at one instruction
per cycle on the real board named by its `timing_board` key (mps2-an500 -> nucleo-f746zg at
216 MHz), or at its own clock_hz when it emulates a real MCU (netduinoplus2: STM32F405) or has no
real counterpart. A board with a cycle counter gives exact ms at its clock; the host board counts
nanoseconds. rtf = processing time / window duration: below 1 keeps up with the signal.
"""
from __future__ import annotations

from ..firmware.targets import Board, load_board


def clock_for(board: Board) -> tuple[int, str]:
    """(clock_hz, board name) the milliseconds are computed at."""
    name = getattr(board, "timing_board", "") or ""
    if board.kind == "qemu" and name:
        ref = load_board(name)
        return ref.clock_hz, ref.name
    return board.clock_hz, board.name


def real_time(latency: dict, board: Board, window_s: float) -> dict:
    """ms (p50/p99/max), whether they are an estimate, the clock used and the real-time factor."""
    unit = latency.get("unit")
    out = {"unit": unit, "window_s": window_s}
    if latency.get("p50") is None:
        return out
    if unit == "nanoseconds":
        clock_hz, clock_board, per_ms, estimate = None, board.name, 1e6, False
        note = "measured on the host"
    else:
        clock_hz, clock_board = clock_for(board)
        per_ms, estimate = clock_hz / 1e3, unit == "instructions"
        note = (f"estimate at 1 instruction/cycle, {clock_hz / 1e6:g} MHz ({clock_board})" if estimate
                else f"{unit} at {clock_hz / 1e6:g} MHz ({clock_board})")
    out.update({"clock_hz": clock_hz, "clock_board": clock_board, "estimate": estimate, "note": note})
    for k in ("p50", "p99", "max"):
        if latency.get(k) is not None:
            ms = latency[k] / per_ms
            out[f"ms_{k}"] = ms
            out[f"rtf_{k}"] = ms / (1e3 * window_s) if window_s else None
    return out


def format_time(t: dict) -> tuple[str, str] | None:
    """('latency (ms ...)', 'p50 ... rtf ...') for the report, or None without counts."""
    if "ms_p50" not in t:
        return None
    label = "latency (ms, estimate)" if t["estimate"] else "latency (ms)"
    rtf = t.get("rtf_p50")
    value = (f"p50 {t['ms_p50']:,.2f}   p99 {t['ms_p99']:,.2f}   max {t['ms_max']:,.2f}   ({t['note']}); "
             f"real-time factor {rtf:.4f} of the {t['window_s']:.2f} s window ({1 / rtf:,.0f}x faster than real time)"
             if rtf else f"p50 {t['ms_p50']:,.2f} ({t['note']})")
    return label, value

"""Find plugged-in boards by the USB VID:PID of their debug probe (pyserial's list_ports).

    from edgekit.harness.ports import connected, auto_port
    for c in connected(): print(c.port, c.usb, c.probe, c.boards)
    port = auto_port("nucleo-f746zg")   # the one serial port whose probe fits that board

A board file lists its probe's ids (``usb_ids = ["0483:374b", ...]``, PID ``*`` = any). With
no board, auto_port takes any known probe. None or several matches is a UserError that lists
what was seen, so the user can pick ``--port`` by hand.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..cli import fail
from ..firmware.targets import known_boards, load_board

PROBES = {  # the debug probes of the boards edgekit knows, by VID:PID (PID "*" = any)
    "0483:374b": "ST-LINK/V2-1",
    "0483:374e": "STLINK-V3",
    "0483:374f": "STLINK-V3",
    "1366:*": "SEGGER J-Link",
    "0403:6010": "FTDI FT2232 (HiFive1 Rev A)",
}


@dataclass(frozen=True)
class Connected:
    port: str                 # e.g. /dev/ttyACM0
    usb: str                  # "0483:374b", or "" for a port without USB ids
    description: str          # what the OS calls it
    probe: str                # the known probe, or ""
    boards: tuple[str, ...]   # board files whose usb_ids match


def _match(usb: str, pattern: str) -> bool:
    vid, pid = pattern.split(":")
    return bool(usb) and usb.split(":")[0] == vid and pid in ("*", usb.split(":")[1])


def _board_ids() -> dict[str, tuple[str, ...]]:
    out = {}
    for name in known_boards():
        ids = load_board(name).usb_ids
        if ids:
            out[name] = ids
    return out


def connected(ports=None) -> list[Connected]:
    """Every serial port, with the probe and boards its USB ids match (ports: list_ports' entries,
    for tests; default: the machine's)."""
    if ports is None:
        try:
            from serial.tools import list_ports
        except ImportError:
            fail("pyserial is not installed: pip install pyserial")
        ports = list_ports.comports()
    boards = _board_ids()
    out = []
    for p in ports:
        usb = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None else ""
        probe = next((name for pat, name in PROBES.items() if _match(usb, pat)), "")
        fits = tuple(b for b, ids in boards.items() if any(_match(usb, pat) for pat in ids))
        out.append(Connected(p.device, usb, p.description or "", probe, fits))
    return out


def describe(c: Connected) -> str:
    return f"{c.port} ({c.usb or 'no USB id'}{', ' + c.probe if c.probe else ''})"


def auto_port(board: str | None = None, ports=None) -> str:
    """The one serial port whose probe fits `board` (or any known probe); else a UserError that
    lists what was seen."""
    seen = connected(ports)
    if board is not None:
        hits = [c for c in seen if board in c.boards]
        want = f"a {board} ({', '.join(load_board(board).usb_ids) or 'no usb_ids in its board file'})"
    else:
        hits = [c for c in seen if c.probe]
        want = f"a known debug probe ({', '.join(PROBES)})"
    if len(hits) == 1:
        return hits[0].port
    saw = ", ".join(describe(c) for c in seen) or "no serial ports"
    if not hits:
        fail(f"--port auto: found no {want.removeprefix('a ')}; saw: {saw}. Plug the board in, or give --port PATH")
    fail(f"--port auto: several ports fit {want}: {', '.join(describe(c) for c in hits)}; give --port PATH")

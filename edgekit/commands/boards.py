"""List the boards edgekit knows (core, clock, flash/RAM, flash tool, emulated by QEMU or not), or
with --connected the serial ports plugged in and the boards their USB debug probes fit.

    edgekit boards
    edgekit boards --connected
    edgekit boards --json
"""
from __future__ import annotations

import argparse
import json
import re

from ..cli import add_common_args, main_guard, setup_logging


def board_rows() -> list[dict]:
    from ..firmware.targets import known_boards, load_board

    rows = []
    for name in known_boards():
        b = load_board(name)
        t = b.load_target()
        mem = b.memory or {}
        rows.append({
            "board": b.name, "target": b.target, "core": re.split(r"[,(]", t.description)[0].strip() or t.name,
            "clock_hz": b.clock_hz, "flash_bytes": mem.get("flash", {}).get("length", t.flash_bytes),
            "ram_bytes": mem.get("ram", {}).get("length", t.ram_bytes),
            "flash_tool": (b.flash or {}).get("tool", ""),
            "qemu": (b.qemu or {}).get("machine", "") if b.kind == "qemu" else "",
            "kind": b.kind, "usb_ids": list(b.usb_ids), "description": b.description})
    return rows


def _kib(n: int) -> str:
    return "-" if not n else f"{n // 1024:,} KiB"


def format_boards(rows: list[dict]) -> str:
    head = ("board", "target", "core", "clock", "flash", "RAM", "flash tool", "QEMU machine")
    body = [(r["board"], r["target"], r["core"], f"{r['clock_hz'] / 1e6:g} MHz", _kib(r["flash_bytes"]),
             _kib(r["ram_bytes"]), r["flash_tool"] or "-", r["qemu"] or ("host" if r["kind"] == "host" else "no"))
            for r in rows]
    w = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    return "\n".join("  ".join(str(x).ljust(n) for x, n in zip(line, w)).rstrip() for line in (head, *body))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="edgekit boards", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connected", action="store_true",
                   help="list the serial ports plugged in (pyserial list_ports) and the boards they fit")
    add_common_args(p, json_help="print the list as JSON on stdout")
    a = p.parse_args(argv)
    setup_logging(a)
    if a.connected:
        from ..harness.ports import connected
        rows = [c.__dict__ | {"boards": list(c.boards)} for c in connected()]
        if a.json:
            print(json.dumps(rows, indent=1))
        elif not rows:
            print("no serial ports found")
        for r in ([] if a.json else rows):
            print(f"{r['port']}  {r['usb'] or 'no USB id'}  {r['probe'] or r['description']}  "
                  f"boards: {', '.join(r['boards']) or '-'}")
        return 0
    rows = board_rows()
    print(json.dumps(rows, indent=1) if a.json else format_boards(rows))
    return 0


if __name__ == "__main__":
    main_guard(main)

#!/usr/bin/env python3
"""Build the firmware for a board, run it (QEMU, real board, or host), stream windows, compare
with a reference bit for bit, and write a JSON + Markdown + PNG report.

  scripts/run.py --board mps2-an500 --windows 50                      # stub model, QEMU
  scripts/run.py --board virt --model-dir build/acdae --reference pkg.mod:ref --source pkg.mod:windows
  scripts/run.py --board nucleo-f746zg --port /dev/ttyACM0 --windows 200

--reference names a callable window -> (denoised, logits); --source a callable (n, seed) ->
iterable of int8 [channels, length] windows. Both default to the stub model's twin.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.firmware.build import STUB_MODEL_DIR, build_firmware  # noqa: E402
from edgekit.firmware.targets import known_boards, load_board  # noqa: E402
from edgekit.harness.device import open_device  # noqa: E402
from edgekit.harness.evaluate import evaluate  # noqa: E402
from edgekit.harness.report import write_report  # noqa: E402


def load_callable(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", required=True, help=f"one of: {', '.join(known_boards())}")
    ap.add_argument("--model-dir", default=str(STUB_MODEL_DIR), help="directory with model.c/model.h")
    ap.add_argument("--elf", help="use this firmware instead of building one")
    ap.add_argument("--port", help="serial port of a real board")
    ap.add_argument("--serial", choices=("socket", "pty"), default="socket", help="QEMU serial mode")
    ap.add_argument("--windows", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference", default="edgekit.firmware.stub_model:reference")
    ap.add_argument("--source", default="edgekit.firmware.stub_model:random_windows")
    ap.add_argument("--out", help="report directory (default: out/<board>)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    board = load_board(args.board)
    out = Path(args.out or f"out/{board.name}")
    if args.elf:
        elf = Path(args.elf)
    else:
        info = build_firmware(args.model_dir, board, out / "build")
        elf = info.path
        print(f"built {elf}: flash {info.flash_bytes} B, ram {info.ram_bytes} B", flush=True)

    reference, source = load_callable(args.reference), load_callable(args.source)
    with open_device(board, elf, port=args.port, serial=args.serial) as dev:
        print(f"started {board.kind} pid {getattr(dev.runner, 'pid', None)}", flush=True)
        result = evaluate(dev, source(args.windows, args.seed), reference, limit=args.windows,
                          progress=not args.no_progress)
    paths = write_report(result, out)
    print(json.dumps(result.summary()))
    print(f"report: {paths['markdown']}")
    return 0 if result.bit_exact else 1


if __name__ == "__main__":
    sys.exit(main())

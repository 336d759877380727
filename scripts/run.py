#!/usr/bin/env python3
"""Compile the model for a target, build its firmware, run it (QEMU or a real board), stream
real test ECG windows, check every output bit for bit against the integer reference, score
denoising and AF from the device's outputs, and report.

  scripts/run.py --target cortex-m7 --qemu                         # 200 windows, QEMU mps2-an500
  scripts/run.py --target riscv32 --windows 500 --snr -6,0,6,12 --noise em
  scripts/run.py --board nucleo-f746zg --port /dev/ttyACM0         # a real board
  scripts/run.py --target cortex-m4 --segments                     # + segment-level AF
  scripts/run.py --board mps2-an500 --model stub --windows 50      # the stub model, random windows

Windows: held-out test records (edgekit.data.split_records(...)['test']) mixed with NSTDB test
noise at the SNRs in turn (window i at SNR i mod len). Writes REPORT/run.json, report.md,
layers.png (instructions per layer), arena.png (the arena plan), denoise_example.png (+ REPORT/model: the compiled C, REPORT/firmware:
the ELF), prints the report.

Messages go to stderr (-q: none, -v: more); stdout holds the report, or with --json run.json.

Exit status: 0 all windows bit-exact (and device metrics == reference metrics), 1 a mismatch,
2 the run could not be set up (bad arguments, model missing or too large, toolchain missing).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.cli import add_common_args, command_line, log, main_guard, setup_logging  # noqa: E402
from edgekit.firmware.targets import known_boards, known_targets, load_board  # noqa: E402


def parse_snrs(text: str) -> tuple[float, ...]:
    from edgekit.data.mixing import check_snr

    try:
        snrs = tuple(float(s) for s in text.replace(" ", "").split(",") if s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--snr takes a comma-separated list of dB values, got {text!r}")
    try:
        check_snr(snrs)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    return snrs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="edgekit run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", help=f"one of: {', '.join(known_targets())}; or your own target .toml")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--qemu", action="store_true",
                       help="run in QEMU on the target's default QEMU board (the default without --port)")
    where.add_argument("--port", help="serial port of a real board (with --board), e.g. /dev/ttyACM0; 'auto': "
                       "the one plugged-in board whose USB debug probe fits --board (edgekit boards --connected)")
    ap.add_argument("--no-flash", action="store_true",
                    help="with --port: do not flash; stream to a board that already runs this firmware")
    ap.add_argument("--board", help=f"one of: {', '.join(known_boards())}, or your own board .toml "
                    "(default: the target's QEMU board)")
    ap.add_argument("--model", help="the int8 ONNX QDQ model file (default: the shipped models/acdae/model.onnx), "
                    "or 'stub' (the firmware's stub model on random windows)")
    ap.add_argument("--windows", type=int, default=200, help="windows to stream (default %(default)s)")
    ap.add_argument("--snr", type=parse_snrs, default=(0.0, 12.0, 24.0),
                    help="input SNRs in dB, comma-separated, cycled over the windows (default 0,12,24)")
    ap.add_argument("--noise", default="mixed", choices=("mixed", "bw", "ma", "em", "none"),
                    help="NSTDB noise kind (default %(default)s; none = clean windows)")
    ap.add_argument("--segments", action="store_true",
                    help="stream whole 4-window segments (11.4 s) and score AF per segment too")
    ap.add_argument("--seed", type=int, default=0, help="noise placement seed (default 0)")
    ap.add_argument("--data-dir", help="PhysioNet data (default $EDGEKIT_DATA or ../shared/data)")
    ap.add_argument("--report", "--out", dest="report", help="report directory (default out/<target>)")
    ap.add_argument("--elf", help="run this firmware instead of compiling and building one")
    ap.add_argument("--serial", choices=("socket", "pty"), default="socket", help="QEMU serial mode")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common_args(ap, json_help="print run.json on stdout instead of the report (messages on stderr)")
    a = ap.parse_args(argv)
    setup_logging(a)
    if a.board and a.qemu and a.board in known_boards() and load_board(a.board).kind != "qemu":
        ap.error(f"--qemu runs a QEMU board, and {a.board} is a real board: give --port instead")
    if a.windows < 1:
        ap.error("--windows must be at least 1")
    if a.no_flash and not a.port:
        ap.error("--no-flash streams to a real board: give --port (and --board)")
    from edgekit.harness.pipeline import DEFAULT_MODEL, RunConfig, RunError, run
    if a.port == "auto":
        from edgekit.harness.ports import auto_port
        a.port = auto_port(a.board)
        log.info(f"--port auto: {a.port}")
    model = a.model or str(DEFAULT_MODEL)
    cfg = RunConfig(target=a.target, board=a.board, port=a.port, model=model, windows=a.windows,
                    snrs=a.snr, noise=a.noise, segments=a.segments, seed=a.seed, data_dir=a.data_dir,
                    report_dir=a.report, elf=a.elf, serial=a.serial, timeout=a.timeout,
                    progress=not a.no_progress and not a.quiet, flash=not a.no_flash,
                    command=command_line("run.py", argv))
    try:
        out = run(cfg, log=log.info)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 -- setup errors that name their fix (toolchain, data, model)
        from edgekit.compiler import CompilerError, UnsupportedModelError
        from edgekit.data import DataError
        from edgekit.firmware.build import BuildError
        from edgekit.harness.board import BoardError
        from edgekit.harness.qemu import QemuError
        if isinstance(e, (CompilerError, UnsupportedModelError, DataError, BuildError, QemuError, BoardError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise
    if a.json:
        import json
        print(json.dumps(out.run, indent=1, default=str))
    else:
        from edgekit.harness.report import format_run
        print()
        print(format_run(out.run))
    log.info(f"report: {out.paths['markdown']}  (run.json, PNGs alongside)")
    return out.exit_code


if __name__ == "__main__":
    main_guard(main)

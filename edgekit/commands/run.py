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
layers.png (instructions per layer), arena.png (the arena plan), denoise_example.png (+ REPORT/model:
the compiled C library, REPORT/firmware: the ELF), prints the report. Messages and the report go to
stdout (-q: fewer, -v: more); with --json stdout holds run.json and messages go to stderr.

Every result is appended to REPORT/run.jsonl as it arrives; run.json and report.md are written
from it also when the run stops early (link lost, SIGINT, SIGTERM), and

  scripts/run.py --resume REPORT                                   # continue after the last window

continues that run (same windows, same firmware; only --timeout, --port, --serial, --no-flash and
--no-progress may change) and ends with the run.json an uninterrupted run gives (wall-clock facts
aside: they are under its "session" key).

Exit status (edgekit.cli): 0 all windows bit-exact (and device metrics == reference metrics),
1 a mismatch, 2 usage or setup error (bad arguments, unknown board or target, model, ELF, port,
QEMU or flash tool missing, model too large), 3 build failure, 4 link lost or device fault
(the run can be resumed), 130 / 143 interrupted by SIGINT / SIGTERM (resumable too). Every
expected failure is one `error: ...` line on stderr.
"""
from __future__ import annotations

import argparse
import signal
import sys

from edgekit.cli import add_common_args, command_line, exit_code_of, log, one_line, setup_logging
from edgekit.firmware.targets import known_boards, known_targets, load_board


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


def _terminated(signum, frame):
    from edgekit.harness.pipeline import Interrupted
    raise Interrupted()


def main(argv=None) -> int:
    """The command; expected errors become one `error:` line on stderr and their exit code."""
    old = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _main(argv)
    except Exception as e:  # noqa: BLE001 -- re-raised unless expected (a bug keeps its traceback)
        code = exit_code_of(e)
        if code is None:
            raise
        print(f"error: {one_line(e)}", file=sys.stderr)
        return code
    except KeyboardInterrupt as e:  # before the stream started: nothing to save
        print("error: interrupted", file=sys.stderr)
        return 130 if type(e) is KeyboardInterrupt else 143  # Interrupted: SIGTERM
    finally:
        signal.signal(signal.SIGTERM, old)


def _main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="edgekit run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", help=f"one of: {', '.join(known_targets())}; or your own target .toml")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--qemu", action="store_true",
                       help="run in QEMU on the target's default QEMU board (the default without --port)")
    where.add_argument("--port", help="serial port of a real board (with --board), e.g. /dev/ttyACM0; 'auto': "
                       "the one plugged-in board whose USB debug probe fits --board (edgekit boards --connected)")
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
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds for every wait: QEMU's start, the hello, each window (default 10)")
    ap.add_argument("--no-flash", action="store_true", help="a real board that already runs the firmware: "
                    "do not flash it, just open --port")
    ap.add_argument("--resume", metavar="REPORT", help="continue the run whose report folder is REPORT")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common_args(ap, json_help="print run.json on stdout instead of the report (messages on stderr)")
    a = ap.parse_args(argv)
    setup_logging(a)
    from edgekit.harness.pipeline import DEFAULT_MODEL, RunConfig, run  # after parsing: --help stays fast
    if a.port == "auto":
        from edgekit.harness.ports import auto_port
        a.port = auto_port(a.board)
        log.info(f"--port auto: {a.port}")
    if a.timeout <= 0:
        ap.error("--timeout must be positive")
    if a.resume:
        given = [f"--{k}" for k in ("target", "board", "elf", "report") if getattr(a, k)]
        if given:
            ap.error(f"--resume continues the logged run as it was: drop {', '.join(given)}")
        return _report(run(RunConfig(report_dir=a.resume, port=a.port, serial=a.serial, timeout=a.timeout,
                                     flash=not a.no_flash, progress=not a.no_progress and not a.quiet,
                                     resume=True),
                           log=log.info), a.json)
    if a.no_flash and not a.port:
        ap.error("--no-flash streams to a real board: give --port (and --board)")
    if a.board and a.qemu and a.board in known_boards() and load_board(a.board).kind != "qemu":
        ap.error(f"--qemu runs a QEMU board, and {a.board} is a real board: give --port instead")
    if a.windows < 1:
        ap.error("--windows must be at least 1")
    model = a.model or str(DEFAULT_MODEL)
    cfg = RunConfig(target=a.target, board=a.board, port=a.port, model=model, windows=a.windows,
                    snrs=a.snr, noise=a.noise, segments=a.segments, seed=a.seed, data_dir=a.data_dir,
                    report_dir=a.report, elf=a.elf, serial=a.serial, timeout=a.timeout,
                    flash=not a.no_flash, progress=not a.no_progress and not a.quiet,
                    command=command_line("run.py", argv))
    return _report(run(cfg, log=log.info), a.json)


def _report(out, as_json: bool = False) -> int:
    if as_json:
        import json
        print(json.dumps(out.run, indent=1, default=str))
    else:
        from edgekit.harness.report import format_run
        print()
        print(format_run(out.run))
    log.info(f"report: {out.paths['markdown']}  (run.json, PNGs alongside)")
    return out.exit_code


if __name__ == "__main__":
    sys.exit(main())

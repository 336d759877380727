"""Compile an int8 ONNX QDQ model into standalone C for a target and measure it.

    python scripts/compile.py --target cortex-m7
    python scripts/compile.py --target riscv32 --model models/acdae/model.onnx --out build/riscv32
    python scripts/compile.py --target host --no-firmware
    python scripts/compile.py --target cortex-m7 --kernels generic   # without the target's overlays

Writes OUT (default build/<target>):
    OUT/lib/        the library for your firmware: model.h, model.c, kernels.h, kernels.c (+ the
                    tvm/ stand-in and overlay headers they include), CMakeLists.txt (static library
                    edgekit_model + examples/main.c), cmake/<cross toolchain>.cmake, compile.json
    OUT/obj/        model.c + kernels.c cross-compiled at -Wall -Wextra -Werror -fstack-usage
    OUT/firmware/   the firmware ELF for the target's default board (or --board)
    OUT/arena.png   the arena plan: each buffer's bytes over the execution steps it is live
and prints a table (layers, MACs, arena and its lower bound, weights, code from *-size, stack
from the .su files, seconds).

Exit status (edgekit.cli): 0 ok; 2 usage or setup error: the model, target or board is
missing, unknown or malformed, the model cannot be compiled, a toolchain is missing; 3 build
failure: the generated C or the firmware did not compile or link. Errors are one line on stderr;
messages and the table go to stdout (-q: fewer, -v: more); with --json stdout holds compile.json
and messages go to stderr.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from edgekit.cli import (EXIT_BUILD, add_common_args, exit_code_of, fail, log, main_guard, one_line,
                         setup_logging)
from edgekit.firmware.targets import known_targets  # light: the compiler is imported after parsing


def _firmware_hook():
    """edgekit.firmware.build.build_firmware(model_dir, board, out_dir), if it exists."""
    try:
        from edgekit.firmware.build import build_firmware
    except ImportError:
        return None
    return build_firmware


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="edgekit compile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True,
                   help=f"one of: {', '.join(known_targets())}; or the path of your own target .toml")
    p.add_argument("--model", help="the int8 ONNX QDQ model file (default: the shipped models/acdae/model.onnx)")
    p.add_argument("--out", help="output folder: OUT/lib (the library), OUT/obj, OUT/firmware "
                   "(default build/<target>)")
    p.add_argument("--opt", default="-O2", help="optimisation flag for the cross compile (default -O2)")
    p.add_argument("--kernels", help="kernel set: generic, or an edgekit/ops/overlays set "
                   "(default: the target's `kernels`)")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per layer (do not fuse skip adds)")
    p.add_argument("--no-inplace", action="store_true", help="never let a layer overwrite its input")
    p.add_argument("--no-firmware", action="store_true", help="do not build the firmware ELF")
    p.add_argument("--board", help="board for the firmware ELF (default: the target's default board); "
                   "or the path of your own board .toml")
    p.add_argument("--name", default="edgekit", help="C symbol prefix: --name ecg gives ecg_run(...), ECG_ARENA_BYTES "
                   "(default edgekit: edgekit_model_run; the firmware templates need the default, so another "
                   "prefix builds the library only)")
    add_common_args(p, json_help="print compile.json on stdout instead of the table")
    a = p.parse_args(argv)
    setup_logging(a)
    t0 = time.perf_counter()
    from edgekit.compiler import compile_model, format_table
    from edgekit.compiler.driver import DEFAULT_MODEL
    from edgekit.firmware.targets import load_board, load_target
    target = load_target(a.target)  # an unknown target or a bad path fails here, before any file is written
    out = Path(a.out) if a.out else Path("build", target.name)
    model = Path(a.model) if a.model else DEFAULT_MODEL
    board = a.board
    if board is None and not a.no_firmware:
        board = target.default_board
    if board is not None:  # a typo fails here, before the slow compile
        b = load_board(board)
        if b.target != target.name:
            fail(f"board {board} has target {b.target!r}, not {target.name!r}; give --target {b.target}")
    res = compile_model(model, target, out / "lib", fuse=not a.no_fuse, inplace=not a.no_inplace, opt=a.opt,
                        kernels=a.kernels, build_dir=out / "obj", name=a.name)
    rep = res.report
    from edgekit.compiler.arena_plot import plot_arena
    plot_arena(rep["arena_plan"], rep["arena_bytes"], out / "arena.png", title=rep["model_name"] or "")
    if not a.json:
        print(format_table(rep))
    log.info(f"wrote the library {res.out_dir}/ (model.h, model.c, kernels.*, CMakeLists.txt, examples/main.c, "
             f"compile.json) and {out}/arena.png ({rep['seconds']:.2f} s)")
    if a.no_firmware or a.name != "edgekit":
        if a.json:
            print(json.dumps(rep, indent=1))
        return 0
    build_firmware = _firmware_hook()
    if build_firmware is None:
        log.warning("firmware: edgekit.firmware.build is not available; skipped")
        return 0
    try:
        elf = build_firmware(res.out_dir, board, out / "firmware")
    except Exception as e:  # noqa: BLE001 -- report any firmware failure, the C is still there
        fail(f"firmware build for {board} failed: {one_line(e)}", exit_code_of(e) or EXIT_BUILD)
    rep["firmware"] = {"board": board, "elf": str(getattr(elf, "path", elf)),
                       "flash_bytes": getattr(elf, "flash_bytes", None), "ram_bytes": getattr(elf, "ram_bytes", None)}
    rep["seconds_total"] = round(time.perf_counter() - t0, 3)
    (res.out_dir / "compile.json").write_text(json.dumps(rep, indent=1) + "\n")
    line = (f"firmware            {board}: {rep['firmware']['elf']} (flash {rep['firmware']['flash_bytes']:,} B, "
            f"RAM {rep['firmware']['ram_bytes']:,} B)")
    if a.json:
        print(json.dumps(rep, indent=1))
        log.info(line)
    else:
        print(line)
    return 0


if __name__ == "__main__":
    main_guard(main)

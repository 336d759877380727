"""Kernel benchmark: compile the model for a target with its kernel set (targets/*.toml
`kernels`, edgekit/ops/overlays) and with the generic kernels, run both under QEMU on the
same windows (every output checked bit for bit against the integer reference), and print
exact instruction counts (QEMU -icount) per window, per MAC and per layer, the kernel each
layer used, and the ratio to the generic kernels for the same layers.

    python scripts/bench.py --target cortex-m7
    python scripts/bench.py --target riscv32 --windows 50 --model models/acdae/model.onnx
    python scripts/bench.py --target cortex-m55 --kernels generic        # generic only

Windows: held-out ECG test windows (as run.py), or --random-windows. Writes OUT/bench.json
and OUT/bench.md (the per-layer table as Markdown, for the README) (default OUT:
build/bench/<target>), plus each build under OUT/<kernel set>/.

Exit status: 0 every window bit-exact in both builds, 1 a mismatch, 2 the benchmark could not
be set up (bad arguments, model or toolchain or QEMU missing).
"""
import argparse
import sys
from pathlib import Path

from edgekit.cli import add_common_args, log, main_guard, setup_logging
from edgekit.firmware.targets import known_targets


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="edgekit bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--summary", nargs="+", metavar="BENCH_JSON",
                   help="print the front page's table from these bench.json files (one per target) and exit")
    p.add_argument("--target", choices=[t for t in known_targets() if t != "host"],
                   help="the target to benchmark under QEMU")
    p.add_argument("--model", help="the int8 ONNX QDQ model file (default: the shipped models/acdae/model.onnx)")
    p.add_argument("--windows", type=int, default=20, help="windows per build (default %(default)s)")
    p.add_argument("--kernels", help="kernel set to compare with generic (default: the target's)")
    p.add_argument("--board", help="QEMU board (default: the target's)")
    p.add_argument("--random-windows", action="store_true", help="random int8 windows instead of ECG")
    p.add_argument("--seed", type=int, default=0, help="window selection / random window seed (default 0)")
    p.add_argument("--data-dir", help="PhysioNet data (default $EDGEKIT_DATA or ../shared/data)")
    p.add_argument("--out", help="output folder (default build/bench/<target>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common_args(p, json_help="print bench.json on stdout instead of the table (messages on stderr)")
    a = p.parse_args(argv)
    setup_logging(a)
    if a.summary:
        import json
        from edgekit.harness.bench import summary_markdown
        print(summary_markdown([json.loads(Path(f).read_text()) for f in a.summary]))
        return 0
    if a.target is None:
        p.error("--target is required (or --summary)")
    if a.windows < 1:
        p.error("--windows must be at least 1")
    from edgekit.compiler.driver import DEFAULT_MODEL
    model = Path(a.model) if a.model else DEFAULT_MODEL
    from edgekit.compiler import CompilerError, UnknownTargetError, UnsupportedModelError
    from edgekit.firmware.build import ToolchainMissingError
    from edgekit.harness.bench import BenchError, bench, format_bench
    from edgekit.harness.pipeline import RunError
    from edgekit.harness.qemu import QemuMissingError
    from edgekit.ops import KernelError

    try:
        rep = bench(a.target, model, a.windows, board=a.board, out_dir=a.out, kernels=a.kernels,
                    random_windows=a.random_windows, seed=a.seed, data_dir=a.data_dir,
                    progress=not a.no_progress and not a.quiet)
    except (CompilerError, UnknownTargetError, UnsupportedModelError, ToolchainMissingError, QemuMissingError,
            BenchError, RunError, KernelError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.json:
        import json
        print(json.dumps(rep, indent=1, default=str))
    else:
        print(format_bench(rep))
    log.info(f"wrote {rep['path']} and bench.md")
    return 0 if rep["bit_exact"] else 1


if __name__ == "__main__":
    main_guard(main)

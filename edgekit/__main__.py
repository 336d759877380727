"""The `edgekit` command: one entry point for every stage.

    edgekit compile --target cortex-m7                 # = python scripts/compile.py ...
    edgekit run --target cortex-m7 --qemu              # = python scripts/run.py ...
    edgekit boards [--connected]
    python -m edgekit --version

Each subcommand is a module of edgekit.commands with main(argv); in a checkout, a stage whose
module is not there yet runs scripts/<stage>.py's main(argv). Nothing heavy (TVM, onnx, torch) is
imported before the subcommand has parsed its arguments, so --help answers at once; only train
and evaluate import torch.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from . import __version__
from .cli import EXIT_USAGE, main_guard

COMMANDS = {
    "compile": "compile an int8 ONNX model into a C library (+ firmware for a board)",
    "run": "run the model on QEMU or a board, stream ECG windows, check bit for bit, report",
    "validate": "check that a model can be compiled and runs bit-exact (ONNX vs integer reference vs C)",
    "bench": "exact instruction counts per layer: the target's kernels against the generic ones",
    "boards": "list the boards (core, clock, memory, flash tool, QEMU) or the ones plugged in",
    "train": "train the ACDAE and export the int8 model (needs edgekit[train]: torch)",
    "evaluate": "score a trained model on the held-out test records (needs edgekit[train]: torch)",
}


def _scripts_dir() -> Path:
    # a checkout keeps its scripts beside the package
    return Path(__file__).resolve().parent.parent / "scripts"


def command_main(name: str):
    """The main(argv) of subcommand `name`, or None when this install does not have it."""
    try:
        return importlib.import_module(f"edgekit.commands.{name}").main
    except ModuleNotFoundError as e:
        if e.name != f"edgekit.commands.{name}":
            raise
    script = _scripts_dir() / f"{name}.py"
    if not script.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"edgekit_script_{name}", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="edgekit", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="edgekit: an int8 ECG network on a microcontroller, checked bit for bit on the device.",
        epilog="commands:\n" + "\n".join(f"  {k:<9} {v}" for k, v in COMMANDS.items())
        + "\n\n'edgekit COMMAND --help' for a command's options. Exit status: 0 ok, 1 device mismatch, "
        "2 usage or setup error, 3 build failure, 4 link lost.")
    p.add_argument("--version", action="version", version=f"edgekit {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="more messages (passed to the command)")
    p.add_argument("-q", "--quiet", action="store_true", help="fewer messages (passed to the command)")
    p.add_argument("command", choices=list(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    p.add_argument("args", nargs=argparse.REMAINDER, help="the command's options (see edgekit COMMAND --help)")
    a = p.parse_args(argv)
    sub = command_main(a.command)
    if sub is None:
        print(f"error: 'edgekit {a.command}' is not available in this install", file=sys.stderr)
        return EXIT_USAGE
    args = [*(["-v"] if a.verbose else []), *(["-q"] if a.quiet else []), *a.args]
    return sub(args)


def run() -> None:
    """The console-script entry point ([project.scripts] edgekit)."""
    main_guard(main)


if __name__ == "__main__":
    run()

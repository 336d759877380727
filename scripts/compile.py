#!/usr/bin/env python3
"""Compile an int8 ONNX model into a C library and firmware: `edgekit compile` (edgekit/commands/compile.py); --help lists the options."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout: its own edgekit

from edgekit.cli import main_guard  # noqa: E402
from edgekit.commands.compile import main  # noqa: E402

if __name__ == "__main__":
    main_guard(main)

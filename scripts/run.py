#!/usr/bin/env python3
"""Run the model on QEMU or a board and check every window bit for bit: `edgekit run` (edgekit/commands/run.py); --help lists the options."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout: its own edgekit

from edgekit.cli import main_guard  # noqa: E402
from edgekit.commands.run import main  # noqa: E402

if __name__ == "__main__":
    main_guard(main)

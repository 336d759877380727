#!/usr/bin/env python3
"""Exact instruction counts per layer, the target's kernels against the generic ones: `edgekit bench` (edgekit/commands/bench.py); --help lists the options."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout: its own edgekit

from edgekit.cli import main_guard  # noqa: E402
from edgekit.commands.bench import main  # noqa: E402

if __name__ == "__main__":
    main_guard(main)

#!/usr/bin/env python3
"""Score a trained model on the held-out test records: `edgekit evaluate` (edgekit/commands/evaluate.py); --help lists the options."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout: its own edgekit

from edgekit.cli import main_guard  # noqa: E402
from edgekit.commands.evaluate import main  # noqa: E402

if __name__ == "__main__":
    main_guard(main)

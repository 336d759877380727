#!/usr/bin/env python3
"""Validate a model on a device (onnxruntime vs integer reference vs host C vs device): `edgekit validate` (edgekit/commands/validate.py); --help lists the options."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a checkout: its own edgekit

from edgekit.cli import main_guard  # noqa: E402
from edgekit.commands.validate import main  # noqa: E402

if __name__ == "__main__":
    main_guard(main)

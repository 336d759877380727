"""Shared by the scripts: turn the errors a user can fix into one 'error:' line and exit 2."""
from __future__ import annotations

import sys
from typing import Callable


def run_main(main: Callable[[], int | None]) -> None:
    from .data import DataError
    from .quant.format import ModelFormatError
    from .quant.onnx_import import UnsupportedModelError

    try:
        sys.exit(main() or 0)
    except (DataError, ModelFormatError, UnsupportedModelError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)

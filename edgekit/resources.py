"""Where edgekit's own files are: found through importlib.resources, so the same code works in a
checkout, an editable install and an installed wheel.

Package data (``edgekit/_data``; in a checkout these are links to the repository folders, and a
wheel holds copies)::

    targets_dir()      targets/*.toml          (boards: targets_dir() / "boards")
    templates_dir()    firmware_templates/     (startup, UART drivers, linker scripts, main.c)
    default_model()    the shipped int8 model: models/acdae/model.onnx (+ model.json beside it)

The compiler's stand-in headers (``edgekit/compiler/include``) and the overlays' C headers
(``edgekit/ops/overlays/*/``) are ordinary package files and are found the same way.

Users add targets and boards of their own by path (``--target ./my.toml``) or through the
search path ``$EDGEKIT_TARGETS`` (folders separated by ``os.pathsep``; a folder holds
``<name>.toml`` targets and ``boards/<name>.toml`` boards; earlier folders win over the shipped
ones). This module imports nothing heavy.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

SEARCH_PATH_VAR = "EDGEKIT_TARGETS"


def _data(*parts: str) -> Path:
    # edgekit is a plain (non-zip) package: the Traversable is a real path.
    return Path(str(resources.files("edgekit").joinpath("_data", *parts)))


def package_file(*parts: str) -> Path:
    """A file or folder inside the edgekit package, e.g. package_file("compiler", "include")."""
    return Path(str(resources.files("edgekit").joinpath(*parts)))


def targets_dir() -> Path:
    """The shipped targets (boards in its boards/ subfolder)."""
    return _data("targets")


def templates_dir() -> Path:
    """The shipped firmware templates."""
    return _data("firmware_templates")


def default_model() -> Path:
    """The shipped model's model.onnx (its model.json sidecar is beside it)."""
    return _data("models", "acdae", "model.onnx")


def search_path() -> list[Path]:
    """The target folders, first match wins: $EDGEKIT_TARGETS's folders, then the shipped ones."""
    extra = [Path(p) for p in os.environ.get(SEARCH_PATH_VAR, "").split(os.pathsep) if p.strip()]
    return [*extra, targets_dir()]

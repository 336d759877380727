"""The frozen model format: an int8 ONNX QDQ file plus a JSON sidecar, both versioned."""
from __future__ import annotations

import json
from pathlib import Path

FORMAT_NAME = "edgekit-model"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)


class ModelFormatError(Exception):
    exit_code = 2  # a usage/setup error for edgekit.cli.main_guard


def read_sidecar(onnx_path: str | Path) -> dict | None:
    """The sidecar next to a model file, checked for a known version; None when there is none."""
    path = Path(onnx_path).with_suffix(".json")
    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFormatError(f"{path} is not valid JSON ({e}); re-export the model") from None
    if not isinstance(meta, dict):
        raise ModelFormatError(f"{path} is not a model sidecar (a JSON object); re-export the model")
    check_version(meta.get("format"), meta.get("version"), path)
    return meta


def check_version(fmt, version, where) -> None:
    if fmt != FORMAT_NAME:
        raise ModelFormatError(f"{where}: format {fmt!r} is not {FORMAT_NAME!r}; "
                               "export the model with edgekit.quant.export_model")
    try:
        v = int(version)
    except (TypeError, ValueError):
        v = None
    if v not in SUPPORTED_VERSIONS:
        raise ModelFormatError(f"{where}: model format version {version!r} is unknown to this edgekit "
                               f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))}); "
                               "re-export the model with this edgekit or upgrade edgekit")

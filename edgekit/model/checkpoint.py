"""Reading torch files without unpickling code: every load is torch.load(weights_only=True).

A .pt file is a pickle, and a pickle can run any code when it is loaded. weights_only=True
restricts the unpickler to tensors and plain containers (dict, list, tuple, str, int, float,
bool, None), so what edgekit saves (state dicts, optimizer state, the torch RNG state as a
uint8 tensor, the history as a JSON string) loads, and a planted object is refused before it
can run. A refused or unreadable file is a CheckpointError naming the file (exit 2 in the
scripts)."""
from __future__ import annotations

from pathlib import Path

import torch


class CheckpointError(Exception):
    """A weights or checkpoint file cannot be loaded safely or is not what edgekit wrote."""
    exit_code = 2  # a usage/setup error for edgekit.cli.main_guard


def load_torch_file(path: str | Path, what: str = "weights file") -> object:
    """torch.load(path, weights_only=True), with one clear error for a file that is missing,
    not a torch file, or holds anything but tensors and plain containers."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist")
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 -- UnpicklingError, RuntimeError (not a zip), EOFError...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{what} {path} was refused: it is not a plain torch weights file "
                              f"({type(e).__name__}: {first}); edgekit never unpickles code. "
                              "Delete the file if you did not write it") from None


def load_checkpoint(path: str | Path, keys: tuple[str, ...]) -> dict:
    """A training checkpoint: a dict with at least `keys`, loaded without unpickling code."""
    state = load_torch_file(path, "checkpoint")
    if not isinstance(state, dict) or any(k not in state for k in keys):
        have = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"checkpoint {path} is not an edgekit training checkpoint (keys {have}, "
                              f"expected {list(keys)}); delete it or drop --resume")
    return state

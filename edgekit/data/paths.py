"""Find the data directory: explicit argument > $EDGEKIT_DATA > <repo>/../shared/data."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import DataError

ENV_VAR = "EDGEKIT_DATA"
# edgekit/data/paths.py -> parents[2] is the repository root (checkout / editable install).
_DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def how_to_get(dir_hint: str = "DIR") -> str:
    """The instructions appended to every 'data not found' message."""
    return (
        "Get the databases from PhysioNet, e.g.\n"
        f"  python -c \"import wfdb; wfdb.dl_database('mitdb', '{dir_hint}/mitdb'); "
        f"wfdb.dl_database('nstdb', '{dir_hint}/nstdb')\"\n"
        f"then pass --data-dir {dir_hint} or set {ENV_VAR}={dir_hint}."
    )


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory (must exist and contain mitdb/), else DataError naming the path tried."""
    if data_dir is not None:
        path, source = Path(data_dir), "the data_dir argument"
    elif os.environ.get(ENV_VAR):
        path, source = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        path, source = _DEFAULT, f"the default; no data_dir given and ${ENV_VAR} unset"
    path = path.expanduser()
    if not path.is_dir():
        raise DataError(f"data directory {path} ({source}) does not exist.\n{how_to_get()}")
    if not (path / "mitdb").is_dir():
        raise DataError(f"data directory {path} ({source}) has no mitdb/ folder "
                        f"(MIT-BIH Arrhythmia Database).\n{how_to_get(str(path))}")
    return path.resolve()


def require_file(path: Path, what: str) -> Path:
    """Raise DataError naming `what` (e.g. 'mitdb record 100') and the missing file."""
    if not path.is_file():
        raise DataError(f"{what}: file {path} is missing.\n{how_to_get(str(path.parent.parent))}")
    return path

"""Reading WFDB files (header, signals, annotations) with errors that name the file.

wfdb reads a truncated .dat as "could not broadcast input array", a truncated .atr as "cannot
reshape array", and an empty .atr as a record without annotations. Here each of these is a
DataError that names the file and says it is truncated or corrupt."""
from __future__ import annotations

from pathlib import Path

import wfdb

from .errors import DataError

# bytes per sample of the WFDB signal formats edgekit's databases use
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3, "311": 4 / 3, "24": 3,
                     "32": 4}


def _corrupt(path: Path, what: str, why) -> DataError:
    return DataError(f"{what}: file {path} is truncated or corrupt ({why}); download it again")


def read_header(base: Path, what: str):
    path = base.with_suffix(".hea")
    try:
        return wfdb.rdheader(str(base))
    except Exception as e:  # noqa: BLE001 -- wfdb raises IndexError, ValueError, ... on bad headers
        raise _corrupt(path, what, f"{type(e).__name__}: {e}") from None


def read_signals(base: Path, what: str, header):
    """wfdb.rdrecord(physical=False), after checking each signal file holds all its samples."""
    files: dict[str, list] = {}
    for f, fmt in zip(header.file_name, header.fmt):
        files.setdefault(f, []).append(str(fmt))
    for f, fmts in files.items():
        path = base.parent / f
        if all(fm in _BYTES_PER_SAMPLE for fm in fmts) and header.sig_len:
            need = int(header.sig_len * sum(_BYTES_PER_SAMPLE[fm] for fm in fmts))
            have = path.stat().st_size if path.is_file() else 0
            if have < need:
                raise _corrupt(path, what, f"{have:,} bytes, the header needs {need:,} for {header.sig_len:,} "
                                           f"samples x {len(fmts)} signals")
    try:
        rec = wfdb.rdrecord(str(base), physical=False)
    except Exception as e:  # noqa: BLE001
        raise _corrupt(base.parent / header.file_name[0], what, f"{type(e).__name__}: {e}") from None
    if rec.d_signal is None or rec.d_signal.shape[0] != header.sig_len:
        raise _corrupt(base.parent / header.file_name[0], what, "fewer samples than the header says")
    return rec


def read_annotations(base: Path, extension: str, what: str):
    """wfdb.rdann, after checking the file ends with the end-of-annotations marker (two zero bytes)."""
    path = base.with_suffix("." + extension)
    data = path.read_bytes()
    if len(data) < 2 or data[-2:] != b"\0\0":
        raise _corrupt(path, what, "no end-of-annotations marker")
    try:
        return wfdb.rdann(str(base), extension)
    except Exception as e:  # noqa: BLE001
        raise _corrupt(path, what, f"{type(e).__name__}: {e}") from None

"""The run log: ``REPORT/run.jsonl``, one JSON object per line, appended and flushed as results
arrive, so a run that dies (link lost, QEMU killed, SIGINT, SIGTERM) keeps every window it got,
and ``--resume REPORT`` continues after the last acknowledged window.

Lines, by ``kind``:

* ``run``: written once, first: the run's configuration (what decides the windows and their
  expected outputs) and what was built (ELF, sizes, compile report);
* ``hello``: the device's hello (once; a resumed run checks the device still runs that model);
* ``window``: one per acknowledged window: its comparison with the reference, its count and per
  layer counts, its logits, and, when it is not bit-exact, the device's denoised output
  (base64); a bit-exact window's output is the reference's, so it is not stored twice;
* ``session``: wall-clock facts of one session (start, stop, why it stopped, seconds, link
  retries), kept apart because they differ from run to run.

run.json is made from this file alone (pipeline.finish), so an interrupted-and-resumed run ends
with the same run.json as an uninterrupted one, wall-clock items aside (its ``session`` key).
A line cut short by a kill is dropped when the log is read, and cut off before a resume appends.
"""
from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .evaluate import WindowResult
from .protocol import HelloInfo

LOG_NAME = "run.jsonl"
FORMAT = 1


class RunLogError(ValueError):
    """A run log that cannot be resumed (missing, of another format, or of another run)."""

    exit_code = 2


class RunLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.run: dict | None = None
        self.hello: dict | None = None
        self.windows: dict[int, dict] = {}
        self.sessions: list[dict] = []
        self._f = None

    # ---- reading
    @classmethod
    def read(cls, path) -> "RunLog":
        log = cls(path)
        if not log.path.is_file():
            raise RunLogError(f"{log.path}: no run log here (is this the report folder of a run?)")
        data = log.path.read_bytes()
        for n, line in enumerate(data.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if n == data.count(b"\n") + 1:  # the last line, cut short by a kill
                    continue
                raise RunLogError(f"{log.path}:{n}: not a JSON line")
            log._add(rec)
        if log.run is None:
            raise RunLogError(f"{log.path}: no 'run' line")
        if log.run.get("format") != FORMAT:
            raise RunLogError(f"{log.path}: run log format {log.run.get('format')}, this edgekit reads {FORMAT}")
        return log

    def _add(self, rec: dict) -> None:
        kind = rec.get("kind")
        if kind == "run":
            self.run = rec
        elif kind == "hello" and self.hello is None:
            self.hello = rec["hello"]
        elif kind == "window":
            self.windows.setdefault(int(rec["index"]), rec)  # never counted twice
        elif kind == "session":
            self.sessions.append(rec)

    @property
    def next_window(self) -> int:
        """The first window not acknowledged yet (windows are acknowledged in order)."""
        n = 0
        while n in self.windows:
            n += 1
        return n

    # ---- writing
    def open_for_append(self) -> "RunLog":
        """Open for appending; a partial last line (a kill mid-write) is cut off first."""
        if self.path.exists():
            data = self.path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end != len(data):
                with self.path.open("r+b") as f:
                    f.truncate(end)
        self._f = self.path.open("a", encoding="utf-8")
        return self

    def append(self, rec: dict) -> None:
        self._add(rec)
        self._f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def add_hello(self, hello: HelloInfo) -> None:
        if self.hello is None:
            self.append({"kind": "hello", "hello": asdict(hello)})

    def add_window(self, res: WindowResult, output) -> None:
        rec = {"kind": "window", **asdict(res)}
        if not res.bit_exact:
            rec["denoised_b64"] = base64.b64encode(np.ascontiguousarray(output[0], np.int8).tobytes()).decode()
        self.append(rec)


def window_result(rec: dict) -> WindowResult:
    return WindowResult(rec["index"], rec["count"], rec["layer_counts"], rec["denoised_mismatches"],
                        rec["denoised_max_abs_diff"], rec["logits_equal"], rec["logits"])


def device_output(rec: dict, expected, shape) -> tuple[np.ndarray, np.ndarray]:
    """The device's (denoised, logits) of a logged window; ``expected`` is the reference's
    (equal to the device's when the window was bit-exact)."""
    logits = np.asarray(rec["logits"], np.int8)
    if "denoised_b64" in rec:
        den = np.frombuffer(base64.b64decode(rec["denoised_b64"]), np.int8).reshape(shape)
    else:
        den = np.asarray(expected[0], np.int8).reshape(shape)
    return den, logits


def hello_info(d: dict) -> HelloInfo:
    return HelloInfo(**d)

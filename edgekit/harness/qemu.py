"""Run a firmware ELF on a QEMU board; a context manager that yields a byte link.

    with QemuRunner("mps2-an500", elf) as q:       # serial="socket" (default) or "pty"
        dev = Device(q.link); dev.sync(); ...

Timing: always ``-icount shift=N,align=off,sleep=off`` (N from the board file, 7 by default), so
instruction counts are exact and identical run to run. Serial: ``-chardev socket,...,port=0,
server=on,wait=on`` (QEMU picks a free port, prints it, and does not start the guest before we
connect: no race, no lost bytes) or ``-serial pty`` (opened with plain serial.Serial). QEMU runs
in its own session with a parent-death signal and its process group is always killed on exit.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from edgekit.firmware.targets import Board, load_board

from .link import SerialLink
from .proc import kill_group, spawn


class QemuError(RuntimeError):
    exit_code = 2  # QEMU missing or refusing to start: a setup error (edgekit.cli exit codes)


class QemuMissingError(QemuError):
    pass


def qemu_command(board: Board, elf, serial: str = "socket") -> list[str]:
    q = board.qemu
    if not q:
        raise QemuError(f"board {board.name} is not a QEMU board (kind={board.kind})")
    binary = shutil.which(q["binary"])
    if binary is None:
        raise QemuMissingError(f"{q['binary']} not found (board {board.name}); install it with: "
                               f"sudo apt-get install --no-install-recommends {q['apt_package']}")
    cmd = [binary, "-M", q["machine"], *q.get("args", []), "-nodefaults", "-display", "none",
           "-monitor", "none", "-icount", f"shift={q.get('icount_shift', 7)},align=off,sleep=off",
           "-kernel", str(elf)]
    if serial == "socket":
        cmd += ["-chardev", "socket,id=s0,host=127.0.0.1,port=0,server=on,wait=on,nodelay=on",
                "-serial", "chardev:s0"]
    elif serial == "pty":
        cmd += ["-serial", "pty"]
    else:
        raise ValueError(f"serial must be 'socket' or 'pty', not {serial!r}")
    return cmd


class QemuRunner:
    def __init__(self, board, elf, serial: str = "socket", start_timeout: float = 10.0):
        self.board = load_board(board) if isinstance(board, str) else board
        self.elf, self.serial, self.start_timeout = Path(elf), serial, start_timeout
        self.proc = None
        self.link = None
        self._log = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def __enter__(self) -> "QemuRunner":
        cmd = qemu_command(self.board, self.elf, self.serial)
        # QEMU's output goes to an unlinked temp file, not a pipe: nobody has to keep draining
        # it, and nothing is left in /tmp even if we are SIGKILLed.
        self._log = tempfile.TemporaryFile(prefix=f"qemu-{self.board.name}-")
        self.proc = spawn(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        try:
            if self.serial == "socket":
                port = self._wait_for(r"tcp:127\.0\.0\.1:(\d+)")
                self.link = SerialLink.from_url(f"socket://127.0.0.1:{port}")
            else:
                self.link = SerialLink.open_port(self._wait_for(r"char device redirected to (/dev/pts/\d+)"))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_for(self, pattern: str) -> str:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            text = self.output()
            m = re.search(pattern, text)
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                raise QemuError(f"QEMU exited with {self.proc.returncode}: {text.strip()}")
            time.sleep(0.005)
        raise QemuError(f"QEMU did not report its serial port within {self.start_timeout} s")

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def messages(self, lines: int = 6) -> str:
        """QEMU's own messages (its lines that name it), else the first lines it printed."""
        out = [line.strip() for line in self.output().splitlines() if line.strip()]
        own = [line for line in out if line.startswith("qemu") and "waiting for connection" not in line]
        return " | ".join((own or out)[:lines])

    def output(self) -> str:
        """Everything QEMU printed so far."""
        if self._log is None:
            return ""
        return os.pread(self._log.fileno(), 1 << 20, 0).decode(errors="replace")

    def __exit__(self, *exc) -> None:
        if self.link is not None:
            try:
                self.link.close()
            except Exception:
                pass
            self.link = None
        if self.proc is not None:
            kill_group(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

"""Run a firmware ELF on a real board: flash it (pyocd / openocd, per the board file), reset,
open its serial port. A context manager yielding ``.link``, like QemuRunner.

    with BoardRunner("nucleo-f746zg", elf, "/dev/ttyACM0") as b:
        dev = Device(b.link); dev.sync()
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from edgekit.firmware.targets import Board, load_board

from .link import SerialLink
from .proc import kill_group, spawn


class BoardError(RuntimeError):
    exit_code = 4  # flashing failed: the board did not take the firmware (edgekit.cli exit codes)


class FlashToolMissingError(BoardError):
    exit_code = 2  # setup: install the tool


def flash_commands(board: Board, elf) -> list[list[str]]:
    """The flash (and optional reset) command lines with {elf} filled in."""
    f = board.flash
    if not f:
        raise BoardError(f"board {board.name} has no [flash] section (kind={board.kind})")
    cmds = [f["command"]] + ([f["reset"]] if f.get("reset") else [])
    return [[a.replace("{elf}", str(Path(elf).resolve())) for a in c] for c in cmds]


def _run(cmd: list[str], timeout: float) -> None:
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise BoardError(f"{cmd[0]} timed out after {timeout} s: {' '.join(cmd)}")
    if proc.returncode != 0:
        raise BoardError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out.decode(errors='replace')}")


class BoardRunner:
    def __init__(self, board, elf, port: str | None, baudrate: int | None = None,
                 flash: bool = True, flash_timeout: float = 120.0):
        self.board = load_board(board) if isinstance(board, str) else board
        if not port:
            raise BoardError(f"board {self.board.name} needs a serial port (e.g. --hil-port /dev/ttyACM0)")
        self.elf, self.port, self.flash, self.flash_timeout = elf, port, flash, flash_timeout
        self.baudrate = baudrate or self.board.uart.get("baud", 115200)
        self.link = None

    def __enter__(self) -> "BoardRunner":
        if self.flash:
            for cmd in flash_commands(self.board, self.elf):
                if shutil.which(cmd[0]) is None:
                    raise FlashToolMissingError(f"{cmd[0]} not found (board {self.board.name}); "
                                                f"install it: {self.board.flash.get('install_hint', cmd[0])}")
                _run(cmd, self.flash_timeout)
        self.link = SerialLink.open_port(self.port, self.baudrate)
        self.link.reset_input()  # boot noise; Device.sync() handles the rest
        return self

    def __exit__(self, *exc) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None

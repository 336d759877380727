"""Byte links to a device: pyserial (QEMU TCP socket, pty, real /dev/tty*) or a subprocess pipe.

A link only moves bytes: ``write(data, timeout=None)`` (raises LinkTimeout when the other end
takes nothing for ``timeout`` seconds: a port nobody reads blocks no one forever),
``read(timeout) -> bytes`` (whatever arrived, possibly empty on timeout; raises LinkClosed when
the other end is gone), ``close()``.
"""
from __future__ import annotations

import fcntl
import os
import select
import socket
import subprocess
import time

import serial


class LinkClosed(ConnectionError):
    exit_code = 4  # edgekit.cli exit codes: link lost


class LinkTimeout(LinkClosed):
    """The other end took no byte for the whole write timeout."""


def _nonblocking(fd: int) -> None:
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def write_all(fd: int, data: bytes, timeout: float | None, name: str) -> None:
    """Write every byte to the non-blocking ``fd`` within ``timeout`` seconds (None: no limit)."""
    view = memoryview(data)
    deadline = None if timeout is None else time.monotonic() + timeout
    while view:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise LinkTimeout(f"{name}: the other end took no data for {timeout:g} s "
                              f"({len(view)} of {len(data)} bytes unsent)")
        try:
            _, ready, _ = select.select([], [fd], [], left)
            if ready:
                view = view[os.write(fd, view):]
        except BlockingIOError:
            continue
        except (OSError, ValueError) as e:
            raise LinkClosed(f"{name}: {e}") from e


class PortError(ConnectionError):
    """A port that cannot be opened (missing, busy, no permission): a setup error."""

    exit_code = 2


class SerialLink:
    """A pyserial port used non-blocking (timeout=0) with select() for waiting."""

    def __init__(self, ser: serial.SerialBase, fd: int, name: str):
        self.ser, self.fd, self.name = ser, fd, name
        _nonblocking(fd)

    @classmethod
    def from_url(cls, url: str) -> "SerialLink":
        """``socket://127.0.0.1:PORT`` (QEMU chardev) or any pyserial URL."""
        try:
            ser = serial.serial_for_url(url, timeout=0)
        except (serial.SerialException, OSError, ValueError) as e:
            raise PortError(f"cannot open {url}: {e}") from e
        sock = getattr(ser, "_socket", None)
        if sock is not None:  # QEMU socket chardev: about 2x faster without Nagle
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return cls(ser, sock.fileno(), url)
        return cls(ser, ser.fileno(), url)

    @classmethod
    def open_port(cls, port: str, baudrate: int = 115200) -> "SerialLink":
        """A tty: a QEMU ``-serial pty`` /dev/pts/N or a board's /dev/ttyACM0 (plain serial.Serial)."""
        try:
            ser = serial.Serial(port, baudrate=baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as e:
            raise PortError(f"cannot open serial port {port}: {e}") from e
        return cls(ser, ser.fileno(), port)

    def write(self, data: bytes, timeout: float | None = None) -> None:
        write_all(self.fd, data, timeout, self.name)

    def read(self, timeout: float) -> bytes:
        try:
            ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
            if not ready:
                return b""
            data = self.ser.read(65536)
        except (serial.SerialException, OSError, ValueError) as e:
            raise LinkClosed(f"{self.name}: {e}") from e
        if not data and isinstance(self.ser, serial.Serial):
            # readable but empty: a pty whose other side closed (pyserial returns b"" there)
            raise LinkClosed(f"{self.name}: closed")
        return data

    def reset_input(self) -> None:
        self.ser.reset_input_buffer()

    def close(self) -> None:
        self.ser.close()


class PipeLink:
    """stdin/stdout of a process (the host board firmware)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        _nonblocking(proc.stdin.fileno())
        self.name = f"pipe:{proc.pid}"

    def write(self, data: bytes, timeout: float | None = None) -> None:
        if self.proc.stdin.closed:
            raise LinkClosed(f"{self.name}: closed")
        write_all(self.proc.stdin.fileno(), data, timeout, self.name)

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return b""
        data = os.read(self.fd, 65536)
        if not data:
            raise LinkClosed(f"{self.name}: end of output (exit code {self.proc.poll()})")
        return data

    def reset_input(self) -> None:
        while self.read(0):
            pass

    def close(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

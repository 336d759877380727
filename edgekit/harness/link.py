"""Byte links to a device: pyserial (QEMU TCP socket, pty, real /dev/tty*) or a subprocess pipe.

A link only moves bytes: ``write(data)``, ``read(timeout) -> bytes`` (whatever arrived, possibly
empty on timeout; raises LinkClosed when the other end is gone), ``close()``.
"""
from __future__ import annotations

import os
import select
import socket
import subprocess

import serial


class LinkClosed(ConnectionError):
    pass


class SerialLink:
    """A pyserial port used non-blocking (timeout=0) with select() for waiting."""

    def __init__(self, ser: serial.SerialBase, fd: int, name: str):
        self.ser, self.fd, self.name = ser, fd, name

    @classmethod
    def from_url(cls, url: str) -> "SerialLink":
        """``socket://127.0.0.1:PORT`` (QEMU chardev) or any pyserial URL."""
        ser = serial.serial_for_url(url, timeout=0)
        sock = getattr(ser, "_socket", None)
        if sock is not None:  # QEMU socket chardev: about 2x faster without Nagle
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return cls(ser, sock.fileno(), url)
        return cls(ser, ser.fileno(), url)

    @classmethod
    def open_port(cls, port: str, baudrate: int = 115200) -> "SerialLink":
        """A tty: a QEMU ``-serial pty`` /dev/pts/N or a board's /dev/ttyACM0 (plain serial.Serial)."""
        ser = serial.Serial(port, baudrate=baudrate, timeout=0)
        return cls(ser, ser.fileno(), port)

    def write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
        except (serial.SerialException, OSError) as e:
            raise LinkClosed(f"{self.name}: {e}") from e

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
        self.name = f"pipe:{proc.pid}"

    def write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:
            raise LinkClosed(f"{self.name}: {e}") from e

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

"""A device speaking the edgekit protocol over any link (see protocol.py for the bytes).

    dev = Device(link); info = dev.sync()          # retries hello until the firmware answers
    denoised, logits, count, layer_counts = dev.infer(window)

Requests carry a sequence number; replies to other (stale) requests are discarded, error frames
are recorded in ``dev.errors``. If a request times out or the device reports a transport error
(bad CRC / length) for it, the device is flushed (max_request + 12 zero bytes: completes any
partial frame the device may be waiting on, then nothing in the zeros looks like a sync) and the
request is sent again, at most ``retries`` times; ``dev.retried`` counts those. A transport error
for another seq arriving while we wait also triggers a retry (our frame was probably swallowed).

Noise in front of a request can make the device's parser swallow it (a false header announcing
a long payload). So a request that got no byte back within ``nudge_s`` (0.5 s, or three times
the slowest reply so far) is followed by one flush: a device that was waiting inside a false
frame then rejects that frame at once and the request is retried, instead of waiting for the
whole timeout; to a device that is still computing, zeros are harmless (nothing in them is a
sync). Noise in front of a reply is the parser's job (protocol.FrameParser: impossible lengths,
bad CRCs and stalls make it rescan). Every wait is bounded by ``timeout``.
"""
from __future__ import annotations

import contextlib
import time
from collections import deque
from typing import NamedTuple

import numpy as np

from . import protocol as P
from .link import PipeLink


TRANSPORT_ERRORS = (P.E_BAD_CRC, P.E_BAD_LENGTH)


class DeviceTimeout(TimeoutError):
    pass


class DeviceDesync(DeviceTimeout):
    pass


class DeviceErrorReply(RuntimeError):
    def __init__(self, err: P.DeviceError):
        super().__init__(f"device error {err.name} (code {err.code}) for request type "
                         f"0x{err.request_type:02X}, detail {err.detail}")
        self.error = err


class InferResult(NamedTuple):
    denoised: np.ndarray     # int8 [channels, length]
    logits: np.ndarray       # int8 [n]
    count: int               # instructions / cycles / ns for the whole model run
    layer_counts: list[int]  # per layer (via edgekit_layer_hook)


class Device:
    def __init__(self, link, timeout: float = 10.0, stall_s: float = 0.25, nudge_s: float = 0.5):
        self.link, self.timeout = link, timeout
        self.parser = P.FrameParser(lengths=dict(P.REPLY_LENGTHS), stall_s=stall_s)
        self.nudge_s = nudge_s
        self.slowest_reply = 0.0
        self.frames: deque[P.Frame] = deque()
        self.errors: list[P.DeviceError] = []
        self.info: P.HelloInfo | None = None
        self.retried = 0
        self._seq = 0

    # ---- frames
    def send_raw(self, data: bytes) -> None:
        self.link.write(data)

    def recv_frame(self, timeout: float) -> P.Frame | None:
        deadline = time.monotonic() + timeout
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.link.read(min(left, self.parser.stall_s / 2))
            self.frames.extend(self.parser.feed(data) if data else self.parser.poll())
        f = self.frames.popleft()
        if f.type == P.ERROR:
            self.errors.append(P.decode_error(f))
        return f

    def drain(self, quiet: float = 0.05) -> list[P.Frame]:
        """Read until the line has been quiet for ``quiet`` seconds."""
        out = []
        while (f := self.recv_frame(quiet)) is not None:
            out.append(f)
        return out

    def next_seq(self) -> int:
        self._seq = self._seq % 255 + 1  # 1..255; 0 is used by fault reports
        return self._seq

    def request(self, type_: int, payload: bytes = b"", timeout: float | None = None) -> P.Frame:
        """Send one request, return its reply (raise DeviceErrorReply / DeviceTimeout)."""
        seq = self.next_seq()
        self.link.write(P.encode_frame(type_, seq, payload))
        start = time.monotonic()
        deadline = start + (self.timeout if timeout is None else timeout)
        nudge = start + max(self.nudge_s, 3 * self.slowest_reply)
        while True:
            f = self.recv_frame(max(0.0, min(deadline, nudge) - time.monotonic()))
            if f is None:
                if time.monotonic() >= deadline:
                    break
                if not self.parser.buf:  # nothing at all came back: wake a swallowed request
                    self.link.write(bytes(self._max_request() + P.OVERHEAD))
                nudge = deadline
                continue
            if f.type == P.ERROR and f.seq != seq and self.errors[-1].code in TRANSPORT_ERRORS:
                # The device rejected a frame we did not send just now: our request may have
                # been swallowed by a partial frame. Retrying is safe (replies carry seq).
                raise DeviceDesync(f"device reported {self.errors[-1].name} for seq {f.seq}")
            if f.type == P.ERROR and self.errors[-1].code == P.E_FAULT:
                raise DeviceErrorReply(self.errors[-1])  # the firmware crashed: fail now
            if f.seq != seq:
                continue  # a stale reply
            if f.type == P.ERROR:
                raise DeviceErrorReply(P.decode_error(f))
            self.slowest_reply = max(self.slowest_reply, time.monotonic() - start)
            return f
        raise DeviceTimeout(f"no reply to request 0x{type_:02X} seq {seq} within the timeout")

    def _max_request(self) -> int:
        return self.info.max_request if self.info else 4096

    def flush(self) -> None:
        """Bring the device's parser back to hunting for a sync, whatever state it is in."""
        self.link.write(bytes(self._max_request() + P.OVERHEAD))
        self.drain()

    def _with_retries(self, type_: int, payload: bytes, retries: int, timeout: float | None) -> P.Frame:
        for attempt in range(retries + 1):
            try:
                return self.request(type_, payload, timeout)
            except DeviceErrorReply as e:
                if e.error.code not in TRANSPORT_ERRORS or attempt == retries:
                    raise
            except DeviceTimeout:
                if attempt == retries:
                    raise
            self.retried += 1
            self.flush()
        raise AssertionError("unreachable")

    # ---- requests
    def sync(self, deadline_s: float | None = None) -> P.HelloInfo:
        """Retry hello until the firmware answers (bytes sent before its UART is up are lost),
        for ``deadline_s`` (default: the device's timeout). The wait per attempt grows from
        50 ms, so a fast target syncs fast and a loaded machine still gets there; from the
        third attempt on, each is preceded by a flush (the device may sit in a false frame)."""
        deadline_s = self.timeout if deadline_s is None else deadline_s
        end, wait, attempt = time.monotonic() + deadline_s, 0.05, 0
        while (left := end - time.monotonic()) > 0:
            if attempt >= 2:
                self.link.write(bytes(self._max_request() + P.OVERHEAD))
            attempt += 1
            try:
                info = self.hello(timeout=min(wait, left), retries=0)
                self.drain(0.02)
                return info
            except (DeviceTimeout, DeviceErrorReply):
                wait = min(wait * 1.5, 1.0)
        raise DeviceTimeout(f"device did not answer hello within {deadline_s:g} s")

    def hello(self, timeout: float | None = None, retries: int = 2) -> P.HelloInfo:
        f = self._with_retries(P.HELLO, b"", retries, timeout)
        self.info = P.decode_hello(f.payload)
        # from now on only this device's exact reply lengths are frames
        self.parser.lengths = P.reply_lengths(self.info, len(f.payload))
        return self.info

    def infer(self, window: np.ndarray, retries: int = 2, timeout: float | None = None) -> InferResult:
        if self.info is None:
            self.hello()
        payload = P.encode_infer(window, self.info.input_bytes)
        f = self._with_retries(P.INFER, payload, retries, timeout)
        if f.type != P.INFER_R:
            raise RuntimeError(f"unexpected reply type 0x{f.type:02X} to infer")
        return InferResult(*P.decode_infer(f.payload, self.info))


@contextlib.contextmanager
def open_device(board, elf, port: str | None = None, serial: str = "socket", timeout: float = 10.0,
                flash: bool = True):
    """Start/flash ``board`` with ``elf`` and yield a synced Device; always cleans up.

    QEMU boards run under QemuRunner (``serial`` = "socket" | "pty"); hardware boards are
    flashed (unless ``flash`` is False) and opened on ``port``; the host board runs the ELF as a child process."""
    from edgekit.firmware.targets import load_board

    board = load_board(board) if isinstance(board, str) else board
    if board.kind == "qemu":
        from .qemu import QemuRunner
        runner = QemuRunner(board, elf, serial=serial)
    elif board.kind == "hardware":
        from .board import BoardRunner
        runner = BoardRunner(board, elf, port, flash=flash)
    else:
        runner = HostRunner(elf)
    with runner:
        dev = Device(runner.link, timeout=timeout)
        dev.runner = runner
        try:
            dev.sync()
        except DeviceTimeout as e:
            out = runner.output() if hasattr(runner, "output") else ""
            raise DeviceTimeout(f"{board.name}: {e}" + (f"\nQEMU said:\n{out}" if out else "")) from e
        yield dev


class HostRunner:
    """The host-board firmware as a child process; its stdin/stdout are the link."""

    def __init__(self, elf, env: dict | None = None):
        self.elf, self.env = elf, env
        self.proc = self.link = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def __enter__(self) -> "HostRunner":
        import subprocess

        from .proc import spawn
        self.proc = spawn([str(self.elf)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env)
        self.link = PipeLink(self.proc)
        return self

    def __exit__(self, *exc) -> None:
        from .proc import kill_group
        self.link.close()
        try:  # EOF on stdin makes the firmware exit cleanly (sanitizers report at exit)
            self.proc.wait(2)
        except Exception:
            kill_group(self.proc)

"""A device speaking the edgekit protocol over any link (see protocol.py for the bytes).

    dev = Device(link); info = dev.sync()          # retries hello until the firmware answers
    denoised, logits, count, layer_counts = dev.infer(window)

Requests carry a sequence number; replies to other (stale) requests are discarded, error frames
are recorded in ``dev.errors``. If the device reports a transport error (bad CRC / length) for a
request, or for another seq while we wait (our frame was probably swallowed), the request is
sent again at once: the device has just closed a frame and hunts for a sync. If a request times
out, the device is first flushed (max_request + 12 zero bytes: completes any partial frame the
device may be waiting on, then nothing in the zeros looks like a sync). At most ``retries``
retries; ``dev.retried`` counts them.

Noise in front of a request can make the device's parser swallow it (a false header announcing
a long payload). So a request that got no byte back within ``nudge_s`` (0.5 s, or twice the
typical reply time so far) is followed by one flush: a device that was waiting inside a false
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
from .link import LinkClosed, LinkTimeout, PipeLink


TRANSPORT_ERRORS = (P.E_BAD_CRC, P.E_BAD_LENGTH)


class DeviceTimeout(TimeoutError):
    exit_code = 4  # link lost or device silent (edgekit.cli exit codes)


class DeviceDesync(DeviceTimeout):
    pass


class DeviceErrorReply(RuntimeError):
    exit_code = 4

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
        self.typical_reply = 0.0  # moving average of reply times (s)
        self.received = 0  # bytes read from the link
        self.frames: deque[P.Frame] = deque()
        self.errors: list[P.DeviceError] = []
        self.info: P.HelloInfo | None = None
        self.retried = 0
        self.retry_reasons: list[str] = []  # why each retry happened (for the run's session record)
        self._seq = 0

    # ---- frames
    def send_raw(self, data: bytes, timeout: float | None = None) -> None:
        """Write bytes, waiting at most ``timeout`` (default: the device's) for the link to take them."""
        self.link.write(data, self.timeout if timeout is None else max(timeout, 0.0))

    def recv_frame(self, timeout: float) -> P.Frame | None:
        deadline = time.monotonic() + timeout
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.link.read(min(left, self.parser.stall_s / 2))
            self.received += len(data)
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

    def request(self, type_: int, payload: bytes = b"", timeout: float | None = None,
                earlier: frozenset = frozenset()) -> P.Frame:
        """Send one request, return its reply (raise DeviceErrorReply / DeviceTimeout).
        ``earlier``: seqs of earlier attempts of this same request; a late reply to one of
        them is as good as the reply to this one."""
        seq = self.next_seq()
        mine = earlier | {seq}
        start = time.monotonic()
        deadline = start + (self.timeout if timeout is None else timeout)
        self.send_raw(P.encode_frame(type_, seq, payload), deadline - start)
        nudge = start + max(self.nudge_s, 2 * self.typical_reply)
        while True:
            f = self.recv_frame(max(0.0, min(deadline, nudge) - time.monotonic()))
            if f is None:
                if time.monotonic() >= deadline:
                    break
                if not self.parser.buf:  # nothing at all came back: wake a swallowed request
                    self.send_raw(bytes(self._max_request() + P.OVERHEAD), deadline - time.monotonic())
                nudge = deadline
                continue
            if f.type == P.ERROR and f.seq in earlier:
                continue  # what became of an earlier attempt: we resent it already
            if f.type == P.ERROR and f.seq != seq and self.errors[-1].code in TRANSPORT_ERRORS:
                # The device rejected a frame we did not send just now: our request may have
                # been swallowed by a partial frame. Retrying is safe (replies carry seq).
                raise DeviceDesync(f"device reported {self.errors[-1].name} for seq {f.seq}")
            if f.type == P.ERROR and self.errors[-1].code == P.E_FAULT:
                raise DeviceErrorReply(self.errors[-1])  # the firmware crashed: fail now
            if f.seq not in mine:
                continue  # a stale reply
            if f.type == P.ERROR:
                raise DeviceErrorReply(P.decode_error(f))
            took = time.monotonic() - start
            self.typical_reply = took if not self.typical_reply else 0.8 * self.typical_reply + 0.2 * took
            return f
        raise DeviceTimeout(f"no reply to request 0x{type_:02X} seq {seq} within the timeout")

    def _max_request(self) -> int:
        return self.info.max_request if self.info else 4096

    def flush(self) -> None:
        """Bring the device's parser back to hunting for a sync, whatever state it is in."""
        self.send_raw(bytes(self._max_request() + P.OVERHEAD))
        self.drain()

    def _with_retries(self, type_: int, payload: bytes, retries: int, timeout: float | None) -> P.Frame:
        sent = frozenset()
        for attempt in range(retries + 1):
            sent = sent | {self._seq % 255 + 1}  # the seq request() will use
            try:
                return self.request(type_, payload, timeout, earlier=sent - {self._seq % 255 + 1})
            except DeviceErrorReply as e:
                if e.error.code not in TRANSPORT_ERRORS or attempt == retries:
                    raise
                hunting, why = True, e
            except DeviceDesync as e:
                if attempt == retries:
                    raise
                hunting, why = True, e
            except DeviceTimeout as e:
                if attempt == retries:
                    raise
                hunting, why = False, e
            self.retried += 1
            self.retry_reasons.append(f"{type(why).__name__}: {why}")
            # a transport error reply means the device just closed a frame and hunts for a sync
            # again; after a silent timeout it may still sit inside one: flush it
            if not hunting:
                self.send_raw(bytes(self._max_request() + P.OVERHEAD))
        raise AssertionError("unreachable")

    # ---- requests
    def sync(self, deadline_s: float | None = None) -> P.HelloInfo:
        """Send hello until the firmware answers (bytes sent before its UART is up are lost),
        for ``deadline_s`` (default: the device's timeout). The wait per attempt grows from
        50 ms, so a fast target syncs fast and a loaded machine still gets there; a late reply
        to any hello of this sync counts. When two attempts in a row got no byte back, the
        next is preceded by a flush (the device may sit inside a false frame)."""
        deadline_s = self.timeout if deadline_s is None else deadline_s
        end, wait, silent = time.monotonic() + deadline_s, 0.05, 0
        sent = set()
        while (left := end - time.monotonic()) > 0:
            try:
                if silent >= 2:
                    self.send_raw(bytes(self._max_request() + P.OVERHEAD), left)
                    silent = 0
                seq = self.next_seq()
                sent.add(seq)
                self.send_raw(P.encode_frame(P.HELLO, seq), end - time.monotonic())
            except LinkTimeout:
                break
            heard = self.received
            attempt_end = min(time.monotonic() + wait, end)
            while (f := self.recv_frame(max(0.0, attempt_end - time.monotonic()))) is not None:
                if f.type == P.HELLO_R and f.seq in sent:
                    self._set_hello(f)
                    self.drain(0.02)
                    return self.info
            silent = silent + 1 if self.received == heard else 0
            wait = min(wait * 1.5, 1.0)
        raise DeviceTimeout(f"device did not answer hello within {deadline_s:g} s")

    def _set_hello(self, f: P.Frame) -> None:
        self.info = P.decode_hello(f.payload)
        # from now on only this device's exact reply lengths are frames
        self.parser.lengths = P.reply_lengths(self.info, len(f.payload))

    def hello(self, timeout: float | None = None, retries: int = 2) -> P.HelloInfo:
        self._set_hello(self._with_retries(P.HELLO, b"", retries, timeout))
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
    flashed (unless ``flash`` is False) and opened on ``port``; the host board runs the ELF as a
    child process. ``timeout`` bounds every wait: QEMU's start, the hello, each request.
    If QEMU exits instead of answering, its own message is raised (QemuError)."""
    from edgekit.firmware.targets import load_board

    board = load_board(board) if isinstance(board, str) else board
    if board.kind == "qemu":
        from .qemu import QemuRunner
        runner = QemuRunner(board, elf, serial=serial, start_timeout=timeout)
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
        except (DeviceTimeout, LinkClosed) as e:
            exited = getattr(runner, "exited", None)
            if exited is not None and exited():
                from .qemu import QemuError
                raise QemuError(f"{board.name}: QEMU exited ({runner.proc.returncode}) instead of answering: "
                                f"{runner.messages() or e}") from e
            if isinstance(e, (DeviceTimeout, LinkTimeout)):
                raise DeviceTimeout(f"{board.name}: no answer to hello on {runner.link.name} within {timeout:g} s "
                                    "(is the firmware running, and is this its port?)") from e
            raise
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

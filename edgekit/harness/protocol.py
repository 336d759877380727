"""The edgekit device protocol (host side); the device side is firmware_templates/common/main.c.

Frame, both directions, little-endian (sizes in edgekit.firmware.protocol_limits)::

    A5 5A | type u8 | seq u8 | len u32 | payload[len] | crc32 u32

crc32 is zlib.crc32 over type, seq, len and payload. A reply echoes its request's seq.

Requests: HELLO (0x01, empty), INFER (0x02, input_bytes int8, channel-major).
Replies:  HELLO_R (0x81), INFER_R (0x82), ERROR (0x7F: code u8, request type u8, detail i32).
"""
from __future__ import annotations

import struct
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..firmware import protocol_limits as L

SYNC = L.SYNC
HEADER = L.HEADER                        # type, seq, len
OVERHEAD = L.OVERHEAD                    # 12 bytes around a payload
PROTOCOL_VERSION = L.PROTOCOL_VERSION

HELLO, INFER = 0x01, 0x02
HELLO_R, INFER_R, ERROR = 0x81, 0x82, 0x7F

E_BAD_CRC, E_BAD_LENGTH, E_UNKNOWN_TYPE, E_MODEL, E_FAULT = 1, 2, 3, 4, 5
ERROR_NAMES = {E_BAD_CRC: "bad_crc", E_BAD_LENGTH: "bad_length", E_UNKNOWN_TYPE: "unknown_type",
               E_MODEL: "model_failed", E_FAULT: "fault"}
COUNTER_KINDS = {0: "instructions", 1: "cycles", 2: "nanoseconds"}

# What a device may send before its hello is known: payload length range per reply type.
REPLY_LENGTHS = {ERROR: (L.ERROR_PAYLOAD, L.ERROR_PAYLOAD), HELLO_R: (L.HELLO_FIXED.size, L.MAX_PAYLOAD),
                 INFER_R: (L.INFER_REPLY_FIXED, L.MAX_PAYLOAD)}


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


def encode_frame(type_: int, seq: int, payload: bytes = b"") -> bytes:
    body = HEADER.pack(type_, seq & 0xFF, len(payload)) + payload
    return SYNC + body + struct.pack("<I", zlib.crc32(body))


class FrameParser:
    """Incremental parser: feed() bytes, get complete frames.

    A candidate frame starts at every sync. It is dropped, and the stream rescanned from the
    byte after its sync, when its type or length is impossible (``lengths``: type -> (min, max)
    payload bytes; None accepts any type up to ``max_payload``), when its CRC fails, or when it
    stalls with a good frame inside it: incomplete, no byte arrived for ``stall_s`` seconds, and
    a complete frame with a good CRC lies in the bytes after its sync (``poll()`` checks that;
    call it when a read times out). So a false header announcing a long payload holds the real
    frames behind it back for ``stall_s`` at most, and no good frame is lost; a real frame
    whose bytes pause mid-way (a loaded host, a slow line) is kept, because nothing valid lies
    inside it. Memory: the buffer never holds more than one frame of the longest allowed length
    plus the last chunk fed. Time: each byte is the start of at most one candidate, checked
    once it is complete (one CRC pass), plus one scan of the buffer per stall.
    ``dropped`` counts bytes skipped, ``resyncs`` the candidates dropped, per reason."""

    def __init__(self, max_payload: int = L.MAX_PAYLOAD, lengths: dict | None = None,
                 stall_s: float = 0.25, clock=time.monotonic):
        self.buf = bytearray()
        self.max_payload = max_payload
        self.lengths = lengths
        self.stall_s, self.clock = stall_s, clock
        self.dropped = 0
        self.resyncs = {"length": 0, "crc": 0, "stall": 0}
        self._last_byte = clock()
        self._scanned = False  # the buffer as it is was scanned by _frame_inside: nothing inside

    def feed(self, data: bytes, now: float | None = None) -> list[Frame]:
        if data:
            self._last_byte = self.clock() if now is None else now
            self.buf += data
            self._scanned = False
        return self._parse()

    def poll(self, now: float | None = None) -> list[Frame]:
        """Frames released by a stall: if an incomplete frame has waited ``stall_s`` without a
        byte and a good frame lies inside it, drop its header and rescan (repeatedly: every
        byte in the buffer is that old)."""
        now = self.clock() if now is None else now
        frames = []
        while self.pending and now - self._last_byte >= self.stall_s and self._frame_inside():
            self._skip("stall")
            frames += self._parse()
        return frames

    def _frame_inside(self) -> bool:
        """Does a complete frame with a good CRC start after the front sync?"""
        buf = self.buf
        if self._scanned:
            return False  # nothing new arrived since the last scan
        j = 1
        while (j := buf.find(SYNC, j)) >= 0 and len(buf) >= j + 2 + HEADER.size:
            type_, _, n = HEADER.unpack_from(buf, j + 2)
            end = j + 2 + HEADER.size + n
            if self.allowed(type_, n) and end + 4 <= len(buf) and \
                    struct.unpack_from("<I", buf, end)[0] == zlib.crc32(memoryview(buf)[j + 2:end]):
                return True
            j += 1
        self._scanned = True
        return False

    @property
    def pending(self) -> bool:
        """True while the buffer starts an incomplete frame."""
        return self.buf[:2] == SYNC

    def allowed(self, type_: int, n: int) -> bool:
        if n > self.max_payload:
            return False
        if self.lengths is None:
            return True
        lo_hi = self.lengths.get(type_)
        return lo_hi is not None and lo_hi[0] <= n <= lo_hi[1]

    def _parse(self) -> list[Frame]:
        frames = []
        buf = self.buf
        while True:
            i = buf.find(SYNC)
            if i < 0:  # keep a trailing A5: it may start the next sync
                keep = 1 if buf[-1:] == SYNC[:1] else 0
                self.dropped += len(buf) - keep
                del buf[: len(buf) - keep]
                return frames
            if i:
                self.dropped += i
                del buf[:i]
            if len(buf) < 2 + HEADER.size:
                return frames
            type_, seq, n = HEADER.unpack_from(buf, 2)
            if not self.allowed(type_, n):
                self._skip("length")
                continue
            if len(buf) < OVERHEAD + n:
                return frames
            end = 2 + HEADER.size + n
            (crc,) = struct.unpack_from("<I", buf, end)
            if crc != zlib.crc32(memoryview(buf)[2:end]):
                self._skip("crc")
                continue
            frames.append(Frame(type_, seq, bytes(buf[2 + HEADER.size: end])))
            del buf[: OVERHEAD + n]

    def _skip(self, reason: str) -> None:
        self._scanned = False
        self.resyncs[reason] += 1
        self.dropped += 1
        del self.buf[:1]


# ---- payloads -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceError:
    code: int
    request_type: int
    detail: int
    seq: int = 0

    @property
    def name(self) -> str:
        return ERROR_NAMES.get(self.code, f"code{self.code}")


def decode_error(frame: Frame) -> DeviceError:
    if len(frame.payload) != L.ERROR_PAYLOAD:
        raise ProtocolError(f"error frame of {len(frame.payload)} B, expected {L.ERROR_PAYLOAD} B")
    code, req, detail = struct.unpack("<BBi", frame.payload)
    return DeviceError(code, req, detail, frame.seq)


@dataclass(frozen=True)
class HelloInfo:
    protocol_version: int
    counter_kind: str           # "instructions" | "cycles" | "nanoseconds"
    clock_hz: int
    input_channels: int
    input_length: int
    input_bytes: int
    denoised_bytes: int
    logits_bytes: int
    arena_bytes: int
    total_macs: int
    num_layers: int
    max_request: int
    model_hash: str
    model_name: str
    board: str
    layer_names: list[str] = field(default_factory=list)
    layer_macs: list[int] = field(default_factory=list)
    io: list[dict] = field(default_factory=list)   # the model's inputs and outputs (name, dtype, shape, ...)

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.input_channels, self.input_length)


_HELLO_FIXED = L.HELLO_FIXED


class ProtocolError(ValueError):
    """A frame with a good CRC whose payload does not have the layout its type promises."""

    exit_code = 4  # edgekit.cli exit codes: a device fault


class ProtocolVersionError(ProtocolError):
    exit_code = 2  # setup: rebuild the firmware


def decode_hello(payload: bytes) -> HelloInfo:
    try:
        f = _HELLO_FIXED.unpack_from(payload)
        pos = _HELLO_FIXED.size

        def string() -> str:
            nonlocal pos
            n = payload[pos]
            s = payload[pos + 1: pos + 1 + n].decode("utf-8", "replace")
            pos += 1 + n
            return s

        name, board = string(), string()
        names, macs = [], []
        for _ in range(f[10]):
            names.append(string())
            macs.append(struct.unpack_from("<I", payload, pos)[0])
            pos += 4
        io = []
        if pos < len(payload):  # firmware of a compiled model: its I/O table follows
            n_in, n_out = payload[pos], payload[pos + 1]
            pos += 2
            for i in range(n_in + n_out):
                io_name = string()
                dtype, dims = payload[pos], payload[pos + 1]
                pos += 2
                shape = struct.unpack_from(f"<{dims}I", payload, pos)
                pos += 4 * dims
                scale, zp = struct.unpack_from("<fi", payload, pos)
                pos += 8
                io.append({"kind": "input" if i < n_in else "output", "name": io_name,
                           "dtype": {0: "int8"}.get(dtype, f"type{dtype}"), "shape": list(shape),
                           "scale": scale, "zero_point": zp})
    except (struct.error, IndexError) as e:
        raise ProtocolError(f"malformed hello reply ({len(payload)} B): {e}") from e
    if f[0] != PROTOCOL_VERSION:
        raise ProtocolVersionError(f"the firmware speaks protocol version {f[0]}, this harness {PROTOCOL_VERSION}: "
                            "rebuild the firmware")
    return HelloInfo(f[0], COUNTER_KINDS.get(f[1], f"kind{f[1]}"), *f[2:12],
                     f[12].rstrip(b"\0").decode("ascii", "replace"), name, board, names, macs, io)


def reply_lengths(hello: HelloInfo, hello_payload_bytes: int) -> dict:
    """The exact payload length of each reply type this device sends (FrameParser.lengths)."""
    return {ERROR: (L.ERROR_PAYLOAD, L.ERROR_PAYLOAD), HELLO_R: (hello_payload_bytes, hello_payload_bytes),
            INFER_R: (n := L.infer_reply_bytes(hello.num_layers, hello.denoised_bytes, hello.logits_bytes), n)}


def encode_infer(window: np.ndarray, input_bytes: int | None = None) -> bytes:
    data = np.ascontiguousarray(window, dtype=np.int8).tobytes()
    if input_bytes is not None and len(data) != input_bytes:
        raise ValueError(f"window has {len(data)} bytes, the model takes {input_bytes}")
    return data


def decode_infer(payload: bytes, hello: HelloInfo):
    """-> (denoised int8 [channels, length], logits int8 [n], count, layer_counts list)."""
    want = L.infer_reply_bytes(hello.num_layers, hello.denoised_bytes, hello.logits_bytes)
    if len(payload) != want:
        raise ProtocolError(f"infer reply of {len(payload)} B, expected {want} B")
    count, n = struct.unpack_from("<II", payload)
    if n != hello.num_layers:
        raise ProtocolError(f"infer reply with {n} layer counts, the hello said {hello.num_layers}")
    layers = list(struct.unpack_from(f"<{n}I", payload, 8))
    pos = 8 + 4 * n
    den = np.frombuffer(payload, np.int8, hello.denoised_bytes, pos)
    logits = np.frombuffer(payload, np.int8, hello.logits_bytes, pos + hello.denoised_bytes)
    return den.reshape(hello.input_channels, -1).copy(), logits.copy(), count, layers

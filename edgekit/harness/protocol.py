"""The edgekit device protocol (host side); the device side is firmware_templates/common/main.c.

Frame, both directions, little-endian::

    A5 5A | type u8 | seq u8 | len u16 | payload[len] | crc32 u32

crc32 is zlib.crc32 over type, seq, len and payload. A reply echoes its request's seq.

Requests: HELLO (0x01, empty), INFER (0x02, input_bytes int8, channel-major).
Replies:  HELLO_R (0x81), INFER_R (0x82), ERROR (0x7F: code u8, request type u8, detail i32).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

SYNC = b"\xA5\x5A"
HEADER = struct.Struct("<BBH")          # type, seq, len
OVERHEAD = len(SYNC) + HEADER.size + 4  # 10 bytes around a payload

HELLO, INFER = 0x01, 0x02
HELLO_R, INFER_R, ERROR = 0x81, 0x82, 0x7F

E_BAD_CRC, E_BAD_LENGTH, E_UNKNOWN_TYPE, E_MODEL, E_FAULT = 1, 2, 3, 4, 5
ERROR_NAMES = {E_BAD_CRC: "bad_crc", E_BAD_LENGTH: "bad_length", E_UNKNOWN_TYPE: "unknown_type",
               E_MODEL: "model_failed", E_FAULT: "fault"}
COUNTER_KINDS = {0: "instructions", 1: "cycles", 2: "nanoseconds"}


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


def encode_frame(type_: int, seq: int, payload: bytes = b"") -> bytes:
    body = HEADER.pack(type_, seq & 0xFF, len(payload)) + payload
    return SYNC + body + struct.pack("<I", zlib.crc32(body))


class FrameParser:
    """Incremental parser: feed() bytes, get complete frames. It resyncs on garbage and on a
    bad CRC by rescanning from the byte after the false sync, so no good frame is lost."""

    def __init__(self, max_payload: int = 0xFFFF):
        self.buf = bytearray()
        self.max_payload = max_payload
        self.dropped = 0   # bytes skipped while hunting for a sync

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        frames = []
        while True:
            i = self.buf.find(SYNC)
            if i < 0:  # keep a trailing A5: it may start the next sync
                keep = 1 if self.buf[-1:] == SYNC[:1] else 0
                self.dropped += len(self.buf) - keep
                del self.buf[: len(self.buf) - keep]
                return frames
            self.dropped += i
            del self.buf[:i]
            if len(self.buf) < 2 + HEADER.size:
                return frames
            type_, seq, n = HEADER.unpack_from(self.buf, 2)
            if n > self.max_payload:
                self._skip()
                continue
            if len(self.buf) < OVERHEAD + n:
                return frames
            body = bytes(self.buf[2: 2 + HEADER.size + n])
            (crc,) = struct.unpack_from("<I", self.buf, 2 + HEADER.size + n)
            if crc != zlib.crc32(body):
                self._skip()
                continue
            frames.append(Frame(type_, seq, body[HEADER.size:]))
            del self.buf[: OVERHEAD + n]

    def _skip(self) -> None:
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
    code, req, detail = struct.unpack("<BBi", frame.payload[:6])
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

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.input_channels, self.input_length)


_HELLO_FIXED = struct.Struct("<BBIHHHHHIIHH16s")


def decode_hello(payload: bytes) -> HelloInfo:
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
    return HelloInfo(f[0], COUNTER_KINDS.get(f[1], f"kind{f[1]}"), *f[2:12],
                     f[12].rstrip(b"\0").decode("ascii", "replace"), name, board, names, macs)


def encode_infer(window: np.ndarray, input_bytes: int | None = None) -> bytes:
    data = np.ascontiguousarray(window, dtype=np.int8).tobytes()
    if input_bytes is not None and len(data) != input_bytes:
        raise ValueError(f"window has {len(data)} bytes, the model takes {input_bytes}")
    return data


def decode_infer(payload: bytes, hello: HelloInfo):
    """-> (denoised int8 [channels, length], logits int8 [n], count, layer_counts list)."""
    count, n = struct.unpack_from("<IH", payload)
    layers = list(struct.unpack_from(f"<{n}I", payload, 6))
    pos = 6 + 4 * n
    den = np.frombuffer(payload, np.int8, hello.denoised_bytes, pos)
    logits = np.frombuffer(payload, np.int8, hello.logits_bytes, pos + hello.denoised_bytes)
    return den.reshape(hello.input_channels, -1).copy(), logits.copy(), count, layers

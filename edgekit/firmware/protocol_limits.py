"""Sizes of the edgekit device protocol, in one place for the three sides that need them: the
compiler (checks at compile time that a model's frames can be streamed), the firmware
(firmware_templates/common/main.c, which writes the same layout) and the host harness
(edgekit.harness.protocol, which parses it). Standard library only, so the compiler can import it
without the harness.

Frame, both directions, little-endian (protocol version 2)::

    A5 5A | type u8 | seq u8 | len u32 | payload[len] | crc32 u32

Version 1 had a u16 length, which capped every frame at 65,535 B: a model whose input or output
is larger could compile and fit a target and still not be streamable. The u32 length removes that
cap; what remains is MAX_PAYLOAD, the most a host parser buffers for one frame, and the u32 size
fields of the hello payload.
"""
from __future__ import annotations

import struct

PROTOCOL_VERSION = 2
SYNC = b"\xA5\x5A"
HEADER = struct.Struct("<BBI")           # type, seq, payload length
CRC = struct.Struct("<I")
OVERHEAD = len(SYNC) + HEADER.size + CRC.size   # 12 bytes around a payload

# The longest payload any frame may announce. A header with a longer length is a false header
# (noise), never waited for. 16 MiB is far above what a model that fits a microcontroller can send.
MAX_PAYLOAD = 1 << 24

STRING_MAX = 255            # hello strings (model, board and layer names) are cut to this many bytes
U32_MAX = 0xFFFFFFFF

# hello payload: version u8, counter kind u8, clock_hz u32, input channels u32, input length u32,
# input bytes u32, denoised bytes u32, logits bytes u32, arena bytes u32, total MACs u32,
# layers u32, max request u32, model hash 16 chars; then the model and board names and per
# layer (name, MACs u32), each name a u8 length + bytes.
HELLO_FIXED = struct.Struct("<BBIIIIIIIIII16s")
ERROR_PAYLOAD = 6           # code u8, request type u8, detail i32
INFER_REPLY_FIXED = 8       # count u32, layers u32; then layers x u32, denoised, logits


def _string_bytes(s: str) -> int:
    return 1 + min(len(s.encode("utf-8")), STRING_MAX)


def hello_bytes(model_name: str, board_name: str, layer_names) -> int:
    """Payload length of the hello reply."""
    names = list(layer_names)
    return (HELLO_FIXED.size + _string_bytes(model_name) + _string_bytes(board_name)
            + sum(_string_bytes(n) + 4 for n in names))


def infer_reply_bytes(num_layers: int, denoised_bytes: int, logits_bytes: int) -> int:
    """Payload length of an infer reply."""
    return INFER_REPLY_FIXED + 4 * num_layers + denoised_bytes + logits_bytes


def frame_check(input_bytes: int, denoised_bytes: int, logits_bytes: int, model_name: str,
                layer_names) -> dict:
    """Can this model be streamed? The frame sizes of its request and replies against the
    protocol's limits, with a line per problem (empty: streamable). Board names are not known
    at compile time, so the hello is sized with the longest one (STRING_MAX bytes)."""
    names = list(layer_names)
    sizes = {"request_bytes": input_bytes,
             "reply_bytes": infer_reply_bytes(len(names), denoised_bytes, logits_bytes),
             "hello_bytes_max": hello_bytes(model_name, "x" * STRING_MAX, names)}
    problems = [f"{what.replace('_bytes', '').replace('_max', '')} frame payload {n:,} B exceeds the "
                f"protocol's limit of {MAX_PAYLOAD:,} B" for what, n in sizes.items() if n > MAX_PAYLOAD]
    for what, n in (("input", input_bytes), ("denoised output", denoised_bytes), ("logits", logits_bytes)):
        if n > U32_MAX:
            problems.append(f"{what} of {n:,} B does not fit the hello's u32 size field")
    return {"protocol_version": PROTOCOL_VERSION, "max_payload": MAX_PAYLOAD, **sizes,
            "streamable": not problems, "problems": problems}

#!/usr/bin/env python3
"""Differential fuzzer: the firmware's host build (ASan + UBSan, the stub model) against a Python
model of its receive loop.

Each case is a random stream of pieces: good HELLO and INFER requests, requests with a bad CRC,
the wrong length, an unknown type, a length one past the firmware's bound or far beyond it,
truncated frames, false headers and raw noise. The stream goes to the firmware on stdin (EOF
ends it); ``expected_replies`` below predicts, from the protocol alone, every frame the firmware
must answer with: its type, seq and payload (an infer reply's counts are wall-clock nanoseconds
on the host board, so they are left out; its denoised output and logits come from the stub
model's Python twin). Any difference, a sanitizer report or a non-zero exit is a finding; the
stream is saved under OUT/artifacts.

    python fuzz/differential.py --seconds 30 [--frames N] [--out DIR] [--seed S]

Prints one JSON line: {"inputs": pieces sent, "cases": streams, "crashes", "sanitizer_reports",
"hangs", "mismatches"}.
"""
from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.firmware import stub_model  # noqa: E402
from edgekit.firmware.build import STUB_MODEL_DIR, build_firmware  # noqa: E402
from edgekit.harness import protocol as P  # noqa: E402

SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
INPUT_BYTES = stub_model.CHANNELS * stub_model.LENGTH
MAX_REQUEST = INPUT_BYTES
NUM_LAYERS = 14


def error_payload(code: int, req_type: int, detail: int) -> bytes:
    return struct.pack("<BBi", code, req_type, struct.unpack("<i", struct.pack("<I", detail))[0])


def expected_replies(stream: bytes, hello: bytes) -> list[tuple]:
    """The firmware's receive loop, restated: [(type, seq, payload or ('infer', window))]."""
    out, i, n = [], 0, len(stream)
    while True:
        while i < n and stream[i] != 0xA5:  # hunt for A5
            i += 1
        i += 1
        while i < n and stream[i] == 0xA5:  # A5 A5 5A is still a sync
            i += 1
        if i >= n:
            return out
        b = stream[i]
        i += 1
        if b != 0x5A:
            continue
        if i + 6 > n:
            return out
        type_, seq, length = struct.unpack_from("<BBI", stream, i)
        header = stream[i:i + 6]
        i += 6
        if length > MAX_REQUEST:  # rejected before any payload byte is stored
            out.append((P.ERROR, seq, error_payload(P.E_BAD_LENGTH, type_, length)))
            continue
        if i + length + 4 > n:
            return out
        payload = stream[i:i + length]
        (crc,) = struct.unpack_from("<I", stream, i + length)
        i += length + 4
        if crc != zlib.crc32(header + payload):
            out.append((P.ERROR, seq, error_payload(P.E_BAD_CRC, type_, length)))
        elif type_ == P.HELLO:
            out.append((P.HELLO_R, seq, hello) if length == 0 else
                       (P.ERROR, seq, error_payload(P.E_BAD_LENGTH, type_, length)))
        elif type_ == P.INFER:
            out.append((P.INFER_R, seq, ("infer", payload)) if length == INPUT_BYTES else
                       (P.ERROR, seq, error_payload(P.E_BAD_LENGTH, type_, length)))
        else:
            out.append((P.ERROR, seq, error_payload(P.E_UNKNOWN_TYPE, type_, length)))


def random_stream(rng: np.random.Generator, pieces: int) -> bytes:
    def raw(k):
        return rng.integers(0, 256, k, dtype=np.uint8).tobytes()

    def seq():
        return int(rng.integers(0, 256))

    parts = []
    for _ in range(pieces):
        kind = int(rng.integers(0, 12))
        window = raw(INPUT_BYTES)
        if kind == 0:
            parts.append(P.encode_frame(P.HELLO, seq()))
        elif kind == 1:
            parts.append(P.encode_frame(P.INFER, seq(), window))
        elif kind == 2:  # bad CRC
            f = bytearray(P.encode_frame(P.INFER, seq(), window))
            f[-1 - int(rng.integers(0, 4))] ^= int(rng.integers(1, 256))
            parts.append(bytes(f))
        elif kind == 3:  # wrong lengths, up to the bound
            parts.append(P.encode_frame(P.INFER, seq(), raw(int(rng.integers(0, MAX_REQUEST)))))
        elif kind == 4:
            parts.append(P.encode_frame(P.HELLO, seq(), raw(int(rng.integers(1, 40)))))
        elif kind == 5:  # one past the bound, with its payload: rejected at the header
            parts.append(P.encode_frame(P.INFER, seq(), raw(MAX_REQUEST + 1)))
        elif kind == 6:  # any length in the header
            parts.append(P.SYNC + P.HEADER.pack(int(rng.integers(0, 256)), seq(), int(rng.integers(0, 1 << 32))))
        elif kind == 7:
            parts.append(P.encode_frame(int(rng.integers(0, 256)), seq(), raw(int(rng.integers(0, 64)))))
        elif kind == 8:  # truncated
            f = P.encode_frame(P.INFER, seq(), window)
            parts.append(f[: int(rng.integers(1, len(f)))])
        elif kind == 9:  # noise full of syncs
            noise = bytearray(raw(int(rng.integers(1, 200))))
            for pos in rng.integers(0, len(noise), 3):
                noise[pos] = 0xA5
            parts.append(bytes(noise) + P.SYNC[: int(rng.integers(0, 3))])
        elif kind == 10:  # the flush the host sends to resynchronize
            parts.append(bytes(MAX_REQUEST + P.OVERHEAD))
        else:
            parts.append(raw(int(rng.integers(1, 50))))
    return b"".join(parts)


def check_case(elf: Path, stream: bytes, hello: bytes, timeout: float) -> str | None:
    """None if the firmware's replies are the model's, else what differs."""
    try:
        p = subprocess.run([str(elf)], input=stream, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang"
    if p.returncode != 0 or p.stderr:
        return f"exit {p.returncode}: {p.stderr.decode(errors='replace')[-3000:]}"
    parser = P.FrameParser(max_payload=1 << 20)
    got = parser.feed(p.stdout)
    if parser.dropped or parser.buf:
        return f"{parser.dropped} stray bytes, {len(parser.buf)} left over in the output"
    want = expected_replies(stream, hello)
    if len(got) != len(want):
        return f"{len(got)} replies, the model predicts {len(want)}"
    for k, (f, (type_, seq, payload)) in enumerate(zip(got, want)):
        if (f.type, f.seq) != (type_, seq):
            return f"reply {k}: type 0x{f.type:02X} seq {f.seq}, the model predicts 0x{type_:02X} seq {seq}"
        if isinstance(payload, tuple):
            den, logits = stub_model.reference(np.frombuffer(payload[1], np.int8))
            n = struct.unpack_from("<I", f.payload, 4)[0]
            tail = f.payload[8 + 4 * n:]
            if n != NUM_LAYERS or tail != den.tobytes() + logits.tobytes():
                return f"reply {k}: infer outputs differ from the stub model's"
        elif f.payload != payload:
            return f"reply {k}: payload {f.payload[:16].hex()}, the model predicts {payload[:16].hex()}"
    return None


def hello_payload(elf: Path) -> bytes:
    """The firmware's hello, checked field by field against what the stub model and the host
    board declare (the layer names come from it)."""
    p = subprocess.run([str(elf)], input=P.encode_frame(P.HELLO, 1), capture_output=True, timeout=30)
    (f,) = P.FrameParser().feed(p.stdout)
    h = P.decode_hello(f.payload)
    want = (P.PROTOCOL_VERSION, "nanoseconds", 10**9, 2, 512, INPUT_BYTES, INPUT_BYTES, 2, NUM_LAYERS,
            MAX_REQUEST, "57ab0000deadbeef", "stub", "host")
    got = (h.protocol_version, h.counter_kind, h.clock_hz, h.input_channels, h.input_length, h.input_bytes,
           h.denoised_bytes, h.logits_bytes, h.num_layers, h.max_request, h.model_hash, h.model_name, h.board)
    if got != want:
        raise SystemExit(f"hello {got} != {want}")
    return f.payload


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--frames", type=int, default=None, help="stop after this many pieces")
    ap.add_argument("--pieces", type=int, default=200, help="pieces per stream (default 200)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default="build/fuzz/differential")
    ap.add_argument("--input-timeout", type=float, default=30.0)
    a = ap.parse_args()
    out = Path(a.out)
    (out / "artifacts").mkdir(parents=True, exist_ok=True)
    elf = build_firmware(STUB_MODEL_DIR, "host", out / "fw", extra_cflags=SANITIZE).path
    hello = hello_payload(elf)
    seed = int(time.time()) if a.seed is None else a.seed
    rng = np.random.default_rng(seed)
    end = time.monotonic() + a.seconds if a.seconds else None
    stats = {"inputs": 0, "cases": 0, "crashes": 0, "sanitizer_reports": 0, "hangs": 0, "mismatches": 0,
             "seed": seed, "findings": []}
    try:
        run_cases(elf, hello, rng, a, out, end, stats)
    except KeyboardInterrupt:  # stopped by hand (SIGINT): report what ran
        stats["interrupted"] = True
    print(json.dumps(stats))
    return 0 if not stats["findings"] else 1


def run_cases(elf, hello, rng, a, out: Path, end, stats: dict) -> None:
    while (end is None or time.monotonic() < end) and (a.frames is None or stats["inputs"] < a.frames):
        stream = random_stream(rng, a.pieces)
        problem = check_case(elf, stream, hello, a.input_timeout)
        stats["cases"] += 1
        stats["inputs"] += a.pieces
        if problem:
            path = out / "artifacts" / f"case-{stats['cases']}.bin"
            path.write_bytes(stream)
            key = ("hangs" if problem == "hang" else "sanitizer_reports" if "Sanitizer" in problem or
                   "runtime error" in problem else "crashes" if problem.startswith("exit") else "mismatches")
            stats[key] += 1
            stats["findings"].append(f"{path}: {problem[:500]}")


if __name__ == "__main__":
    sys.exit(main())

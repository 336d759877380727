#!/usr/bin/env python3
"""libFuzzer target (atheris, coverage of the instrumented Python) for the host frame parser,
edgekit.harness.protocol.FrameParser, checked against a reference model of the protocol.

One fuzz input is decoded into a byte stream built from pieces (raw bytes, valid frames, frames
with a flipped byte, truncated frames, false headers with any length), the chunks it is fed in,
the points where the line stalls (the clock jumps past stall_s and poll() runs), and the length
rule (none; the pre-hello reply lengths; one device's exact lengths). Checked for every input:

* the frames the parser returns are exactly those of ``reference_frames`` (below: the spec,
  written as a plain non-incremental scan over the whole stream), whatever the chunking;
* memory: the buffer never holds more than the longest allowed frame plus the last chunk;
* no exception escapes feed() or poll().

    python fuzz/host_parser.py -runs=1000000 -max_len=4096 [libFuzzer flags] [corpus dir]

(scripts/fuzz.py runs it, with the other targets.)
"""
from __future__ import annotations

import struct
import sys
import zlib

import atheris

with atheris.instrument_imports():
    from edgekit.harness import protocol as P

SYNC, OVERHEAD, HDR = P.SYNC, P.OVERHEAD, P.HEADER.size
STALL_S = 0.25
HELLO_LEN = P.L.HELLO_FIXED.size + 12
EXACT = {P.ERROR: (6, 6), P.HELLO_R: (HELLO_LEN, HELLO_LEN), P.INFER_R: (40, 40)}
RULES = [None, P.REPLY_LENGTHS, EXACT]
MAX_PAYLOAD = 4096  # the parser's cap in the fuzzed configuration (keeps the memory check tight)


def allowed(rule, type_: int, n: int) -> bool:
    if n > MAX_PAYLOAD:
        return False
    if rule is None:
        return True
    return type_ in rule and rule[type_][0] <= n <= rule[type_][1]


def reference_frames(stream: bytes, stalls: list[int], rule) -> list[tuple]:
    """The frames a correct parser finds, given the positions where the line stalled (sorted;
    the end of the stream is one). A candidate starts at every A5 5A. It is dropped (scanning
    goes on at the byte after its sync) when its type or length is not allowed, when its CRC
    fails, or when at a stall while it is incomplete a good frame lies complete after its sync;
    a good frame is emitted and scanning goes on after it. A candidate that never completes and
    has no good frame after it holds everything behind it."""

    def good_end(j: int, b: int) -> int | None:
        """End of a complete allowed frame with a good CRC at j within stream[:b], else None."""
        if stream[j:j + 2] != SYNC or j + 2 + HDR > b:
            return None
        type_, _, n = struct.unpack_from("<BBI", stream, j + 2)
        end = j + OVERHEAD + n
        if not allowed(rule, type_, n) or end > b:
            return None
        ok = struct.unpack_from("<I", stream, end - 4)[0] == zlib.crc32(stream[j + 2: end - 4])
        return end if ok else None

    def good_frame_inside(i: int, b: int) -> bool:
        j = i + 1
        while (j := stream.find(SYNC, j, b)) >= 0:
            if good_end(j, b) is not None:
                return True
            j += 1
        return False

    out, i = [], 0
    while (i := stream.find(SYNC, i)) >= 0:
        if i + 2 + HDR > len(stream):
            break  # its header never completes: it waits for bytes that do not come
        type_, seq, n = struct.unpack_from("<BBI", stream, i + 2)
        if not allowed(rule, type_, n):
            i += 1
            continue
        end = i + OVERHEAD + n
        # the condition only grows with b: the last stall while it is incomplete decides
        last = max((b for b in stalls if i + 2 <= b < end), default=None)
        if last is not None and good_frame_inside(i, last):
            i += 1
            continue
        if end > len(stream):
            break
        e = good_end(i, len(stream))
        if e is None:
            i += 1
            continue
        out.append((type_, seq, stream[i + 2 + HDR: end - 4]))
        i = end
    return out


def decode(data: bytes):
    """fuzz input -> (stream, chunk ends, stall positions, rule)."""
    fdp = atheris.FuzzedDataProvider(data)
    rule = RULES[fdp.ConsumeIntInRange(0, 2)]
    stream, cuts, stalls = bytearray(), [], []
    types = [P.ERROR, P.HELLO_R, P.INFER_R, P.HELLO, 0x55]
    for _ in range(fdp.ConsumeIntInRange(0, 48)):
        op = fdp.ConsumeIntInRange(0, 6)
        if op == 0:
            stream += fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        elif op in (1, 2, 3):
            type_ = types[fdp.ConsumeIntInRange(0, len(types) - 1)]
            lengths = [6, HELLO_LEN, 40, fdp.ConsumeIntInRange(0, 300)]
            n = lengths[fdp.ConsumeIntInRange(0, 3)]
            frame = bytearray(P.encode_frame(type_, fdp.ConsumeIntInRange(0, 255), fdp.ConsumeBytes(n).ljust(n, b"\0")))
            if op == 2:  # one byte changed
                frame[fdp.ConsumeIntInRange(0, len(frame) - 1)] ^= fdp.ConsumeIntInRange(1, 255)
            elif op == 3:  # cut short
                frame = frame[: fdp.ConsumeIntInRange(0, len(frame) - 1)]
            stream += frame
        elif op == 4:  # a false header announcing any length
            stream += SYNC + struct.pack("<BBI", types[fdp.ConsumeIntInRange(0, len(types) - 1)],
                                         fdp.ConsumeIntInRange(0, 255), fdp.ConsumeIntInRange(0, 0xFFFFFFFF))
        elif op == 5:
            cuts.append(len(stream))
        else:
            stalls.append(len(stream))
    cuts += [fdp.ConsumeIntInRange(0, len(stream)) for _ in range(fdp.ConsumeIntInRange(0, 8))]
    stalls += [fdp.ConsumeIntInRange(0, len(stream)) for _ in range(fdp.ConsumeIntInRange(0, 3))]  # anywhere
    return bytes(stream), sorted(set(cuts) | set(stalls) | {len(stream)}), sorted(set(stalls)), rule


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def TestOneInput(data: bytes) -> None:
    stream, cuts, stalls, rule = decode(data)
    clock = Clock()
    parser = P.FrameParser(max_payload=MAX_PAYLOAD, lengths=rule, stall_s=STALL_S, clock=clock)
    longest = OVERHEAD + (MAX_PAYLOAD if rule is None else min(MAX_PAYLOAD, max(hi for _, hi in rule.values())))
    got, start = [], 0
    stall_set = set(stalls)
    for end in cuts:
        chunk = stream[start:end]
        clock.t += 0.01  # bytes keep coming: no stall between chunks
        got += parser.feed(chunk)
        if len(parser.buf) > longest + len(chunk):
            raise AssertionError(f"buffer {len(parser.buf)} B > {longest} + {len(chunk)}")
        if end in stall_set:
            clock.t += 2 * STALL_S
            got += parser.poll()
        start = end
    clock.t += 2 * STALL_S  # the line goes quiet at the end
    got += parser.poll()
    want = reference_frames(stream, stalls + [len(stream)], rule)
    if [(f.type, f.seq, f.payload) for f in got] != want:
        raise AssertionError(f"parser {[(f.type, f.seq, len(f.payload)) for f in got]} != "
                             f"reference {[(t, s, len(p)) for t, s, p in want]}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

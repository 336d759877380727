"""Protocol codec and stream parser (pure Python, no device)."""
import struct
import zlib

import numpy as np
import pytest

from edgekit.harness import protocol as P


def test_frame_bytes_are_as_specified():
    f = P.encode_frame(P.INFER, 7, b"\x01\x02\x03")
    assert f[:2] == b"\xA5\x5A"
    assert f[2:8] == bytes([0x02, 7, 3, 0, 0, 0])
    assert f[8:11] == b"\x01\x02\x03"
    assert f[11:] == struct.pack("<I", zlib.crc32(bytes([0x02, 7, 3, 0, 0, 0, 1, 2, 3])))
    assert len(f) == 3 + P.OVERHEAD


def test_parser_handles_split_feeds_and_garbage():
    frames = [P.encode_frame(P.HELLO_R, i, bytes(range(i))) for i in range(1, 6)]
    stream = b"\x00\xA5\xA5junk" + frames[0] + b"\xA5" + frames[1] + b"".join(frames[2:])
    p = P.FrameParser()
    got = []
    for b in stream:  # one byte at a time
        got += p.feed(bytes([b]))
    assert [(f.seq, f.payload) for f in got] == [(i, bytes(range(i))) for i in range(1, 6)]


def test_parser_rescans_after_false_sync():
    good = P.encode_frame(P.INFER_R, 9, b"payload")
    # a false sync whose "length" swallows the real frame: the CRC fails, the parser rescans
    false = b"\xA5\x5A" + bytes([0x82, 1, 5, 0, 0, 0])
    assert P.FrameParser().feed(false + good) == [P.Frame(P.INFER_R, 9, b"payload")]
    # a false sync with an absurd length is dropped at once
    p = P.FrameParser(max_payload=4096)
    assert p.feed(b"\xA5\x5A\x82\x01\xFF\xFF\x00\x00" + good) == [P.Frame(P.INFER_R, 9, b"payload")]


def test_corrupted_frame_is_dropped():
    bad = bytearray(P.encode_frame(P.HELLO_R, 1, b"abc"))
    bad[7] ^= 1
    good = P.encode_frame(P.HELLO_R, 2, b"abc")
    assert [f.seq for f in P.FrameParser().feed(bytes(bad) + good)] == [2]


def _hello_payload(names=("conv0", "head")):
    fixed = P._HELLO_FIXED.pack(P.PROTOCOL_VERSION, 0, 25_000_000, 2, 512, 1024, 1024, 2, 4096, 1000, len(names),
                                1024, b"0123456789abcdef")
    s = lambda t: bytes([len(t)]) + t.encode()  # noqa: E731
    return fixed + s("acdae") + s("mps2-an500") + b"".join(s(n) + struct.pack("<I", 500) for n in names)


def test_decode_hello():
    h = P.decode_hello(_hello_payload())
    assert (h.model_name, h.board, h.model_hash) == ("acdae", "mps2-an500", "0123456789abcdef")
    assert h.counter_kind == "instructions" and h.clock_hz == 25_000_000
    assert h.input_shape == (2, 512) and h.arena_bytes == 4096 and h.max_request == 1024
    assert h.layer_names == ["conv0", "head"] and h.layer_macs == [500, 500]


def test_decode_infer_and_error():
    h = P.decode_hello(_hello_payload())
    den = np.arange(1024, dtype=np.int64).astype(np.int8)
    payload = struct.pack("<II2I", 1234, 2, 600, 634) + den.tobytes() + bytes([0x7F, 0x80])
    d, logits, count, layers = P.decode_infer(payload, h)
    assert d.shape == (2, 512) and np.array_equal(d.ravel(), den)
    assert logits.tolist() == [127, -128] and count == 1234 and layers == [600, 634]
    e = P.decode_error(P.Frame(P.ERROR, 5, struct.pack("<BBi", P.E_BAD_LENGTH, P.INFER, 100)))
    assert (e.name, e.request_type, e.detail, e.seq) == ("bad_length", P.INFER, 100, 5)


def test_encode_infer_checks_size():
    assert len(P.encode_infer(np.zeros((2, 512), np.int8), 1024)) == 1024
    with pytest.raises(ValueError):
        P.encode_infer(np.zeros((2, 500), np.int8), 1024)

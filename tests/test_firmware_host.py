"""The firmware's protocol handling, built for the host with ASan + UBSan and fuzzed.

Fast (no QEMU): main.c is the same file that runs on the MCUs, so crashes or out-of-bounds
accesses on bad frames show up here as sanitizer errors / a non-zero exit.
"""
import struct

import numpy as np
import pytest

from edgekit.firmware import stub_model
from edgekit.harness import protocol as P
from edgekit.harness.device import Device, HostRunner

SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")


@pytest.fixture
def host_device(build_fw):
    elf = build_fw("host", extra_cflags=SANITIZE).path
    runner = HostRunner(elf)
    with runner:
        dev = Device(runner.link, timeout=5.0)
        dev.sync()
        yield dev
    assert runner.proc.returncode == 0, "firmware exited with an error (sanitizer report on stderr)"


def wait_error(dev, timeout=2.0) -> P.DeviceError:
    while (f := dev.recv_frame(timeout)) is not None:
        if f.type == P.ERROR:
            return P.decode_error(f)
    raise AssertionError("no error frame")


def assert_good_window(dev, seed=1):
    w = next(stub_model.random_windows(1, seed))
    den, logits, count, layers = dev.infer(w)
    ref_den, ref_logits = stub_model.reference(w)
    assert np.array_equal(den, ref_den) and np.array_equal(logits, ref_logits)
    assert len(layers) == 14


def test_hello_and_windows(host_device):
    h = host_device.info
    assert (h.model_name, h.model_hash, h.board) == ("stub", "57ab0000deadbeef", "host")
    assert h.input_shape == (2, 512) and h.logits_bytes == 2 and h.counter_kind == "nanoseconds"
    assert h.layer_names[12:] == ["denoise", "logits"] and sum(h.layer_macs) == h.total_macs
    for i, w in enumerate(stub_model.random_windows(20, seed=3)):
        den, logits, _, _ = host_device.infer(w)
        ref = stub_model.reference(w)
        assert np.array_equal(den, ref[0]) and np.array_equal(logits, ref[1]), f"window {i}"


def test_each_kind_of_bad_frame_gets_its_error(host_device):
    dev = host_device
    payload = next(stub_model.random_windows(1)).tobytes()
    bad_crc = bytearray(P.encode_frame(P.INFER, 0x33, payload))
    bad_crc[-1] ^= 0xFF
    cases = [
        (bytes(bad_crc), P.E_BAD_CRC, 0x33),
        (P.encode_frame(P.INFER, 0x34, payload[:100]), P.E_BAD_LENGTH, 0x34),
        (P.encode_frame(P.HELLO, 0x35, b"x"), P.E_BAD_LENGTH, 0x35),
        (P.encode_frame(0x55, 0x36, b"abc"), P.E_UNKNOWN_TYPE, 0x36),
        (P.SYNC + struct.pack("<BBI", P.INFER, 0x37, 60000), P.E_BAD_LENGTH, 0x37),  # header only
    ]
    for raw, code, seq in cases:
        dev.send_raw(raw)
        err = wait_error(dev)
        assert (err.code, err.seq) == (code, seq)
        assert_good_window(dev)
    assert dev.retried == 0


def test_fuzzed_frames_never_crash_the_firmware(host_device):
    """Random bytes, random frames and mutated good frames; after each burst a good window
    must still be answered correctly (the Device flushes and retries if it has to)."""
    dev = host_device
    dev.timeout = 1.0
    rng = np.random.default_rng(1234)
    good = P.encode_frame(P.INFER, 1, next(stub_model.random_windows(1)).tobytes())
    for burst in range(60):
        kind = burst % 3
        if kind == 0:
            raw = rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8).tobytes()
            raw += P.SYNC + rng.integers(0, 256, 4, dtype=np.uint8).tobytes()  # a random header
        elif kind == 1:
            n = int(rng.integers(0, 1100))
            raw = P.encode_frame(int(rng.integers(0, 256)), 2, rng.bytes(n))
        else:
            raw = bytearray(good)
            for i in rng.integers(0, len(raw), int(rng.integers(1, 5))):
                raw[i] ^= int(rng.integers(1, 256))
            raw = bytes(raw[: int(rng.integers(1, len(raw) + 1))])  # maybe truncated too
        dev.send_raw(raw)
        if burst % 2:
            dev.flush()  # explicit resync; on even bursts infer() has to recover by itself
        assert_good_window(dev, seed=burst)
    assert len(dev.errors) > 20
    print("errors", len(dev.errors), "retried", dev.retried)

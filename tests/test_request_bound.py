"""The firmware's request-length bound (main.c: a header announcing more than MAX_REQUEST =
EDGEKIT_INPUT_BYTES is rejected before a payload byte is stored), at the bound and one past it,
on the sanitizer (ASan + UBSan) host build: a bound one too high writes one byte past the input
buffer (ASan stops the firmware), one too low rejects a full window."""
import numpy as np

from edgekit.firmware import stub_model
from edgekit.harness import protocol as P
from edgekit.harness.device import Device, HostRunner

SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")


def reply(dev) -> P.Frame:
    f = dev.recv_frame(5.0)
    assert f is not None, "no reply: did the firmware stop? (a sanitizer report is on its stderr)"
    return f


def test_request_length_at_the_bound_and_one_past_it(build_fw):
    runner = HostRunner(build_fw("host", extra_cflags=SANITIZE).path)
    with runner:
        dev = Device(runner.link, timeout=5.0)
        info = dev.sync()
        bound = info.max_request
        assert bound == info.input_bytes == stub_model.CHANNELS * stub_model.LENGTH
        window = next(stub_model.random_windows(1, seed=4))
        payload = window.tobytes()
        # at the bound: a whole window, answered
        dev.send_raw(P.encode_frame(P.INFER, 0x11, payload))
        f = reply(dev)
        assert (f.type, f.seq) == (P.INFER_R, 0x11)
        den, logits, _, _ = P.decode_infer(f.payload, info)
        ref = stub_model.reference(window)
        assert np.array_equal(den, ref[0]) and np.array_equal(logits, ref[1])
        # one past it, with all its bytes: rejected at the header, nothing stored
        dev.send_raw(P.encode_frame(P.INFER, 0x12, payload + b"\x5A"))
        f = reply(dev)
        assert (f.type, f.seq) == (P.ERROR, 0x12)
        err = P.decode_error(f)
        assert (err.code, err.request_type, err.detail) == (P.E_BAD_LENGTH, P.INFER, bound + 1)
        # the payload that followed is hunted through as noise; the firmware still answers
        assert np.array_equal(dev.infer(window).denoised, ref[0])
    assert runner.proc.returncode == 0, "the firmware exited with an error (sanitizer report on stderr)"

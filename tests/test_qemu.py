"""The firmware under QEMU on every emulated board, with the stub model and its Python twin.

Missing QEMU or toolchains make these tests FAIL with the apt package to install.
"""
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import serial

from edgekit.firmware import stub_model
from edgekit.firmware.build import CALIB_MODEL_DIR
from edgekit.harness import protocol as P
from edgekit.harness import qemu as Q
from edgekit.harness.device import Device, DeviceErrorReply, open_device
from edgekit.harness.evaluate import evaluate
from edgekit.harness.proc import is_alive

pytestmark = pytest.mark.qemu
REPO = Path(__file__).resolve().parents[1]
BOARDS = ["mps2-an500", "mps2-an386", "mps3-an547", "virt", "netduinoplus2"]
N_WINDOWS = 24


def run_stub(board, elf, serial_mode="socket"):
    with open_device(board, elf, serial=serial_mode) as dev:
        res = evaluate(dev, stub_model.random_windows(N_WINDOWS, seed=7), stub_model.reference,
                       limit=N_WINDOWS, progress=False)
    return dev, res


@pytest.mark.parametrize("board", BOARDS)
def test_stub_bit_exact_and_deterministic(build_fw, board):
    elf = build_fw(board).path
    dev, first = run_stub(board, elf)
    h = first.hello
    assert (h.model_name, h.model_hash, h.board) == ("stub", "57ab0000deadbeef", board)
    assert (h.input_shape, h.denoised_bytes, h.logits_bytes, h.arena_bytes) == ((2, 512), 1024, 2, 96)
    assert h.counter_kind == "instructions" and h.clock_hz > 0 and h.num_layers == 14
    assert first.n_bit_exact == N_WINDOWS, [w for w in first.windows if not w.bit_exact][:2]
    assert first.retried == 0 and first.device_errors == 0

    _, second = run_stub(board, elf)  # a fresh QEMU: same windows, same counts
    assert second.counts == first.counts
    assert [w.layer_counts for w in second.windows] == [w.layer_counts for w in first.windows]
    # the stub has no data-dependent branches: every window costs the same
    assert len(set(first.counts)) == 1
    assert sum(first.windows[0].layer_counts) <= first.counts[0]
    print(f"\n{board}: {first.counts[0]} instructions/window, {first.windows_per_s:.1f} windows/s")


@pytest.mark.parametrize("board", BOARDS)
def test_counts_are_exact_instructions(build_fw, board):
    """Calibration model: layer l spins (l+1)*1000 two-instruction iterations, so consecutive
    layers differ by exactly 2000 instructions. On ARM the same must hold with a tiny SysTick
    reload (a wrap every ~1000 instructions): the wrap accounting is exact."""
    builds = [build_fw(board, CALIB_MODEL_DIR)]
    # netduinoplus2's SysTick runs at 168 MHz, 21.504 ticks per instruction: with a wrap every
    # ~190 instructions, readings next to a wrap come out +-1 (totals over many wraps hold)
    if board not in ("virt", "netduinoplus2"):
        builds.append(build_fw(board, CALIB_MODEL_DIR, ("-DEDGEKIT_SYSTICK_RELOAD=0xFFFu",)))
    results = []
    for info in builds:
        with open_device(board, info.path) as dev:
            results.append([dev.infer(np.zeros((2, 512), np.int8)) for _ in range(2)])
    for runs in results:
        for r in runs:
            assert np.diff(r.layer_counts[1:]).tolist() == [2000] * 12
            assert sum(r.layer_counts) <= r.count
    assert len({(r.count, tuple(r.layer_counts)) for runs in results for r in runs}) == 1


def wait_error(dev, timeout=5.0) -> P.DeviceError:
    while (f := dev.recv_frame(timeout)) is not None:
        if f.type == P.ERROR:
            return P.decode_error(f)
    raise AssertionError("no error frame")


def assert_good_window(dev, seed):
    w = next(stub_model.random_windows(1, seed))
    den, logits, _, _ = dev.infer(w)
    ref_den, ref_logits = stub_model.reference(w)
    assert np.array_equal(den, ref_den) and np.array_equal(logits, ref_logits)


@pytest.mark.parametrize("board", ["mps2-an500", "virt"])
def test_malformed_frames_get_errors_and_device_recovers(build_fw, board):
    payload = next(stub_model.random_windows(1)).tobytes()
    bad_crc = bytearray(P.encode_frame(P.INFER, 0x33, payload))
    bad_crc[-1] ^= 0xFF
    with open_device(board, build_fw(board).path, timeout=3.0) as dev:
        for raw, code, seq in [
            (bytes(bad_crc), P.E_BAD_CRC, 0x33),
            (P.encode_frame(P.INFER, 0x34, payload[:100]), P.E_BAD_LENGTH, 0x34),
            (P.encode_frame(0x55, 0x35, b"abc"), P.E_UNKNOWN_TYPE, 0x35),
            (P.SYNC + bytes([P.INFER, 0x36, 0x60, 0xEA, 0, 0]), P.E_BAD_LENGTH, 0x36),  # len 60000
        ]:
            dev.send_raw(raw)
            err = wait_error(dev)
            assert (err.code, err.seq) == (code, seq)
            assert_good_window(dev, seq)
        assert dev.retried == 0

        # random bytes with a planted header (INFER, len 1024) inside: the device swallows the
        # next 1028 bytes, fails their CRC, and infer() must still get its answer
        rng = np.random.default_rng(5)
        junk = rng.integers(0, 256, 700, dtype=np.uint8).tobytes()
        n_err = len(dev.errors)
        dev.send_raw(junk + P.SYNC + bytes([P.INFER, 0x40, 0x00, 0x04, 0, 0]) + junk[:300])
        assert_good_window(dev, 99)
        assert len(dev.errors) > n_err and dev.retried >= 1
        assert_good_window(dev, 100)


def test_killed_harness_leaves_no_qemu(build_fw, tmp_path):
    """SIGKILL the harness mid-stream: QEMU (own session, parent-death signal) must go too."""
    elf = build_fw("mps2-an500").path
    harness = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "run.py"), "--board", "mps2-an500", "--model", "stub",
         "--elf", str(elf), "--windows", "100000", "--no-progress", "--report", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    try:
        line = harness.stdout.readline()
        assert line.startswith("started qemu pid"), line
        qemu_pid = int(line.split()[-1])
        time.sleep(0.5)  # let it stream a few windows
        assert is_alive(qemu_pid)
        harness.send_signal(signal.SIGKILL)
        harness.wait(5)
        deadline = time.monotonic() + 5
        while is_alive(qemu_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_alive(qemu_pid), f"QEMU {qemu_pid} survived its harness"
    finally:
        harness.kill()
        harness.wait()


def test_context_manager_kills_qemu_on_exception(build_fw):
    elf = build_fw("virt").path
    with pytest.raises(RuntimeError, match="boom"):
        with Q.QemuRunner("virt", elf) as q:
            pid = q.pid
            raise RuntimeError("boom")
    assert not is_alive(pid)


@pytest.mark.parametrize("board", ["virt", "mps2-an386"])
def test_pty_serial_path(build_fw, board):
    """QEMU -serial pty opened with plain serial.Serial (the code path real boards use)."""
    elf = build_fw(board).path
    with Q.QemuRunner(board, elf, serial="pty") as q:
        assert type(q.link.ser) is serial.Serial and q.link.name.startswith("/dev/pts/")
        dev = Device(q.link, timeout=5.0)
        assert dev.sync().board == board
        res = evaluate(dev, stub_model.random_windows(5, seed=2), stub_model.reference, limit=5,
                       progress=False)
        assert res.bit_exact


def test_missing_qemu_names_apt_package(monkeypatch):
    monkeypatch.setattr(Q.shutil, "which", lambda name: None)
    with pytest.raises(Q.QemuMissingError, match="apt-get install .*qemu-system-misc"):
        Q.qemu_command(Q.load_board("virt"), "fw.elf")
    with pytest.raises(Q.QemuMissingError, match="qemu-system-arm"):
        Q.qemu_command(Q.load_board("mps3-an547"), "fw.elf")



FAULT = """
#if defined(__arm__)
    __asm volatile("udf #0");
#else
    __asm volatile("unimp");
#endif
"""


@pytest.mark.parametrize("board,cause", [("mps2-an500", 3), ("virt", 2)])
def test_cpu_fault_is_reported_not_hung(build_fw, tmp_path, board, cause):
    """A model that executes an undefined instruction: the trap handler sends a FAULT error
    (ARM: exception number 3 = HardFault; RISC-V: mcause 2 = illegal instruction)."""
    model = tmp_path / "fault_model"
    model.mkdir()
    stub = stub_model.MODEL_DIR
    (model / "model.h").write_text((stub / "model.h").read_text())
    src = (stub / "model.c").read_text()
    marker = "    int32_t *acc = (int32_t *)arena;"
    (model / "model.c").write_text(src.replace(marker, FAULT + marker))
    with open_device(board, build_fw(board, model).path, timeout=5.0) as dev:
        t = time.monotonic()
        with pytest.raises(DeviceErrorReply) as e:
            dev.infer(np.zeros((2, 512), np.int8))
    assert (e.value.error.code, e.value.error.detail) == (P.E_FAULT, cause)
    assert time.monotonic() - t < 2.0

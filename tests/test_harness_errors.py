"""One error path for run.py: every expected failure is one `error: ...` line on stderr, no
traceback, and its documented exit code (2 usage/setup, 4 link lost or device fault); the port,
the flash tool, QEMU and the ELF are checked before anything is compiled; --timeout bounds the
hello; QEMU's own message is shown when it dies instead of answering."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.harness.device import open_device
from edgekit.harness.qemu import QemuError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "run.py"


def run_py(*args, timeout=120):
    t = time.monotonic()
    p = subprocess.run([sys.executable, str(SCRIPT), *args, "--no-progress"], capture_output=True, text=True,
                       cwd=REPO, timeout=timeout)
    return p, time.monotonic() - t


def assert_one_error(p, code, *phrases):
    assert p.returncode == code, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])
    return lines[0]


@pytest.mark.parametrize("args,phrases", [
    (["--board", "no-such-board", "--model", "stub"], ["unknown board 'no-such-board'", "mps2-an500"]),
    (["--target", "cortex-m99"], ["unknown target 'cortex-m99'", "cortex-m7"]),
    (["--board", "mps2-an500", "--model", "stub", "--elf", "/nonexistent/fw.elf"], ["/nonexistent/fw.elf: no such file"]),
    (["--board", "mps2-an500", "--model", "stub", "--elf", __file__], ["is not an ELF file"]),
    (["--resume", "/nonexistent/report"], ["no run log here"]),
])
def test_usage_errors_are_one_line_exit_2(args, phrases, tmp_path):
    p, _ = run_py(*args, "--report", str(tmp_path / "r")) if "--resume" not in args else run_py(*args)
    assert_one_error(p, 2, *phrases)


def test_elf_for_another_architecture_is_refused(build_fw, tmp_path):
    p, _ = run_py("--board", "mps2-an500", "--model", "stub", "--elf", str(build_fw("virt").path),
                  "--report", str(tmp_path))
    assert_one_error(p, 2, "ELF machine 243, not ARM")


def test_missing_port_and_flash_tool_are_checked_before_compiling(tmp_path):
    """The default (ONNX) model: nothing may be compiled before the port/tool check fails."""
    p, took = run_py("--board", "nucleo-f746zg", "--port", "/dev/ttyNOSUCH0", "--report", str(tmp_path / "a"))
    assert_one_error(p, 2, "serial port /dev/ttyNOSUCH0 does not exist")
    assert not (tmp_path / "a" / "model").exists() and "compiled" not in p.stdout
    master, slave = os.openpty()
    try:
        if any((Path(d) / "pyocd").exists() for d in os.environ.get("PATH", "").split(os.pathsep)):
            pytest.fail("pyocd is installed here: this check needs a machine without it")
        p, _ = run_py("--board", "nucleo-f746zg", "--port", os.ttyname(slave), "--report", str(tmp_path / "b"))
        assert_one_error(p, 2, "pyocd not found", "--no-flash")
        assert not (tmp_path / "b" / "model").exists() and "compiled" not in p.stdout
    finally:
        os.close(master)
        os.close(slave)


def test_pty_that_never_answers_times_out_with_timeout(tmp_path):
    """A board that never answers: exit 4 after --timeout (not the old fixed 15 s hello wait),
    timed from the line that says the firmware was built to the exit."""
    master, slave = os.openpty()
    port = os.ttyname(slave)
    try:
        h = subprocess.Popen([sys.executable, str(SCRIPT), "--board", "nucleo-f746zg", "--port", port, "--no-flash",
                              "--model", "stub", "--timeout", "1.5", "--report", str(tmp_path), "--no-progress"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        built = None
        for line in h.stdout:
            if line.startswith("built "):
                built = time.monotonic()
        h.wait(60)
        waited = time.monotonic() - built
        p = subprocess.CompletedProcess(h.args, h.returncode, "", h.stderr.read())
    finally:
        os.close(master)
        os.close(slave)
    assert_one_error(p, 4, f"no answer to hello on {port} within 1.5 s")
    assert 1.5 <= waited < 6.0, waited  # the old hello wait alone was a fixed 15 s


@pytest.mark.qemu
def test_qemu_dying_instead_of_answering_shows_qemus_own_message(build_fw):
    """A RISC-V ELF on an Arm QEMU board (run.py refuses it before; open_device itself must not
    hide QEMU's reason behind 'connection reset')."""
    t = time.monotonic()
    with pytest.raises(QemuError) as e:
        with open_device("mps2-an500", build_fw("virt").path, timeout=5.0):
            pass
    assert "QEMU exited" in str(e.value) and "qemu: fatal: Lockup" in str(e.value), str(e.value)
    assert time.monotonic() - t < 5.0

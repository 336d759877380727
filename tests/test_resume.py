"""Nothing lost: results are logged per window (run.jsonl); a run whose QEMU is killed mid-run, or
which gets SIGTERM, still writes run.json and report.md, exits 4 / 143 with one error line, and
`--resume` ends it with the run.json of an uninterrupted run (the `session` key, wall-clock
facts only, left out of the comparison)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.harness.runlog import RunLog

pytestmark = pytest.mark.qemu
REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "run.py"
N = 12
BOARD = "mps2-an500"


def run_py(*args, **kw):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300, **kw)


def base_args(elf, report):
    return ["--board", BOARD, "--model", "stub", "--elf", str(elf), "--windows", str(N), "--no-progress",
            "--report", str(report)]


def results(report: Path) -> dict:
    run = json.loads((report / "run.json").read_text())
    return {k: v for k, v in run.items() if k != "session"}


def window_lines(report: Path) -> int:
    try:
        return (report / "run.jsonl").read_text().count('"kind":"window"')
    except FileNotFoundError:
        return 0


def start_and_stop_after(elf, report, windows, stop):
    """Start run.py, wait until `windows` results are logged, call stop(harness, qemu_pid)."""
    h = subprocess.Popen([sys.executable, str(SCRIPT), *base_args(elf, report)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = h.stdout.readline()
        assert line.startswith("started qemu pid"), line + h.stderr.read()
        qemu_pid = int(line.split()[-1])
        deadline = time.monotonic() + 60
        while window_lines(report) < windows and time.monotonic() < deadline:
            time.sleep(0.005)
        assert window_lines(report) < N, "the run ended before it could be stopped"
        stop(h, qemu_pid)
        out, err = h.communicate(timeout=60)
    finally:
        h.kill()
    return h.returncode, line + out, err


@pytest.fixture(scope="module")
def uninterrupted(build_fw, tmp_path_factory):
    elf = build_fw(BOARD).path
    report = tmp_path_factory.mktemp("whole")
    p = run_py(*base_args(elf, report))
    assert p.returncode == 0, p.stderr
    return elf, results(report)


def check_stopped_then_resumed(elf, report, rc, out, err, want_rc, reference):
    assert rc == want_rc, err
    assert err.count("\n") == 1 and err.startswith("error: run stopped after ") and "Traceback" not in err
    assert f"--resume {report}" in err
    partial = results(report)
    logged = RunLog.read(report / "run.jsonl")
    assert partial["complete"] is False and 0 < partial["windows"] < N
    assert partial["windows"] == len(logged.windows) == logged.next_window  # nothing lost
    assert partial["counts"] == reference["counts"][:partial["windows"]]
    assert "INCOMPLETE" in (report / "report.md").read_text()

    p = run_py("--resume", str(report), "--no-progress")
    assert p.returncode == 0, p.stderr
    assert f"resuming {report}: {partial['windows']} of {N} windows already acknowledged" in p.stdout
    assert results(report) == reference  # same windows, outputs, counts: nothing lost or counted twice
    run = json.loads((report / "run.json").read_text())
    assert [s["windows"] for s in run["session"]["sessions"]] == [partial["windows"], N - partial["windows"]]
    assert (report / "run.jsonl").read_text().count('"kind":"window"') == N


def test_qemu_killed_mid_run_then_resumed(uninterrupted, tmp_path):
    elf, reference = uninterrupted
    assert reference["complete"] and reference["windows"] == N and reference["all_bit_exact"]
    rc, out, err = start_and_stop_after(elf, tmp_path, 4, lambda h, pid: os.kill(pid, signal.SIGKILL))
    assert "link lost" in err
    check_stopped_then_resumed(elf, tmp_path, rc, out, err, 4, reference)


def test_sigterm_mid_run_then_resumed(uninterrupted, tmp_path):
    elf, reference = uninterrupted
    rc, out, err = start_and_stop_after(elf, tmp_path, 3, lambda h, pid: h.send_signal(signal.SIGTERM))
    assert "SIGTERM" in err
    check_stopped_then_resumed(elf, tmp_path, rc, out, err, 143, reference)


def test_resume_of_a_folder_without_a_run_is_a_usage_error(tmp_path):
    p = run_py("--resume", str(tmp_path))
    assert p.returncode == 2 and p.stderr.startswith("error: ") and "no run log here" in p.stderr
    assert "Traceback" not in p.stderr


def test_a_cut_last_line_is_dropped_and_cut_off(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text('{"kind":"run","format":1,"config":{}}\n{"kind":"window","index":0,"count":1,"layer_co')
    rl = RunLog.read(log)
    assert rl.windows == {} and rl.next_window == 0
    rl.open_for_append().append({"kind": "session"})
    rl.close()
    assert log.read_text().splitlines()[1] == '{"kind":"session"}'

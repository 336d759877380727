"""Child processes that cannot outlive the harness (QEMU, host firmware, flash tools).

spawn() puts the child in its own session (so we can kill its whole process group) and asks
the kernel to SIGKILL it when its parent dies (prctl PR_SET_PDEATHSIG), so even a SIGKILLed
harness leaves nothing behind. Note: the kernel sends the signal when the *thread* that
spawned the child exits, so spawn from a thread that lives as long as the child.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def spawn(cmd: list[str], **popen_kwargs) -> subprocess.Popen:
    parent = os.getpid()

    def child_setup() -> None:
        os.setsid()
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return subprocess.Popen(cmd, preexec_fn=child_setup, **popen_kwargs)


def kill_group(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGKILL the child's whole process group and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass


def is_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False

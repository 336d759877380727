"""edgekit.harness: talk to the firmware on QEMU, a real board or the host.

protocol (frames, CRC, payload codecs), link (pyserial / pipe), proc (child process hygiene),
qemu / board / device.HostRunner (start a target, yield a link), device (Device, open_device),
evaluate + report (stream windows, compare with a reference, latency stats, JSON/Markdown/PNG),
workload (real test ECG windows + NSTDB noise at given SNRs), scoring (denoising / AF metrics
from int8 outputs), pipeline (compile -> firmware -> run -> score -> report: scripts/run.py).
"""

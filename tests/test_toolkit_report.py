"""Reports a person reads: ms at the real board's clock (an estimate at 1 instruction/cycle from
QEMU), the real-time factor against the 2.84 s window, the command and tool versions, the arena
plan drawn, instructions per layer sorted with % labels; the boards' real clocks."""
import pytest

from edgekit.compiler.arena_plot import plot_arena
from edgekit.firmware.build import board_header
from edgekit.firmware.targets import load_board
from edgekit.harness.report import run_markdown
from edgekit.harness.timing import format_time, real_time

WINDOW_S = 1024 / 360


def test_qemu_instructions_become_an_estimate_at_the_real_board_clock():
    t = real_time({"unit": "instructions", "p50": 70_000_000.0, "p99": 70_000_000.0, "max": 70_000_001.0},
                  load_board("mps2-an500"), WINDOW_S)
    assert (t["clock_board"], t["clock_hz"], t["estimate"]) == ("nucleo-f746zg", 216_000_000, True)
    assert t["ms_p50"] == pytest.approx(70e6 / 216e6 * 1e3)             # 324.07 ms
    assert t["rtf_p50"] == pytest.approx(t["ms_p50"] / 1e3 / WINDOW_S)  # 0.114
    label, text = format_time(t)
    assert label == "latency (ms, estimate)" and "324.07" in text and "1 instruction/cycle, 216 MHz" in text
    assert "real-time factor 0.1139 of the 2.84 s window (9x faster than real time)" in text


def test_a_cycle_counter_gives_ms_at_the_board_clock_and_an_emulated_mcu_its_own():
    t = real_time({"unit": "cycles", "p50": 120_000_000.0, "p99": 1.2e8, "max": 1.2e8},
                  load_board("nucleo-l4r5zi"), WINDOW_S)
    assert t["estimate"] is False and t["ms_p50"] == pytest.approx(1000.0) and t["clock_hz"] == 120_000_000
    t = real_time({"unit": "instructions", "p50": 168e6, "p99": 168e6, "max": 168e6}, load_board("netduinoplus2"),
                  WINDOW_S)
    assert t["clock_board"] == "netduinoplus2" and t["ms_p50"] == pytest.approx(1000.0) and t["estimate"]
    t = real_time({"unit": "nanoseconds", "p50": 2e6, "p99": 2e6, "max": 2e6}, load_board("host"), WINDOW_S)
    assert t["ms_p50"] == pytest.approx(2.0) and t["estimate"] is False


def test_real_board_clocks():
    f7 = load_board("nucleo-f746zg")
    assert f7.clock_hz == 216_000_000 and f7.caches and f7.uart["clock_hz"] == 54_000_000
    rows = {op[0]: op for op in f7.init_ops if not op[3]}
    assert rows[0x40023804][2] == 8 | 216 << 6 | 9 << 24            # PLLM 8, PLLN 216, PLLP /2, PLLQ 9 (HSI)
    assert rows[0x40023C00][2] & 0xF == 7                           # 7 flash wait states at 216 MHz
    h = board_header(f7)
    assert "#define EDGEKIT_ENABLE_CACHES 1" in h and "#define EDGEKIT_CLOCK_HZ 216000000u" in h
    l4 = load_board("nucleo-l4r5zi")
    assert l4.clock_hz == 120_000_000 and not l4.caches
    rows = {op[0]: op for op in l4.init_ops if not op[3]}
    assert rows[0x4002100C][2] == 2 | 1 << 4 | 30 << 8 | 1 << 24    # HSI16 /2 x30 /2 = 120 MHz
    assert rows[0x40022000][2] & 0xF == 5                           # 5 wait states
    assert "EDGEKIT_ENABLE_CACHES" not in board_header(load_board("mps2-an500"))


def test_run_report_has_time_command_versions_and_pictures(tmp_path):
    plan = [{"name": "in", "offset": 0, "size": 4096, "start": 0, "end": 1, "scratch": False},
            {"name": "enc1", "offset": 4096, "size": 2048, "start": 1, "end": 3, "scratch": False},
            {"name": "scratch:k.buf", "offset": 0, "size": 512, "start": 2, "end": 2, "scratch": True}]
    png = plot_arena(plan, 6144, tmp_path / "arena.png", title="m")
    assert png.read_bytes()[:4] == b"\x89PNG"
    lat = {"unit": "instructions", "p50": 7e7, "p99": 7e7, "max": 7e7, "p50_us": 1.0, "p99_us": 1.0,
           "max_us": 1.0, "clock_hz": 25_000_000, "per_mac": 3.6, "total_macs": 110}
    run = {"target": "cortex-m7", "board": "mps2-an500", "board_kind": "qemu", "model_name": "m", "model_hash": "h",
           "model": "m.onnx", "windows": 1, "bit_exact": 1, "all_bit_exact": True, "latency": lat,
           "session": {"windows_per_s": 1.0, "retried": 0, "device_errors": 0, "seconds": {"total": 1.0},
                       "sessions": [{}], "command": "python scripts/run.py --target cortex-m7 --qemu"},
           "layers": [], "mismatched_windows": [],
           "timing": real_time(lat, load_board("mps2-an500"), WINDOW_S),
           "versions": {"edgekit": "0.1.0", "TVM": "0.27.0.post1", "gcc": "arm-none-eabi-gcc 12.2"},
           "arena": {"png": "arena.png", "bytes": 6144}}
    md = run_markdown(run)
    assert "| latency (ms, estimate) | p50 324.07" in md and "real-time factor" in md
    assert "| command | python scripts/run.py --target cortex-m7 --qemu |" in md
    assert "edgekit 0.1.0, TVM 0.27.0.post1, gcc arm-none-eabi-gcc 12.2" in md
    assert "![arena plan](arena.png)" in md and "## Instructions per layer" in md and "latency_hist" not in md

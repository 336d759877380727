"""Real vendor MCUs that QEMU emulates, so their firmware paths (vendor UART driver, board init
ops, memory map) run in CI:

- netduinoplus2: an STM32F405 (Cortex-M4F) with the STM32F4 USART (SR/DR layout); the shipped
  model through `scripts/run.py --board netduinoplus2 --qemu`, bit for bit;
- the HiFive1 Rev B board file (FE310, SiFive UART, PRCI/GPIO init ops, 16 KiB DTIM) under QEMU's
  sifive_e, with a small model whose firmware fits that RAM.

Missing QEMU or toolchains make these tests FAIL naming the apt package.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.firmware.build import build_firmware
from edgekit.firmware.targets import load_board
from edgekit.harness.device import Device
from edgekit.harness.evaluate import evaluate
from edgekit.harness.qemu import QemuRunner

pytestmark = [pytest.mark.qemu, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "acdae" / "model.onnx"


@pytest.mark.parametrize("board,n_ops", [("netduinoplus2", 4), ("hifive1-revb", 5), ("nucleo-f746zg", 18),
                                         ("nucleo-l4r5zi", 19)])
def test_board_init_ops_are_read_from_the_top_level(board, n_ops):
    """init_ops written after the [uart] table would land inside it and never run."""
    b = load_board(board)
    assert len(b.init_ops) == n_ops and "init_ops" not in b.uart


def test_netduinoplus2_runs_the_shipped_model_bit_exact(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "run.py"), "--board", "netduinoplus2", "--qemu",
                        "--model", str(MODEL), "--windows", "4", "--report", str(out), "--no-progress"],
                       capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert (run["board"], run["target"], run["board_kind"]) == ("netduinoplus2", "cortex-m4", "qemu")
    assert run["windows"] == 4 and run["bit_exact"] == 4 and run["all_bit_exact"]
    assert run["metrics_equal_reference"]
    macs = run["compile"]["macs"]
    # Deterministic instruction counts; the same cortex-m4 object code counted 69,461,543 to
    # 69,463,637 per window on mps2-an386 (25 MHz SysTick) and 231 more on this 168 MHz one.
    assert all(3.5 * macs < c < 4.5 * macs for c in run["counts"]), run["counts"]
    fw = out / "firmware"
    assert "uart_stm32f4.c" in (fw / "build_commands.txt").read_text()  # the vendor driver ran
    board_h = (fw / "edgekit_board.h").read_text()
    assert "EDGEKIT_UART_BASE 0x40011000u" in board_h and "EDGEKIT_INIT_OPS" in board_h
    assert "ORIGIN = 0x08000000" in (fw / "board.ld").read_text()


def test_hifive1_board_file_runs_a_small_model_under_sifive_e(tmp_path):
    """A 2 x 256 ACDAE (2 levels, 99 K MACs) compiled for riscv32 and built for the HiFive1 Rev B:
    its weights stay in the QSPI flash at 0x20010000, its RAM fits the 16 KiB DTIM."""
    import torch

    from edgekit.compiler import compile_model
    from edgekit.model.acdae import ACDAE, ACDAEConfig
    from edgekit.model.fakequant import set_qat
    from edgekit.quant.export import export_model
    from edgekit.quant.runners import IntModel

    cfg = ACDAEConfig(window=256, widths=(8, 16), kernel=5, strides=(2, 2), dec_kernel=4, head_hidden=8)
    torch.manual_seed(0)
    m = ACDAE(cfg)
    set_qat(m, True)
    m.train()
    with torch.no_grad():
        for _ in range(4):
            m(torch.randn(16, cfg.in_channels, cfg.window) * 0.3)
    model = export_model(m.eval(), tmp_path / "model")
    compile_model(model, "riscv32", tmp_path / "c")
    board = load_board("hifive1-revb")
    assert board.kind == "hardware" and board.qemu["machine"].startswith("sifive_e")
    info = build_firmware(tmp_path / "c", board, tmp_path / "fw")
    assert info.ram_bytes <= board.memory["ram"]["length"] == 16384
    assert "ORIGIN = 0x20010000" in (tmp_path / "fw" / "board.ld").read_text()
    assert "EDGEKIT_INIT_OPS" in (tmp_path / "fw" / "edgekit_board.h").read_text()  # PRCI, GPIO run too

    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (6, cfg.in_channels, cfg.window)).astype(np.int8)
    x[0], x[1] = -128, 127
    _, _, (den, logits) = IntModel(model)(x)
    with QemuRunner(board, info.path) as q:
        dev = Device(q.link, timeout=30)
        dev.sync()
        res = evaluate(dev, list(x), list(zip(den, logits)), progress=False)
    h = res.hello
    assert (h.board, h.input_length, h.counter_kind) == ("hifive1-revb", cfg.window, "cycles")
    # The board's counter is mcycle (cycles on silicon); QEMU's sifive_e does not tie mcycle to
    # -icount, so its counts are not checked here.
    assert res.n_bit_exact == len(x), [w for w in res.windows if not w.bit_exact][:2]
    assert res.retried == 0 and res.device_errors == 0

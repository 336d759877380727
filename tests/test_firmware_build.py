"""Target/board definitions and firmware builds (compile + link only, no QEMU)."""
import dataclasses
import subprocess

import pytest

from edgekit.firmware import build as B
from edgekit.firmware.targets import (UnknownTargetError, known_boards, known_targets, load_board,
                                      load_target)

QEMU_BOARDS = ["mps2-an500", "mps2-an386", "mps3-an547", "virt", "netduinoplus2"]
HW_BOARDS = ["nucleo-f746zg", "nucleo-l4r5zi", "hifive1-revb"]


def test_known_targets_and_boards():
    assert {"cortex-m7", "cortex-m4", "cortex-m55", "riscv32", "host"} <= set(known_targets())
    assert set(QEMU_BOARDS + HW_BOARDS + ["host"]) <= set(known_boards())
    for name in known_targets():
        t = load_target(name)
        assert t.name == name and t.default_board in known_boards()
        assert t.flash_bytes >= 0 and t.ram_bytes >= 0 and t.apt_packages
    for name in known_boards():
        b = load_board(name)
        assert b.name == name and b.target in known_targets() and b.clock_hz > 0
        if b.kind == "qemu":
            assert b.qemu["machine"] and b.qemu["apt_package"]
        if b.kind == "hardware":
            assert b.flash["command"] and "{elf}" in " ".join(b.flash["command"])


def test_target_api_for_the_compiler():
    t = load_target("cortex-m7")
    assert t.toolchain_prefix == "arm-none-eabi-" and t.tool("gcc") == "arm-none-eabi-gcc"
    assert "-mcpu=cortex-m7" in t.cflags and t.flash_bytes == 1 << 20
    assert load_target("riscv32").ram_bytes == 512 * 1024  # ESP32-C6 class; the HiFive1 board has 16 KiB
    assert load_board("hifive1-revb").memory["ram"]["length"] == 16 * 1024


def test_unknown_names_list_known_ones():
    with pytest.raises(UnknownTargetError, match="cortex-m7.*riscv32|known targets: .*cortex-m7"):
        load_target("cortex-m99")
    with pytest.raises(KeyError, match="mps2-an500"):
        load_board("nope")


def test_counter_fractions():
    assert B.counter_fraction(load_board("mps2-an500")) == (5, 16)     # 3.2 ticks / instruction
    assert B.counter_fraction(load_board("mps3-an547")) == (125, 512)  # 4.096
    assert B.counter_fraction(load_board("virt")) == (1, 128)          # minstret = icount ns
    assert B.counter_fraction(load_board("nucleo-f746zg")) == (1, 1)


@pytest.mark.parametrize("board", QEMU_BOARDS + HW_BOARDS + ["host"])
def test_build_stub_for_every_board(build_fw, board):
    info = build_fw(board)
    b = load_board(board)
    assert info.path.is_file() and info.flash_bytes > 1000 and info.ram_bytes > 2048
    if b.memory:
        assert info.flash_bytes <= b.memory["flash"]["length"]
        assert info.ram_bytes <= b.memory["ram"]["length"]
    cmds = (info.path.parent / "build_commands.txt").read_text()
    for flag in ("-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections",
                 "--gc-sections"):
        assert flag in cmds
    if b.kind != "host":
        nm = load_target(b.target).tool("nm")
        syms = subprocess.run([nm, str(info.path)], capture_output=True, text=True, check=True).stdout
        assert " malloc" not in syms and "_sbrk" not in syms


def test_missing_toolchain_names_apt_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(B.shutil, "which", lambda name: None)
    with pytest.raises(B.ToolchainMissingError, match="gcc-arm-none-eabi libnewlib-arm-none-eabi"):
        B.build_firmware(B.STUB_MODEL_DIR, "mps2-an500", tmp_path)
    with pytest.raises(B.ToolchainMissingError,
                       match="gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"):
        B.build_firmware(B.STUB_MODEL_DIR, "virt", tmp_path)


def test_missing_libc_names_apt_packages():
    t = dataclasses.replace(load_target("cortex-m4"), libc_probe="libdoes_not_exist.a")
    with pytest.raises(B.ToolchainMissingError, match="libnewlib-arm-none-eabi"):
        B.check_toolchain(t)


def test_model_warnings_are_errors(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.h").write_text((B.STUB_MODEL_DIR / "model.h").read_text())
    src = (B.STUB_MODEL_DIR / "model.c").read_text()
    (model / "model.c").write_text(src + "\nstatic int unused_helper(void) { return 1; }\n")
    with pytest.raises(B.BuildError, match="unused"):
        B.build_firmware(model, "virt", tmp_path / "out")

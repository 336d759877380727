"""Tests that fail on realistic one-line bugs which bit-exactness cannot see (C and reference share
them): M0 truncated instead of rounded, an overlap check that tolerates a few bytes, evaluation
noise from the training part, the SNR improvement's sign, a wrong -mcpu in a target file.
Each was checked by putting the bug in by hand (see the commit message)."""
import math
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from edgekit import metrics
from edgekit.compiler.planner import ALIGN, Buffer, MemoryPlan
from edgekit.data import noise as noise_mod
from edgekit.data import windows as windows_mod
from edgekit.firmware import build as B
from edgekit.firmware.targets import load_board, load_target
from edgekit.ir.arithmetic import quantize_multiplier, quantize_multipliers


# --- M0 is the integer nearest to real * 2**n -------------------------------------------
def _reals():
    rng = np.random.default_rng(1)
    fixed = [1e-6, 3.3e-4, 0.0123, 0.1, 1 / 3, 0.5, 0.7, 0.99999, 1.0, 7.5, 2 / 3 * 1e-3]
    return fixed + list(np.exp(rng.uniform(np.log(1e-7), np.log(50), 500)))


def test_m0_is_the_nearest_integer_to_real_times_two_to_the_n():
    for real in _reals():
        m0, n = quantize_multiplier(float(real))
        exact = Fraction(float(real)) * 2**n          # exact rational, no float rounding
        assert abs(Fraction(m0) - exact) <= Fraction(1, 2), (real, m0, n)
        assert 2**30 <= m0 < 2**31 and 1 <= n <= 62
    # a value whose mantissa fraction is clearly above one half rounds up, not down
    real = (2**30 + 0.75) * 2.0**-31
    assert quantize_multiplier(real) == (2**30 + 1, 31)
    m, n = quantize_multipliers(np.array([real, 0.5]))
    assert m.tolist() == [2**30 + 1, 2**30] and n.tolist() == [31, 31]


# --- the memory plan's overlap check ------------------------------------------------------
@pytest.mark.parametrize("overlap", [1, 2, 3, 7, ALIGN])
@pytest.mark.parametrize("order", ["a_first", "b_first"])
def test_plan_verify_catches_small_overlaps_in_both_orders(overlap, order):
    size = 64
    a = Buffer("a", ["a"], size, 0, 2, 0)
    b = Buffer("b", ["b"], size, 1, 3, 0)
    # b starts `overlap` bytes before a ends (offsets need not be aligned for the check itself)
    b.offset = size - overlap
    bufs = [a, b] if order == "a_first" else [b, a]
    plan = MemoryPlan(bufs, 2 * size + ALIGN, 2 * size, 1, "manual")
    with pytest.raises(AssertionError, match="overlap"):
        _verify_ignoring_alignment(plan)


def _verify_ignoring_alignment(plan: MemoryPlan):
    """verify() with ALIGN lifted to 1 for this call (the test uses unaligned offsets)."""
    import edgekit.compiler.planner as P
    old = P.ALIGN
    P.ALIGN = 1
    try:
        plan.verify()
    finally:
        P.ALIGN = old


@pytest.mark.parametrize("order", ["a_first", "b_first"])
def test_plan_verify_accepts_touching_and_time_disjoint_buffers(order):
    a = Buffer("a", ["a"], 64, 0, 2, 0)
    b = Buffer("b", ["b"], 64, 1, 3, 64)          # adjacent: no overlap
    c = Buffer("c", ["c"], 64, 3, 4, 0)           # same bytes as a, but a is dead by then
    bufs = [a, b, c] if order == "a_first" else [c, b, a]
    MemoryPlan(bufs, 128, 128, 1, "manual").verify()
    b.offset = 56                                 # 8 bytes over a, aligned
    with pytest.raises(AssertionError, match="overlap"):
        MemoryPlan(bufs, 128, 128, 1, "manual").verify()


# --- evaluation and segment windows use the held-out part of the noise ------------------
def test_noise_parts_are_disjoint_and_test_is_the_tail():
    x = np.arange(1000.0)[None, :].repeat(2, 0)
    tr, te = noise_mod.noise_part(x, "train"), noise_mod.noise_part(x, "test")
    assert tr.shape[1] + te.shape[1] == 1000 and tr[0, -1] < te[0, 0]
    assert te.shape[1] == 1000 - int(1000 * noise_mod.TRAIN_FRACTION)


class _Drawn(Exception):
    pass


@pytest.fixture
def parts_used(monkeypatch):
    """Records every noise part the window builders read, then stops the build."""
    used = []
    real = windows_mod.noise_part

    def spy(noise, part, *a, **k):
        used.append(part)
        real(noise, part, *a, **k)
        raise _Drawn

    monkeypatch.setattr(windows_mod, "noise_part", spy)
    return used


def test_evaluation_windows_use_the_test_part(parts_used):
    from edgekit.data import evaluation_windows, segment_windows, split_records
    test = split_records()["test"][:1]
    with pytest.raises(_Drawn):
        evaluation_windows(None, test, "mixed", 0, per_record=2)
    with pytest.raises(_Drawn):
        segment_windows(None, test, noise_kind="em", snr_db=6)
    assert parts_used and set(parts_used) == {"test"}


def test_the_model_evaluation_and_the_device_workload_use_the_test_part(parts_used):
    from edgekit.harness.workload import ecg_workload
    from edgekit.quant.evaluate import evaluate
    with pytest.raises(_Drawn):
        evaluate(REPO / "models" / "acdae", None, per_record=2)
    with pytest.raises(_Drawn):
        ecg_workload(4, snrs=(0,), noise="mixed")
    with pytest.raises(_Drawn):
        ecg_workload(4, snrs=(0,), noise="ma", segments=True)
    assert len(parts_used) == 3 and set(parts_used) == {"test"}


# --- the SNR improvement metric -----------------------------------------------------------
def _signals(n=6, w=512):
    rng = np.random.default_rng(3)
    clean = rng.normal(0, 50, (n, 2, w))
    noise = rng.normal(0, 1, (n, 2, w))
    noise *= np.sqrt(np.sum(clean**2, axis=(1, 2)) / np.sum(noise**2, axis=(1, 2)))[:, None, None]  # 0 dB
    return clean, noise


def test_snr_improvement_known_answers():
    clean, noise = _signals()
    # denoised = clean + noise / 10: output SNR 20 dB, input 0 dB -> +20 dB
    s = metrics.denoise_scores(clean, clean + noise, clean + noise / 10)
    assert s["snr_in_db"] == pytest.approx(0.0, abs=1e-9)
    assert s["snr_out_db"] == pytest.approx(20.0, abs=1e-9)
    assert s["snr_imp_db"] == pytest.approx(20.0, abs=1e-9)
    # making it worse is a negative improvement: noise x 2 -> -6.02 dB
    s = metrics.denoise_scores(clean, clean + noise, clean + 2 * noise)
    assert s["snr_imp_db"] == pytest.approx(-20 * math.log10(2), abs=1e-9)
    # unchanged input: 0; prd of the 20 dB output is 10 %
    assert metrics.denoise_scores(clean, clean + noise, clean + noise)["snr_imp_db"] == pytest.approx(0, abs=1e-12)
    assert metrics.denoise_scores(clean, clean + noise, clean + noise / 10)["prd"] == pytest.approx(10.0)
    # rmse in mV at 200 adu/mV: an error of 2 adu everywhere is 0.01 mV (x 2**shift = 4 -> 0.04 mV)
    err = np.full_like(clean, 2.0)
    assert metrics.denoise_scores(clean, clean + noise, clean + err)["rmse"] == pytest.approx(0.01)
    shift = np.full((len(clean), 2), 2)
    assert metrics.denoise_scores(clean, clean + noise, clean + err, shift)["rmse"] == pytest.approx(0.04)


# --- each ELF's CPU attributes match its target -------------------------------------------
# Expected per target NAME (not read from the target file, so a wrong -mcpu there is caught):
# (Tag_CPU_arch, Tag_FP_arch, single-precision-only FPU, MVE, -mcpu recorded in DW_AT_producer)
ARM_EXPECTED = {
    "cortex-m4": ("v7E-M", "VFPv4-D16", True, None, "cortex-m4"),
    "cortex-m7": ("v7E-M", "FPv5/FP-D16 for ARMv8", False, None, "cortex-m7"),
    "cortex-m55": ("v8.1-M.mainline", "FPv5/FP-D16 for ARMv8", False, "MVE Integer and FP", "cortex-m55"),
}
REPO = Path(__file__).resolve().parents[1]
QEMU_BOARD = {"cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500", "cortex-m55": "mps3-an547", "riscv32": "virt"}


def _readelf(tool: str, *args) -> str:
    exe = shutil.which(tool)
    assert exe, f"{tool} is missing: apt-get install binutils-arm-none-eabi / binutils-riscv64-unknown-elf"
    return subprocess.run([exe, *args], capture_output=True, text=True, check=True).stdout


def _tags(text: str) -> dict:
    return {m.group(1): m.group(2).strip().strip('"') for m in re.finditer(r"^\s*(Tag_\w+): (.*)$", text, re.M)}


@pytest.fixture(scope="module")
def elfs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fw")
    return {t: B.build_firmware(B.STUB_MODEL_DIR, b, root / b).path for t, b in QEMU_BOARD.items()}


@pytest.mark.parametrize("target", list(ARM_EXPECTED))
def test_arm_elf_cpu_attributes_match_the_target(elfs, target):
    assert load_board(QEMU_BOARD[target]).target == target
    arch, fp, sp_only, mve, cpu = ARM_EXPECTED[target]
    tags = _tags(_readelf("arm-none-eabi-readelf", "-A", str(elfs[target])))
    assert tags["Tag_CPU_arch"] == arch and tags["Tag_CPU_arch_profile"] == "Microcontroller"
    assert tags["Tag_FP_arch"] == fp
    assert (tags.get("Tag_ABI_HardFP_use") == "SP only") == sp_only
    assert tags.get("Tag_MVE_arch") == mve
    assert tags["Tag_ABI_VFP_args"] == "VFP registers"          # hard-float ABI
    if "cortex-m55" == target:
        assert tags["Tag_CPU_name"] == "cortex-m55"
    # M4 and M7 share v7E-M; the core itself is recorded in the producer string of every unit
    info = _readelf("arm-none-eabi-readelf", "--debug-dump=info", str(elfs[target]))
    ours = [p for p in re.findall(r"DW_AT_producer\s*:.*?: (GNU C.*)", info) if "-mcpu=" in p]  # not libc's
    assert len(ours) >= 3 and all(f"-mcpu={cpu} " in p for p in ours), ours[:2]
    assert f"-mcpu={cpu}" in load_target(target).cflags


def test_riscv_elf_is_rv32imac_ilp32(elfs):
    header = _readelf("riscv64-unknown-elf-readelf", "-h", "-A", str(elfs["riscv32"]))
    assert re.search(r"Class:\s+ELF32", header) and re.search(r"Machine:\s+RISC-V", header)
    flags = re.search(r"Flags:\s+(.*)", header).group(1)
    assert "RVC" in flags and "soft-float ABI" in flags and "RVE" not in flags
    isa = _tags(header)["Tag_RISCV_arch"]
    exts = isa.split("_")
    assert exts[0].startswith("rv32i") and {e[0] for e in exts[1:] if len(e) > 1 and e[0] in "mafdc"} == {"m", "a", "c"}

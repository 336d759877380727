"""The DSP build of the cortex_m_dsp micro-kernels (SMLAD/SXTB16 through arm_acle.h) and its
portable twin, both run under QEMU on Cortex-M7 (mps2-an500) and Cortex-M4 (mps2-an386) on
random layers and the shipped model's 12 conv layer shapes, each compared with the integer
reference's outputs; also prints the exact instructions per MAC of each model-shaped layer.

    python tests/test_dsp_qemu.py [cortex-m7|cortex-m4]     # the per-layer table
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dsp_harness import OVERLAY_DIR, Layer, random_layer  # noqa: E402

C_DIR = Path(__file__).resolve().parent / "c"
CPU = {"cortex-m7": ("-mcpu=cortex-m7", "-mfpu=fpv5-d16", "mps2-an500"),
       "cortex-m4": ("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "mps2-an386")}
# (kind, name, Ci, Co, L_in) of the shipped model's conv layers: K 15 / 16, stride 2, pads (7, 7)
MODEL_LAYERS = [("conv1d", "enc1", 2, 16, 1024), ("conv1d", "enc2", 16, 32, 512), ("conv1d", "enc3", 32, 40, 256),
                ("conv1d", "enc4", 40, 40, 128), ("conv1d", "enc5", 40, 64, 64), ("conv1d", "enc6", 64, 64, 32),
                ("conv_transpose1d", "dec6", 64, 64, 16), ("conv_transpose1d", "dec5", 64, 40, 32),
                ("conv_transpose1d", "dec4", 40, 40, 64), ("conv_transpose1d", "dec3", 40, 32, 128),
                ("conv_transpose1d", "dec2", 32, 16, 256), ("conv_transpose1d", "dec1", 16, 2, 512)]


def _arr(name: str, ctype: str, a: np.ndarray) -> str:
    vals = ",".join(str(int(v)) for v in np.ravel(a))
    return f"static const {ctype} {name}[{max(1, a.size)}] = {{{vals or '0'}}};\n"


def cases(seed: int = 11, n_random: int = 60):
    """[(name, layer, x, skip, want)]: random layers, then the model's layer shapes."""
    rng = np.random.default_rng(seed)
    out = []
    layers = [(f"random{i}", random_layer(rng)) for i in range(n_random)]
    for kind, name, ci, co, length in MODEL_LAYERS:
        k = 15 if kind == "conv1d" else 16
        layers.append((name, Layer(rng, kind, ci, co, length, k, 2, (7, 7), leaky=name != "dec1",
                                   fused_add=kind == "conv_transpose1d")))
    for name, lay in layers:
        g = lay.geo
        x = rng.integers(-128, 128, size=(g.ci, g.length)).astype(np.int8)
        skip = rng.integers(-128, 128, size=(g.co, g.lo)).astype(np.int8) if lay.post is not None else None
        out.append((name, lay, x, skip, lay.reference(x, skip)))
    return out


def write_cases(path: Path, items) -> None:
    src, recs = [], []
    for i, (_name, lay, x, skip, want) in enumerate(items):
        g = lay.geo
        src.append(_arr(f"x{i}", "int8_t", x) + _arr(f"want{i}", "int8_t", want)
                   + _arr(f"w{i}", "uint32_t", lay.words) + _arr(f"rq{i}", "int32_t", lay.rq)
                   + _arr(f"ph{i}", "int32_t", lay.phases_array()))
        if skip is not None:
            src.append(_arr(f"skip{i}", "int8_t", skip) + _arr(f"post{i}", "int32_t", lay.post))
        s, p = (f"skip{i}", f"post{i}") if skip is not None else ("0", "0")
        a = lay.op.attrs
        recs.append(f"  {{x{i}, {s}, want{i}, w{i}, rq{i}, {p}, ph{i}, {g.ci}, {g.length}, {a['x_zp']}, {g.lpad}, "
                    f"{g.row}, {g.co}, {g.lo}, {g.in_step}, {g.groups}, {len(g.phases)}, {a['y_zp']}}},")
    scratch = max(it[1].geo.scratch_elems for it in items) + 2
    out = max(it[1].geo.co * it[1].geo.lo for it in items)
    path.write_text(f"#define EDK_MAX_SCRATCH {scratch}\n#define EDK_MAX_OUT {out}\n" + "".join(src)
                    + "static const edk_case edk_cases[] = {\n" + "\n".join(recs) + "\n};\n")


def build(target: str, out: Path, items) -> Path:
    cc = "arm-none-eabi-gcc"
    if shutil.which(cc) is None:
        raise RuntimeError(f"{cc} not found; install it with: sudo apt-get install --no-install-recommends "
                           f"gcc-arm-none-eabi libnewlib-arm-none-eabi")
    out.mkdir(parents=True, exist_ok=True)
    write_cases(out / "edk_dsp_cases.h", items)
    mcpu, fpu, _ = CPU[target]
    flags = [mcpu, "-mthumb", fpu, "-mfloat-abi=hard", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{OVERLAY_DIR}",
             f"-I{out}", "-ffunction-sections", "-fdata-sections"]
    objs = []
    for name, extra in (("dsp", []), ("twin", ["-DEDGEKIT_PORTABLE_KERNELS", "-DEDK_LAYER_PREFIX=edk_twin_"])):
        o = out / f"layers_{name}.o"
        subprocess.run([cc, *flags, *extra, "-c", str(C_DIR / "edk_dsp_layers.c"), "-o", str(o)], check=True)
        objs.append(str(o))
    elf = out / "edk_dsp_test.elf"
    subprocess.run([cc, *flags, "-nostartfiles", "-Wl,--gc-sections", f"-T{C_DIR / 'edk_dsp_qemu.ld'}",
                    str(C_DIR / "edk_dsp_qemu.c"), *objs, "-lc", "-lgcc", "-o", str(elf)], check=True)
    return elf


def run_qemu(target: str, elf: Path) -> tuple[int, list[tuple[int, int, int, int]]]:
    if shutil.which("qemu-system-arm") is None:
        raise RuntimeError("qemu-system-arm not found; install it with: sudo apt-get install qemu-system-arm")
    cmd = ["qemu-system-arm", "-M", CPU[target][2], "-nographic", "-monitor", "none", "-serial", "none",
           "-icount", "shift=7,align=off,sleep=off", "-semihosting-config", "enable=on,target=native",
           "-kernel", str(elf)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    rows = [tuple(int(v) for v in m.groups()) for m in re.finditer(r"case (\d+) (-?\d+) (-?\d+) (-?\d+)", p.stdout)]
    return p.returncode, rows


@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m4"])
def test_dsp_and_twin_match_reference_under_qemu(target, tmp_path):
    items = cases()
    rc, rows = run_qemu(target, build(target, tmp_path, items))
    assert len(rows) == len(items), f"firmware printed {len(rows)} of {len(items)} cases (exit {rc})"
    bad = [(items[i][0], bd, bt) for i, bd, bt, _ in rows if bd or bt]
    assert not bad and rc == 0, f"outputs differing from the reference (case, DSP, twin): {bad}"
    per_mac = {items[i][0]: (t * 5 / 16) / items[i][1].macs for i, _, _, t in rows if t >= 0}
    # the inner loop is 2 channels x 2 times: well under 1.5 instructions per MAC on the big layers
    for name in ("enc2", "enc3", "enc4", "dec3", "dec4"):
        assert per_mac[name] < 1.5, (name, per_mac[name])


def main(argv: list[str]) -> int:
    import tempfile
    target = argv[0] if argv else "cortex-m7"
    items = cases(n_random=0)
    rc, rows = run_qemu(target, build(target, Path(tempfile.mkdtemp()), items))
    tot_i = tot_m = 0
    print(f"{target}: layer, MACs, instructions, per MAC (mismatches DSP/twin)")
    for i, bd, bt, t in rows:
        name, lay = items[i][0], items[i][1]
        ins = t * 5 // 16
        tot_i += ins
        tot_m += lay.macs
        print(f"{name:6s} {lay.macs:>10,} {ins:>11,} {ins / lay.macs:6.3f}  ({bd}/{bt})")
    print(f"{'all':6s} {tot_m:>10,} {tot_i:>11,} {tot_i / tot_m:6.3f}  exit {rc}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The compile output is a library for the user's firmware: OUT/lib holds only sources, headers,
CMakeLists.txt, the cross toolchain file and examples/main.c (build products go beside it, in
OUT/obj and OUT/firmware); CMake builds it with the host compiler and with arm-none-eabi-gcc; the
host example, fed a real ECG test window, prints exactly the integer reference's outputs; model.h
documents every input's and output's scale and zero point and the ECG window scaling in C."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.data import load_record, normalize, resolve_data_dir
from edgekit.data.scaling import C_RECIPE
from edgekit.ir import reference
from edgekit.ir.onnx_import import load_intgraph

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "acdae" / "model.onnx"
LIBRARY_FILES = {"model.h", "model.c", "kernels.h", "kernels.c", "compile.json", "CMakeLists.txt",
                 "examples/main.c", "cmake/arm-none-eabi.cmake"}


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found: install it (sudo apt-get install {package}, or bash scripts/setup.sh)")
    return path


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "compile.py"), "--target", "cortex-m7", "--model",
                        str(MODEL), "--out", str(out)], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def _cmake_build(lib: Path, build: Path, *extra) -> None:
    _need("cmake", "cmake")
    for cmd in (["cmake", "-S", str(lib), "-B", str(build), *extra], ["cmake", "--build", str(build)]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{' '.join(cmd)}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def test_output_folder_is_a_clean_library(compiled):
    lib = compiled / "lib"
    files = {str(p.relative_to(lib)) for p in lib.rglob("*") if p.is_file()}
    extra = {f for f in files - LIBRARY_FILES if not f.startswith(("tvm/", "ops/"))}
    assert LIBRARY_FILES <= files and not extra, extra
    assert all(f.endswith(".h") for f in files if f.startswith(("tvm/", "ops/")))
    assert (compiled / "obj" / "edgekit_model.o").is_file() and (compiled / "firmware" / "firmware.elf").is_file()
    assert (compiled / "arena.png").read_bytes()[:4] == b"\x89PNG"
    rep = json.loads((lib / "compile.json").read_text())
    assert Path(rep["object"]).parent == compiled / "obj" and rep["firmware"]["elf"].startswith(str(compiled))
    assert len((lib / "examples" / "main.c").read_text().splitlines()) <= 25


def test_model_h_documents_scales_and_the_ecg_scaling(compiled):
    h = (compiled / "lib" / "model.h").read_text()
    g = load_intgraph(MODEL)
    for name in (*g.inputs, *g.outputs):
        t = g.tensors[name]
        assert f"{name}: scale {t.scale:.9g}, zero point {t.zero_point}" in h, name
    for line in C_RECIPE.splitlines():
        assert f"//   {line}" in h
    assert "EDGEKIT_INPUT_LENGTH = 1024 = 1 << LOG2_W" in h


def test_cmake_host_example_equals_the_integer_reference(compiled, tmp_path):
    _cmake_build(compiled / "lib", tmp_path / "host")
    g = load_intgraph(MODEL)
    rec = load_record(resolve_data_dir(None), "100")
    q, _, _ = normalize(np.ascontiguousarray(rec.adc[:, 36_000:36_000 + 1024], dtype=np.int32))  # one test window
    r = subprocess.run([str(tmp_path / "host" / "edgekit_example")], input=q.tobytes(), capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    ref = reference.run(g, q[None])
    den, logits = (np.asarray(ref[n], dtype=np.int8).ravel() for n in g.outputs[:2])
    got = np.frombuffer(r.stdout, dtype=np.int8)
    assert got.size == den.size + logits.size
    assert np.array_equal(got[:den.size], den) and np.array_equal(got[den.size:], logits)


def test_cmake_arm_toolchain_builds_the_library_and_example(compiled, tmp_path):
    _need("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    lib = compiled / "lib"
    _cmake_build(lib, tmp_path / "arm", f"-DCMAKE_TOOLCHAIN_FILE={lib / 'cmake' / 'arm-none-eabi.cmake'}")
    archive = tmp_path / "arm" / "libedgekit_model.a"
    nm = subprocess.run(["arm-none-eabi-nm", "--defined-only", str(archive)], capture_output=True, text=True)
    assert " T edgekit_model_run" in nm.stdout
    head = subprocess.run(["arm-none-eabi-readelf", "-h", str(tmp_path / "arm" / "edgekit_example")],
                          capture_output=True, text=True).stdout
    assert "ARM" in head and "ELF32" in head

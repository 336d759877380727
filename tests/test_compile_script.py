"""scripts/compile.py: the table, compile.json, exit codes and error messages."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgekit.model.acdae import ACDAE, ACDAEConfig
from edgekit.model.fakequant import set_qat
from edgekit.quant.export import export_model

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "compile.py"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    cfg = ACDAEConfig(window=128, widths=(8, 8), strides=(2, 2), kernel=5, dec_kernel=4, head_hidden=4)
    m = ACDAE(cfg)
    set_qat(m, True)
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(8, 2, cfg.window) * 0.3)
    return export_model(m.eval(), tmp_path_factory.mktemp("model"))


def _run(*args, env=None):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


def test_compile_script_writes_c_and_report(model, tmp_path):
    target = "riscv32" if shutil.which("riscv64-unknown-elf-gcc") else "host"
    r = _run("--target", target, "--model", model, "--out", tmp_path, "--no-firmware")
    assert r.returncode == 0, r.stderr
    for name in ("model.h", "model.c", "kernels.h", "kernels.c", "compile.json", "tvm/runtime/base.h",
                 "CMakeLists.txt", "examples/main.c"):
        assert (tmp_path / "lib" / name).is_file(), name
    assert (tmp_path / "arena.png").is_file() and (tmp_path / "obj" / "edgekit_model.o").is_file()
    rep = json.loads((tmp_path / "lib" / "compile.json").read_text())
    assert rep["target"] == target and rep["macs"] > 0 and rep["code_bytes"] > 0
    assert rep["arena_bytes"] <= 1.10 * rep["arena_lower_bound_bytes"]
    plan = rep["arena_plan"]  # what arena.png draws: every buffer inside the arena
    assert plan and all(0 <= b["offset"] and b["offset"] + b["size"] <= rep["arena_bytes"] for b in plan)
    assert max(b["offset"] + b["size"] for b in plan) <= rep["arena_bytes"]
    for word in ("MACs", "arena", "lower bound", "weights", "code", "stack", "seconds", "enc1"):
        assert word in r.stdout, word
    assert f"{rep['macs']:,}" in r.stdout and f"{rep['arena_bytes']:,} B" in r.stdout


def test_compile_script_errors_are_clear(model, tmp_path):
    r = _run("--target", "pdp11", "--model", model, "--out", tmp_path)
    assert r.returncode == 2 and "unknown target 'pdp11'" in r.stderr and "cortex-m7" in r.stderr
    r = _run("--target", "host", "--model", tmp_path / "missing.onnx", "--out", tmp_path)
    assert r.returncode == 2 and "does not exist" in r.stderr
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    r = _run("--target", "cortex-m7", "--model", model, "--out", tmp_path, env=env)
    assert r.returncode == 2 and "arm-none-eabi-gcc" in r.stderr and "gcc-arm-none-eabi" in r.stderr

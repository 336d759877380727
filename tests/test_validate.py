"""scripts/validate.py: onnxruntime vs integer reference vs host C build vs device, per output."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import foreign_models as fm
from edgekit.harness.validate import compare, is_classifier

REPO = Path(__file__).resolve().parents[1]


def _run(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "scripts" / "validate.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=1200)


def test_compare_figures_are_right():
    a = np.array([[0, 10, -5], [3, 3, 3]], np.int8)
    b = np.array([[0, 12, -5], [3, 2, 3]], np.int8)
    c = compare(a, b, 0.5, 1, classifier=True)
    assert c["identical_share"] == pytest.approx(4 / 6) and c["max_lsb"] == 2
    assert c["mae_lsb"] == pytest.approx(3 / 6) and c["mae"] == pytest.approx(0.5 * 3 / 6)
    assert c["argmax_agreement"] == 1.0           # row 0: both 1; row 1: both 0 (first of the ties)
    assert compare(a, np.array([[0, 0, 9], [3, 3, 3]], np.int8), 0.5, 1, True)["argmax_agreement"] == 0.5
    assert 0.99 < c["cosine"] < 1.0
    assert compare(a, a, 0.5, 1, False)["cosine"] == pytest.approx(1.0)
    assert is_classifier((5,)) and not is_classifier((1, 128))


@pytest.mark.qemu
@pytest.mark.slow
def test_validate_a_foreign_model_on_qemu(tmp_path):
    model = fm.build("multi_io")
    x = {k: v for k, v in fm.calibration_inputs("multi_io", n=3, seed=5).items()}
    np.savez(tmp_path / "x.npz", **x)
    r = _run("--model", model, "--target", "riscv32", "--qemu", "--inputs", tmp_path / "x.npz", "--out", tmp_path / "v")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((tmp_path / "v" / "validate.json").read_text())
    assert rep["device_equals_reference"] is True and rep["host_equals_reference"] is True
    assert rep["target"] == "riscv32" and rep["board"] == "virt" and rep["inputs"]["windows"] == 3
    assert [o["name"] for o in rep["outputs"]] == ["denoised", "logits", "embedding"]
    for o in rep["outputs"]:
        assert o["vs_onnxruntime"]["identical_share"] >= 0.99 and o["vs_onnxruntime"]["max_lsb"] <= 2
    assert "argmax_agreement" in rep["outputs"][1]["vs_onnxruntime"]
    assert "identical" in r.stdout and "device == integer reference" in r.stdout


def test_validate_usage_errors_are_one_line_exit_2(tmp_path):
    r = _run("--model", tmp_path / "nope.onnx", "--target", "riscv32", "--qemu")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nope.onnx" in r.stderr
    r = _run("--model", fm.build("eca"), "--target", "riscv32", "--qemu", "--inputs", tmp_path / "missing.npy")
    assert r.returncode == 2 and "missing.npy" in r.stderr and "Traceback" not in r.stderr
    r = _run("--model", fm.build("eca"), "--target", "cortex-m7", "--board", "virt")
    assert r.returncode == 2 and "virt" in r.stderr and "Traceback" not in r.stderr


def test_run_py_refuses_a_non_ecg_model_in_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "run.py"), "--target", "riscv32", "--model",
                        str(fm.build("beat_cnn")), "--qemu", "--windows", "2", "--report", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "declares no ECG task" in r.stderr and "validate.py" in r.stderr

"""Bad input gives one line naming the file and the field, never a traceback: corrupt ONNX files,
malformed target and board TOML, names that reach outside targets/, board typos, truncated WFDB
files, and the scripts' exit codes (2 usage/setup)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from edgekit.data import DataError, load_noise, load_record
from edgekit.firmware import targets as T
from edgekit.ir.format import ModelFormatError
from edgekit.ir.onnx_import import load_intgraph

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "acdae" / "model.onnx"
DATA = REPO.parent / "shared" / "data"


def _script(name, *args, timeout=300):
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout)


def _one_error_line(r, code=2):
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


# --- ONNX files --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    data = MODEL.read_bytes()
    (d / "truncated.onnx").write_bytes(data[: len(data) // 2])
    (d / "garbage.onnx").write_bytes(os.urandom(4096))
    (d / "empty.onnx").write_bytes(b"")
    m = onnx.load(str(MODEL))
    for p in m.metadata_props:
        if p.key == "edgekit_format_version":
            p.value = "99"
    onnx.save(m, str(d / "future.onnx"))
    return d


@pytest.mark.parametrize("name", ["truncated", "garbage", "empty"])
def test_a_corrupt_onnx_file_is_named(bad_models, name):
    path = bad_models / f"{name}.onnx"
    with pytest.raises(ModelFormatError, match=rf"{re.escape(str(path))} is not a valid ONNX file \("):
        load_intgraph(path)


def test_compile_script_corrupt_and_future_models(bad_models, tmp_path):
    line = _one_error_line(_script("compile.py", "--target", "host", "--model", bad_models / "truncated.onnx",
                                   "--out", tmp_path, "--no-firmware"))
    assert "truncated.onnx is not a valid ONNX file (" in line
    line = _one_error_line(_script("compile.py", "--target", "host", "--model", bad_models / "future.onnx",
                                   "--out", tmp_path, "--no-firmware"))
    assert "model format version '99' is unknown" in line


def test_a_corrupt_sidecar_is_named(tmp_path):
    from edgekit.ir.format import read_sidecar
    shutil.copy(MODEL, tmp_path / "model.onnx")
    (tmp_path / "model.json").write_text('{"format": "edgekit-model", "version": ')
    with pytest.raises(ModelFormatError, match=re.escape(str(tmp_path / "model.json")) + " is not valid JSON"):
        read_sidecar(tmp_path / "model.onnx")
    line = _one_error_line(_script("evaluate.py", "--model-dir", tmp_path, "--json", tmp_path / "m.json"))
    assert "model.json is not valid JSON" in line


# --- target and board files --------------------------------------------------------------
def test_every_shipped_target_and_board_follows_the_schema():
    for name in T.known_targets():
        assert T.load_target(name).name == name
    for name in T.known_boards():
        assert T.load_board(name).name == name
    # init_ops sit at the top level (inside [uart] they were silently ignored)
    assert len(T.load_board("nucleo-f746zg").init_ops) == 18 and len(T.load_board("hifive1-revb").init_ops) == 5


@pytest.fixture
def tdirs(tmp_path, monkeypatch):
    """A copy of targets/ the loaders read instead of the real one."""
    root = tmp_path / "targets"
    shutil.copytree(REPO / "targets", root)
    monkeypatch.setattr(T, "TARGETS_DIR", root)
    monkeypatch.setattr(T, "BOARDS_DIR", root / "boards")
    return root


def _edit(path: Path, old: str, new: str):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


TARGET_CASES = [
    ('arch = "arm"\n', 'arch = "amr"\n', r"'arch' = 'amr' is not one of arm, riscv, host \(did you mean 'arm'\?\)"),
    ('name = "cortex-m7"', 'name = "cortex-m4"', r"'name' = 'cortex-m4' must be the file name without .toml, 'cortex-m7'"),
    ("flash_bytes = 1048576", "flash_bytes = \"1 MiB\"", r"'flash_bytes' must be an integer, got '1 MiB'"),
    ("flash_bytes = 1048576", "flash_bytes = true", r"'flash_bytes' must be an integer, got True"),
    ("flash_bytes = 1048576", "flash_bytez = 1048576", r"unknown key 'flash_bytez' \(did you mean 'flash_bytes'\?\)"),
    ('default_board = "mps2-an500"\n', "", r"missing key 'default_board'"),
    ('cflags = ["-mcpu', 'cflags = [7, "-mcpu', r"'cflags' must be a list of strings, got \[7, "),
    ('arch = "arm"\n', 'arch = "arm\n', r"TOML syntax error: .*line 6"),
]


@pytest.mark.parametrize("old, new, message", TARGET_CASES)
def test_a_malformed_target_file_is_named_with_its_field(tdirs, old, new, message):
    path = tdirs / "cortex-m7.toml"
    _edit(path, old, new)
    with pytest.raises(T.TargetFileError, match=re.escape(str(path)) + ": " + message):
        T.load_target("cortex-m7")


BOARD_CASES = [
    ('kind = "qemu"', 'kind = "qmeu"', r"'kind' = 'qmeu' is not one of qemu, hardware, host \(did you mean 'qemu'\?\)"),
    ('target = "cortex-m7"', 'target = "cortex-m77"', r"'target' = 'cortex-m77' is not a known target \(did you mean"),
    ('startup = "cortex_m"', 'startup = "../../etc/x"', r"'startup' = '../../etc/x' is not one of cortex_m, host, riscv"),
    ('driver = "cmsdk"', 'driver = "cmsdk"\nbuad = 1', r"unknown key 'uart.buad' \(did you mean 'baud'\?\)"),
    ("[qemu]\n", "[qemu]\nmachine_ = 1\n", r"unknown key 'qemu.machine_'"),
    ("origin = 0x20000000", "origin = -1", r"'memory.ram.origin' must not be negative"),
    ("clock_hz = 25000000", "clock_hz = 25e6", r"'clock_hz' must be an integer, got 25000000.0"),
]


@pytest.mark.parametrize("old, new, message", BOARD_CASES)
def test_a_malformed_board_file_is_named_with_its_field(tdirs, old, new, message):
    path = tdirs / "boards" / "mps2-an500.toml"
    _edit(path, old, new)
    with pytest.raises(T.TargetFileError, match=re.escape(str(path)) + ": " + message):
        T.load_board("mps2-an500")


def test_init_ops_inside_a_table_are_refused(tdirs):
    path = tdirs / "boards" / "mps2-an500.toml"
    good = path.read_text()
    path.write_text(good + "init_ops = [[1, 2, 3, 4]]\n")   # lands in [qemu]
    with pytest.raises(T.TargetFileError, match=r"unknown key 'qemu.init_ops'"):
        T.load_board("mps2-an500")
    path.write_text(re.sub(r"\n\[", "\ninit_ops = [[1, 2, 3]]\n[", good, count=1))
    with pytest.raises(T.TargetFileError, match=r"'init_ops' row 0"):
        T.load_board("mps2-an500")


@pytest.mark.parametrize("name", ["../targets/boards/virt", "boards/virt", "/etc/passwd", "..", "virt ", ""])
def test_names_that_are_paths_are_refused(name):
    with pytest.raises(T.UnknownTargetError, match="no path"):
        T.load_target(name)
    with pytest.raises(T.UnknownTargetError, match="no path"):
        T.load_board(name)


def test_unknown_names_suggest_the_closest():
    with pytest.raises(T.UnknownTargetError, match=r"unknown board 'mps2-an50' \(did you mean 'mps2-an500'\?\)"):
        T.load_board("mps2-an50")
    with pytest.raises(T.UnknownTargetError, match=r"unknown target 'cortex-m77' \(did you mean 'cortex-m7'\?\)"):
        T.load_target("cortex-m77")


def test_compile_script_refuses_paths_and_board_typos_before_compiling(tmp_path):
    line = _one_error_line(_script("compile.py", "--target", "../targets/boards/virt", "--out", tmp_path))
    assert "is not a target name" in line
    line = _one_error_line(_script("compile.py", "--target", "cortex-m7", "--board", "mps2-an50", "--out", tmp_path))
    assert "unknown board 'mps2-an50' (did you mean 'mps2-an500'?)" in line
    line = _one_error_line(_script("compile.py", "--target", "cortex-m7", "--board", "virt", "--out", tmp_path))
    assert "board virt has target 'riscv32'" in line
    assert not any(tmp_path.iterdir()), "nothing is written before the checks"


# --- WFDB files --------------------------------------------------------------------------
@pytest.fixture
def data_copy(tmp_path):
    for db, names in (("mitdb", ["100"]), ("nstdb", ["bw", "ma", "em_derived"])):
        (tmp_path / db).mkdir()
        for name in names:
            for f in (DATA / db).glob(f"{name}.*"):
                shutil.copy(f, tmp_path / db / f.name)
    return tmp_path


@pytest.mark.parametrize("ext, keep", [("dat", 0.5), ("dat", 0.999), ("dat", 0.0), ("atr", 0.5), ("atr", 0.0),
                                       ("hea", 0.0)])
def test_a_truncated_record_names_its_file(data_copy, ext, keep):
    path = data_copy / "mitdb" / f"100.{ext}"
    os.chmod(path, 0o644)
    os.truncate(path, int(path.stat().st_size * keep))
    with pytest.raises(DataError, match=re.escape(str(path)) + " is truncated or corrupt"):
        load_record(data_copy, "100")


def test_a_truncated_noise_record_names_its_file(data_copy):
    assert load_record(data_copy, "100").n_samples == 650000   # the copy itself is fine
    path = data_copy / "nstdb" / "ma.dat"
    os.chmod(path, 0o644)
    os.truncate(path, path.stat().st_size - 7)
    with pytest.raises(DataError, match=re.escape(str(path)) + " is truncated or corrupt"):
        load_noise(data_copy, "ma")


# --- the other scripts --------------------------------------------------------------------
def test_evaluate_and_train_user_errors_are_one_line(tmp_path):
    line = _one_error_line(_script("evaluate.py", "--model-dir", tmp_path / "none", "--json", tmp_path / "m.json"))
    assert "none" in line
    line = _one_error_line(_script("train.py", "--out", tmp_path / "o", "--data-dir", tmp_path / "nodata"))
    assert "nodata" in line and "does not exist" in line
    line = _one_error_line(_script("train.py", "--out", tmp_path / "o", "--init-float", tmp_path / "missing.pt"))
    assert "missing.pt does not exist" in line

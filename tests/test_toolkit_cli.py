"""The `edgekit` command: subcommands, --version, one vocabulary, --help without heavy imports,
`edgekit boards`, --port auto by USB VID:PID, train's refusal to overwrite a model folder."""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from edgekit import __version__, cli
from edgekit.__main__ import COMMANDS, command_main
from edgekit.commands.boards import board_rows, format_boards
from edgekit.firmware.targets import known_boards
from edgekit.harness import ports

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "tvm", "onnx", "onnxruntime", "scipy", "wfdb", "matplotlib")


def _edgekit(*args, cwd=REPO, env=None, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgekit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600, **kw)


def _imported(*args) -> set[str]:
    """Top-level modules imported by `python -X importtime -m edgekit ARGS`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "edgekit", *args], capture_output=True,
                       text=True, cwd=REPO, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line}


def test_version_and_commands():
    r = _edgekit("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"edgekit {__version__}"
    r = _edgekit("--help")
    assert r.returncode == 0
    for name in ("compile", "run", "validate", "bench", "boards", "train", "evaluate"):
        assert name in COMMANDS and f"  {name} " in r.stdout
    r = _edgekit("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr


@pytest.mark.parametrize("command", [[], ["compile"], ["run"], ["bench"], ["boards"], ["train"], ["evaluate"]])
def test_help_imports_nothing_heavy(command):
    """--help answers before TVM, onnx or torch (or the data stack) is imported."""
    heavy = _imported(*command, "--help") & set(HEAVY)
    assert not heavy, f"edgekit {' '.join(command)} --help imports {sorted(heavy)}"


class _Parser(Exception):
    pass


@pytest.mark.parametrize("command", ["compile", "run", "bench", "boards", "train", "evaluate"])
def test_every_option_has_help(command, monkeypatch):
    """Every option of every subcommand has help, and each has -v/-q."""
    def grab(self, *a, **k):
        raise _Parser(self)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", grab)
    with pytest.raises(_Parser) as e:
        command_main(command)([])
    parser = e.value.args[0]
    opts = {o for act in parser._actions for o in act.option_strings}
    assert {"-v", "--verbose", "-q", "--quiet"} <= opts
    missing = [act.option_strings for act in parser._actions if act.option_strings and not act.help]
    assert not missing, f"edgekit {command}: options without help: {missing}"


def test_validate_says_when_not_available(monkeypatch, capsys):
    import edgekit.__main__ as m
    monkeypatch.setattr(m, "command_main", lambda name: None)
    assert m.main(["validate"]) == cli.EXIT_USAGE
    assert "'edgekit validate' is not available" in capsys.readouterr().err


def test_boards_lists_every_board():
    rows = board_rows()
    assert [r["board"] for r in rows] == known_boards()
    by = {r["board"]: r for r in rows}
    assert by["mps2-an500"]["qemu"] == "mps2-an500" and by["nucleo-f746zg"]["qemu"] == ""
    assert by["nucleo-f746zg"]["flash_tool"] == "pyocd" and by["nucleo-f746zg"]["flash_bytes"] == 1 << 20
    table = format_boards(rows)
    for word in ("board", "core", "clock", "flash", "RAM", "flash tool", "QEMU machine", "Cortex-M7", "pyocd"):
        assert word in table
    r = _edgekit("boards", "--json")
    assert r.returncode == 0 and [b["board"] for b in json.loads(r.stdout)] == known_boards()


def _port(device, vid=None, pid=None, description="n/a"):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description)


def test_port_auto_by_usb_ids():
    st = _port("/dev/ttyACM0", 0x0483, 0x374B, "STM32 STLink")
    jl = _port("/dev/ttyACM1", 0x1366, 0x1051, "J-Link")
    plain = _port("/dev/ttyS0")
    found = {c.port: c for c in ports.connected([st, jl, plain])}
    assert found["/dev/ttyACM0"].probe == "ST-LINK/V2-1" and "nucleo-f746zg" in found["/dev/ttyACM0"].boards
    assert found["/dev/ttyACM1"].boards == ("hifive1-revb",) and found["/dev/ttyS0"].usb == ""
    assert ports.auto_port("nucleo-f746zg", [st, jl, plain]) == "/dev/ttyACM0"
    assert ports.auto_port("hifive1-revb", [st, jl, plain]) == "/dev/ttyACM1"
    with pytest.raises(cli.UserError, match=r"found no nucleo-f746zg .*saw: /dev/ttyACM1 \(1366:1051, SEGGER"):
        ports.auto_port("nucleo-f746zg", [jl, plain])
    with pytest.raises(cli.UserError, match=r"several ports fit a known debug probe.*ttyACM0.*ttyACM1"):
        ports.auto_port(None, [st, jl])
    with pytest.raises(cli.UserError, match="saw: no serial ports"):
        ports.auto_port("nucleo-f746zg", [])


def test_run_no_flash_needs_a_port():
    r = _edgekit("run", "--target", "cortex-m7", "--no-flash")
    assert r.returncode == 2 and "--no-flash streams to a real board" in r.stderr


def test_train_refuses_to_overwrite_a_model_folder(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "model.onnx").write_bytes(b"x")
    r = _edgekit("train", "--out", out, "--tiny")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert f"--out {out} already holds a model" in r.stderr and "--force" in r.stderr
    assert (out / "model.onnx").read_bytes() == b"x"


def test_compile_json_is_stdout_only(tmp_path):
    r = _edgekit("compile", "--target", "host", "--no-firmware", "--out", tmp_path, "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)  # nothing but the JSON on stdout
    assert rep["target"] == "host" and "wrote" in r.stderr
    r = _edgekit("compile", "--target", "host", "--no-firmware", "--out", tmp_path, "-q")
    assert r.returncode == 0 and r.stderr == "" and "MACs" in r.stdout and "wrote" not in r.stdout
    r = _edgekit("compile", "--target", "host", "--no-firmware", "--out", tmp_path)
    assert r.returncode == 0 and r.stderr == "" and "wrote the library" in r.stdout


def test_target_and_board_by_path_and_search_path(tmp_path):
    from edgekit.firmware import targets as T
    src = T.TARGETS_DIR / "cortex-m7.toml"
    mine = tmp_path / "my-m7.toml"
    mine.write_text(src.read_text().replace('name = "cortex-m7"', 'name = "my-m7"'))
    assert T.load_target(str(mine)).name == "my-m7"
    with pytest.raises(T.UnknownTargetError):
        T.load_target("my-m7")
    (tmp_path / "boards").mkdir()
    b = (T.BOARDS_DIR / "mps2-an500.toml").read_text().replace('name = "mps2-an500"', 'name = "my-board"')
    (tmp_path / "boards" / "my-board.toml").write_text(b)
    assert T.load_board(str(tmp_path / "boards" / "my-board.toml")).name == "my-board"
    os.environ[T.resources.SEARCH_PATH_VAR] = str(tmp_path)
    try:
        assert "my-m7" in T.known_targets() and "cortex-m7" in T.known_targets()
        assert T.load_target("my-m7").name == "my-m7" and T.load_board("my-board").target == "cortex-m7"
    finally:
        del os.environ[T.resources.SEARCH_PATH_VAR]

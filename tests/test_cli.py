"""edgekit.cli: expected errors become one `error:` line and a documented exit code."""
import pytest

from edgekit import cli
from edgekit.compiler.errors import BuildError as CBuildError, CompilerError
from edgekit.data import DataError
from edgekit.firmware.build import BuildError, ToolchainMissingError
from edgekit.firmware.targets import UnknownTargetError
from edgekit.ir.format import ModelFormatError
from edgekit.ir.onnx_import import UnsupportedModelError


def _exit(capsys, exc):
    def main():
        raise exc
    with pytest.raises(SystemExit) as e:
        cli.main_guard(main)
    err = capsys.readouterr().err
    return e.value.code, err


@pytest.mark.parametrize("exc, code", [
    (cli.UserError("bad"), 2), (cli.UserError("link", cli.EXIT_LINK), 4), (DataError("d"), 2),
    (ModelFormatError("m"), 2), (UnsupportedModelError("u"), 2), (CompilerError("c"), 2),
    (CBuildError("b"), 3), (BuildError("b"), 3), (ToolchainMissingError("t"), 2),
    (UnknownTargetError("unknown target 'x'"), 2), (FileNotFoundError(2, "No such file", "x.onnx"), 2),
])
def test_expected_errors_are_one_line_with_their_code(capsys, exc, code):
    got, err = _exit(capsys, exc)
    assert got == code
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_multiline_message_is_one_line(capsys):
    got, err = _exit(capsys, cli.UserError("a\nb\r\nc"))
    assert (got, err) == (2, "error: a | b | c\n")


def test_fail_and_ok(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main_guard(lambda: cli.fail("firmware build failed", cli.EXIT_BUILD))
    assert e.value.code == 3 and capsys.readouterr().err == "error: firmware build failed\n"
    with pytest.raises(SystemExit) as e:
        cli.main_guard(lambda: None)
    assert e.value.code == 0


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        cli.main_guard(lambda: 1 / 0)

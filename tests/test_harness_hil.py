"""Hardware-in-the-loop: the stub firmware on a real board.

    pytest -m hil --hil-port /dev/ttyACM0 --board nucleo-f746zg

Skipped (with the reason) when no --hil-port is given; a missing flash tool FAILS naming it.
"""
import pytest

from edgekit.firmware import stub_model
from edgekit.firmware.targets import load_board
from edgekit.harness.device import open_device
from edgekit.harness.evaluate import evaluate

pytestmark = pytest.mark.hil


@pytest.fixture
def hil(request):
    port, board = request.config.getoption("--hil-port"), request.config.getoption("--board")
    if not board:
        pytest.fail("--board is required with --hil-port (e.g. --board nucleo-f746zg)")
    b = load_board(board)
    if b.kind != "hardware":
        pytest.fail(f"--board {board} is a {b.kind} board, not real hardware")
    return port, board


def test_stub_on_board_bit_exact(build_fw, hil):
    port, board = hil
    elf = build_fw(board).path
    with open_device(board, elf, port=port, timeout=20.0) as dev:
        assert dev.info.board == board and dev.info.model_name == "stub"
        res = evaluate(dev, stub_model.random_windows(20, seed=11), stub_model.reference, limit=20,
                       progress=False)
    assert res.bit_exact, [w for w in res.windows if not w.bit_exact][:3]
    lat = res.latency()
    # caches off, no interrupts during the run: cycle counts should barely move
    assert lat["max"] - lat["min"] <= 0.01 * lat["p50"], lat
    print(f"\n{board}: p50 {lat['p50']:.0f} {lat['unit']} = {lat['p50_us']:.0f} us, "
          f"{res.windows_per_s:.1f} windows/s")

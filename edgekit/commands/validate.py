"""Validate a model on a device: onnxruntime vs the integer reference vs the host C build vs
the device, output by output (like `stedgeai validate`).

    edgekit validate --model M.onnx --target cortex-m7 --qemu --random 8
    edgekit validate --model M.onnx --target riscv32 --qemu --inputs x.npy --out build/val
    edgekit validate --model M.onnx --target cortex-m7 --board nucleo-f746zg --port /dev/ttyACM0

--inputs: .npy (one-input model) or .npz (one array per ONNX input name), (N, *shape) float
(quantized with the input's scale and zero point) or int8; --random N: N windows of random
int8 values (default 8). Prints per output: identical share, max |difference| in LSB, mean
absolute error, cosine similarity, argmax agreement (vector outputs); writes DIR/validate.json.

Exit status: 0 the device equals the integer reference bit for bit on every output;
1 a mismatch; 2 usage or setup error (3 build failure, 4 link lost, as edgekit.cli).
"""
import argparse
from pathlib import Path

from edgekit.cli import add_common_args, fail, main_guard, setup_logging


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="edgekit validate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="int8 ONNX QDQ model")
    p.add_argument("--target", required=True, help="cortex-m4, cortex-m7, cortex-m55, riscv32 (targets/)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--qemu", action="store_true", help="run on the target's QEMU board")
    where.add_argument("--board", help="a board of targets/boards (real boards need --port)")
    p.add_argument("--port", help="serial port of a real board")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--inputs", help=".npy or .npz input windows")
    src.add_argument("--random", type=int, help="N windows of random int8 inputs (default 8)")
    p.add_argument("--out", help="output folder (default build/validate/<target>)")
    add_common_args(p, json_help="print validate.json on stdout instead of the text")
    a = p.parse_args(argv)
    setup_logging(a)

    from edgekit.firmware.targets import load_board, load_target
    from edgekit.harness.validate import load_inputs, validate
    from edgekit.ir.onnx_import import load_intgraph

    target = load_target(a.target)
    board = load_board(a.board if a.board else target.default_board)
    if board.target != target.name:
        fail(f"board {board.name} has target {board.target!r}, not {target.name!r}")
    if a.qemu and board.kind != "qemu":
        fail(f"target {target.name}'s default board {board.name} is not a QEMU machine; give --board")
    if board.kind == "hardware" and not a.port:
        fail(f"board {board.name} is a real board: give --port (e.g. /dev/ttyACM0)")
    if a.port and board.kind != "hardware":
        fail(f"--port is for real boards; {board.name} is a {board.kind} board")
    model = Path(a.model)
    if not model.is_file():
        fail(f"--model {model} does not exist")
    graph = load_intgraph(model)
    try:
        inputs, info = load_inputs(graph, a.inputs, a.random)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    out = Path(a.out) if a.out else Path("build", "validate", target.name)
    from edgekit.cli import EXIT_LINK
    from edgekit.harness.device import DeviceErrorReply, DeviceTimeout
    try:
        v = validate(model, target.name, board.name, out, inputs, info, port=a.port)
    except (DeviceTimeout, DeviceErrorReply, ConnectionError) as e:
        fail(f"{board.name}: {str(e).splitlines()[0]}", EXIT_LINK)
    if a.json:
        print((out / "validate.json").read_text(), end="")
    else:
        print(v.text)
    return v.exit_code


if __name__ == "__main__":
    main_guard(main)

"""Shared pytest setup: --hil-port/--board options, hil skipping, cached firmware builds.

A test that needs a missing tool (cross gcc, libc, QEMU, flash tool) must FAIL naming the apt
package: builds and runners raise errors that say so, and they are called inside test bodies
(not fixtures) so they show up as failures, never skips.
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--hil-port", default=None, help="serial port of a real board, e.g. /dev/ttyACM0")
    parser.addoption("--board", default=None, help="board for hil tests, e.g. nucleo-f746zg (targets/boards)")


def _target_marker(target: str) -> str:
    return target.replace("-", "_")   # cortex-m7 -> cortex_m7


def pytest_configure(config):
    from edgekit.firmware.targets import known_targets

    for t in known_targets():
        config.addinivalue_line("markers", f"{_target_marker(t)}: runs on target {t} "
                                          f"(pytest -m \"qemu and {_target_marker(t)}\": one target per CI job)")


def _mark_targets(items) -> None:
    """A test parametrized by `target` or `board` gets its target's marker (cortex_m7, riscv32, ...)."""
    from edgekit.firmware.targets import UnknownTargetError, load_board

    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        target = params.get("target")
        if target is None and isinstance(params.get("board"), str):
            try:
                target = load_board(params["board"]).target
            except UnknownTargetError:
                continue
        if isinstance(target, str):
            item.add_marker(getattr(pytest.mark, _target_marker(target)))


def pytest_collection_modifyitems(config, items):
    _mark_targets(items)
    if config.getoption("--hil-port"):
        return
    skip = pytest.mark.skip(reason="hil: no --hil-port given "
                                   "(run: pytest -m hil --hil-port /dev/ttyACM0 --board nucleo-f746zg)")
    for item in items:
        if "hil" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def build_fw(tmp_path_factory):
    """build_fw(board, model_dir=stub, extra_cflags=()) -> ElfInfo, built once per session."""
    from edgekit.firmware.build import STUB_MODEL_DIR, build_firmware

    cache = {}

    def build(board: str, model_dir=STUB_MODEL_DIR, extra_cflags=()):
        key = (board, str(model_dir), tuple(extra_cflags))
        if key not in cache:
            out = tmp_path_factory.mktemp(f"fw-{board}")
            cache[key] = build_firmware(model_dir, board, out, extra_cflags=extra_cflags)
        return cache[key]

    return build

"""Targets (a core + its toolchain) and boards (a concrete machine), read from TOML.

Files: ``targets/<name>.toml`` and ``targets/boards/<name>.toml`` at the repo root.

API (stable; the compiler uses it too)::

    from edgekit.firmware.targets import load_target, load_board, known_targets, known_boards
    t = load_target("cortex-m7")
    t.toolchain_prefix   # "arm-none-eabi-"  (t.tool("gcc") -> "arm-none-eabi-gcc")
    t.cflags             # ("-mcpu=cortex-m7", "-mthumb", ...)  arch flags, no -O/-W; enough to
                         #   compile a model.c alone (riscv32 includes --specs=picolibc.specs)
    t.link_flags, t.libs # what build.py links with (riscv32 links with another -march, see file)
    t.flash_bytes        # budget of the tightest supported real board with this core
    t.ram_bytes          #   (0 = unlimited, host)
    t.default_board      # "mps2-an500"
    t.kernels            # "cortex-m-dsp": the compiler's kernel set (edgekit/ops/overlays), "" = generic
    b = load_board("mps2-an500")
    b.target, b.kind ("qemu" | "hardware" | "host"), b.clock_hz, b.memory["ram"]["length"], ...

Unknown names raise ``UnknownTargetError`` (a ``KeyError``/``ValueError``) listing the known ones.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

TARGETS_DIR = Path(__file__).resolve().parents[2] / "targets"
BOARDS_DIR = TARGETS_DIR / "boards"


class UnknownTargetError(KeyError, ValueError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    arch: str                       # "arm" | "riscv" | "host"
    toolchain_prefix: str
    cflags: tuple[str, ...]         # arch flags for compiling
    link_flags: tuple[str, ...]     # arch flags for linking (default: cflags)
    libs: tuple[str, ...]
    apt_packages: tuple[str, ...]
    flash_bytes: int
    ram_bytes: int
    default_board: str
    libc_probe: str = ""            # a file gcc must find, else libc is not installed
    kernels: str = ""               # kernel set of the compiler's overlays ("" = generic kernels)

    def tool(self, name: str) -> str:
        """Toolchain binary name, e.g. tool("size") -> "arm-none-eabi-size"."""
        return self.toolchain_prefix + name


@dataclass(frozen=True)
class Board:
    name: str
    target: str
    kind: str                       # "qemu" | "hardware" | "host"
    description: str
    clock_hz: int                   # core clock the firmware runs at
    startup: str                    # firmware_templates/startup/startup_<startup>.{c,S}
    counter: str                    # systick_icount | dwt | minstret | mcycle | host
    stack_bytes: int
    uart: dict                      # driver, base, baud, [clock_hz], [lpuart]
    memory: dict = field(default_factory=dict)   # {"flash": {origin, length}, "ram": {...}}
    qemu: dict | None = None        # binary, apt_package, machine, args, icount_shift
    flash: dict | None = None       # tool, install_hint, command, [reset] ("{elf}" is replaced)
    init_ops: tuple = ()            # ([addr, clear, set, wait_mask], ...)
    extra_cflags: tuple[str, ...] = ()

    def load_target(self) -> Target:
        return load_target(self.target)


def _names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.toml"))


def known_targets() -> list[str]:
    return _names(TARGETS_DIR)


def known_boards() -> list[str]:
    return _names(BOARDS_DIR)


def _read(folder: Path, name: str, what: str) -> dict:
    path = folder / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(_names(folder))
        raise UnknownTargetError(f"unknown {what} {name!r}; known {what}s: {known}")
    with path.open("rb") as f:
        return tomllib.load(f)


def load_target(name: str) -> Target:
    d = _read(TARGETS_DIR, name, "target")
    cflags = tuple(d.get("cflags", ()))
    return Target(
        name=d["name"], description=d.get("description", ""), arch=d["arch"],
        toolchain_prefix=d["toolchain_prefix"], cflags=cflags,
        link_flags=tuple(d.get("link_flags", cflags)), libs=tuple(d.get("libs", ())),
        apt_packages=tuple(d.get("apt_packages", ())), flash_bytes=int(d["flash_bytes"]),
        ram_bytes=int(d["ram_bytes"]), default_board=d["default_board"],
        libc_probe=d.get("libc_probe", ""), kernels=d.get("kernels", ""),
    )


def load_board(name: str) -> Board:
    d = _read(BOARDS_DIR, name, "board")
    return Board(
        name=d["name"], target=d["target"], kind=d["kind"], description=d.get("description", ""),
        clock_hz=int(d["clock_hz"]), startup=d["startup"], counter=d["counter"],
        stack_bytes=int(d.get("stack_bytes", 0)), uart=dict(d.get("uart", {})),
        memory=dict(d.get("memory", {})), qemu=d.get("qemu"), flash=d.get("flash"),
        init_ops=tuple(tuple(op) for op in d.get("init_ops", ())),
        extra_cflags=tuple(d.get("extra_cflags", ())),
    )

"""Targets (a core + its toolchain) and boards (a concrete machine), read from TOML.

Files: ``<name>.toml`` and ``boards/<name>.toml`` in the shipped targets folder (package data,
edgekit.resources.targets_dir(); ``targets/`` in a checkout), in the folders of
``$EDGEKIT_TARGETS`` (searched first), or given by path: ``load_target("./my.toml")``.

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

A path to an existing ``.toml`` file is read as it is (its ``name`` must be its file stem).
Unknown names, and other names that are paths, raise ``UnknownTargetError`` (a ``KeyError``/``ValueError``)
listing the known ones with a did-you-mean. Every file is checked against TARGET_SCHEMA or
BOARD_SCHEMA (required keys, types, allowed values, no unknown keys, ``name`` = the file stem);
a malformed file raises ``TargetFileError`` naming the file and the key.
"""
from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .. import resources

TARGETS_DIR = resources.targets_dir()      # the shipped ones; $EDGEKIT_TARGETS folders come first
BOARDS_DIR = TARGETS_DIR / "boards"
TEMPLATES_DIR = resources.templates_dir()

ARCHES = ("arm", "riscv", "host")
BOARD_KINDS = ("qemu", "hardware", "host")
COUNTERS = ("systick_icount", "dwt", "minstret", "mcycle", "host")
_PLAIN = re.compile(r"[a-z0-9][a-z0-9._-]*")   # target/board names: a file stem, nothing more


class UnknownTargetError(KeyError, ValueError):
    exit_code = 2  # a usage/setup error for edgekit.cli.main_guard

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class TargetFileError(ValueError):
    """A target or board TOML file is malformed; the message names the file and the field."""
    exit_code = 2  # a usage/setup error for edgekit.cli.main_guard


def did_you_mean(word: str, choices) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---- the schema of targets/*.toml and targets/boards/*.toml ------------------------------
# One row per key: (type, required, choices). type: str, int (not bool), bool, "str_list",
# "int_rows" (a list of lists of ints), or a nested schema (a TOML table). choices: a tuple,
# or a function returning the allowed values. Adding a key = one row here + the dataclass field.
def _templates(folder: str, prefix: str) -> tuple[str, ...]:
    return tuple(sorted({p.name[len(prefix):].split(".")[0] for p in (TEMPLATES_DIR / folder).glob(prefix + "*")}))


TARGET_SCHEMA = {
    "name": (str, True, None),
    "description": (str, False, None),
    "arch": (str, True, ARCHES),
    "toolchain_prefix": (str, True, None),
    "cflags": ("str_list", False, None),
    "link_flags": ("str_list", False, None),
    "libs": ("str_list", False, None),
    "apt_packages": ("str_list", False, None),
    "flash_bytes": (int, True, None),
    "ram_bytes": (int, True, None),
    "default_board": (str, True, None),
    "libc_probe": (str, False, None),
    "kernels": (str, False, None),        # the target's kernel set (e.g. "cortex-m-dsp")
}

_MEMORY_REGION = {"origin": (int, True, None), "length": (int, True, None)}
BOARD_SCHEMA = {
    "name": (str, True, None),
    "target": (str, True, None),
    "kind": (str, True, BOARD_KINDS),
    "description": (str, False, None),
    "clock_hz": (int, True, None),
    "startup": (str, True, lambda: _templates("startup", "startup_")),
    "counter": (str, True, COUNTERS),
    "stack_bytes": (int, False, None),
    "extra_cflags": ("str_list", False, None),
    "init_ops": ("int_rows", False, None),
    "memory": ({"flash": (_MEMORY_REGION, True, None), "ram": (_MEMORY_REGION, True, None)}, False, None),
    "uart": ({"driver": (str, True, lambda: _templates("uart", "uart_")), "base": (int, False, None),
              "baud": (int, False, None), "clock_hz": (int, False, None), "lpuart": (bool, False, None)},
             True, None),
    "qemu": ({"binary": (str, True, None), "apt_package": (str, False, None), "machine": (str, True, None),
              "args": ("str_list", False, None), "icount_shift": (int, False, None)}, False, None),
    "usb_ids": ("str_list", False, None),
    "caches": (bool, False, None),           # Cortex-M7: enable the I- and D-cache at start-up
    "timing_board": (str, False, None),      # a QEMU board: the real board whose clock its ms estimate uses  # "VID:PID" (hex; PID "*" = any) of the board's USB debug probe
    "flash": ({"tool": (str, True, None), "install_hint": (str, False, None), "command": ("str_list", True, None),
               "reset": ("str_list", False, None)}, False, None),
}


def _type_ok(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "str_list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "int_rows":
        return isinstance(value, list) and all(
            isinstance(r, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in r) for r in value)
    return isinstance(value, kind)


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", "str_list": "a list of strings",
               "int_rows": "a list of lists of integers"}


def check_schema(d: dict, schema: dict, path: Path, where: str = "") -> None:
    """TargetFileError naming the file and the key if `d` does not follow `schema`."""
    for key in d:
        if key not in schema:
            raise TargetFileError(f"{path}: unknown key '{where}{key}'{did_you_mean(key, schema)}; "
                                  f"known keys{' in [' + where[:-1] + ']' if where else ''}: {', '.join(schema)}")
    for key, (kind, required, choices) in schema.items():
        if key not in d:
            if required:
                raise TargetFileError(f"{path}: missing key '{where}{key}'")
            continue
        v = d[key]
        if isinstance(kind, dict):
            if not isinstance(v, dict):
                raise TargetFileError(f"{path}: '{where}{key}' must be a table ([{where}{key}])")
            check_schema(v, kind, path, f"{where}{key}.")
            continue
        if not _type_ok(v, kind):
            raise TargetFileError(f"{path}: '{where}{key}' must be {_TYPE_NAMES[kind]}, got {v!r}")
        if kind is int and v < 0:
            raise TargetFileError(f"{path}: '{where}{key}' must not be negative, got {v}")
        allowed = choices() if callable(choices) else choices
        if allowed is not None and v not in allowed:
            raise TargetFileError(f"{path}: '{where}{key}' = {v!r} is not one of {', '.join(allowed)}"
                                  f"{did_you_mean(v, allowed)}")


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
    usb_ids: tuple[str, ...] = ()   # "0483:374b": its debug probe, for --port auto
    caches: bool = False            # Cortex-M7 I-/D-cache on (board_init.c)
    timing_board: str = ""          # QEMU board: ms are estimated at this real board's clock

    def load_target(self) -> Target:
        return load_target(self.target)


def _folders(what: str) -> list[Path]:
    """Where <name>.toml files of `what` ("target" | "board") are looked for, first match wins."""
    extra = resources.search_path()[:-1]
    if what == "board":
        return [*(p / "boards" for p in extra), BOARDS_DIR]
    return [*extra, TARGETS_DIR]


def _names_in(folders: list[Path]) -> list[str]:
    return sorted({p.stem for folder in folders for p in folder.glob("*.toml")})


def known_targets() -> list[str]:
    return _names_in(_folders("target"))


def known_boards() -> list[str]:
    return _names_in(_folders("board"))


def is_path_name(name) -> bool:
    """True when `name` is the path of an existing .toml file (a user's own target or board)."""
    return isinstance(name, (str, Path)) and str(name).endswith(".toml") and Path(name).is_file()


def _read(what: str, name, schema: dict) -> tuple[dict, Path]:
    """The checked contents of <name>.toml (the first found in the search folders) and its path;
    `name` is a plain name, or the path of an existing .toml file."""
    folders = _folders(what)
    known = _names_in(folders)
    if is_path_name(name):
        path = Path(name)
        name = path.stem
    else:
        if not isinstance(name, str) or not _PLAIN.fullmatch(name):
            raise UnknownTargetError(f"{what} {name!r} is not a {what} name (a file stem in "
                                     f"{folders[-1].name}/, no path) nor an existing .toml file; "
                                     f"known {what}s: {', '.join(known)}")
        path = next((f / f"{name}.toml" for f in folders if (f / f"{name}.toml").is_file()), None)
        if path is None:
            raise UnknownTargetError(f"unknown {what} {name!r}{did_you_mean(name, known)}; "
                                     f"known {what}s: {', '.join(known)}")
    try:
        with path.open("rb") as f:
            d = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise TargetFileError(f"{path}: TOML syntax error: {e}") from None
    except UnicodeDecodeError as e:
        raise TargetFileError(f"{path}: not UTF-8 text ({e})") from None
    check_schema(d, schema, path)
    if d["name"] != name:
        raise TargetFileError(f"{path}: 'name' = {d['name']!r} must be the file name without .toml, {name!r}")
    return d, path


def load_target(name: str) -> Target:
    d, path = _read("target", name, TARGET_SCHEMA)
    for key in ("default_board",):
        if not _PLAIN.fullmatch(d[key]):
            raise TargetFileError(f"{path}: '{key}' = {d[key]!r} is not a board name")
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
    d, path = _read("board", name, BOARD_SCHEMA)
    if d["target"] not in known_targets():
        raise TargetFileError(f"{path}: 'target' = {d['target']!r} is not a known target"
                              f"{did_you_mean(d['target'], known_targets())}; known: {', '.join(known_targets())}")
    if d.get("timing_board") and not _PLAIN.fullmatch(d["timing_board"]):
        raise TargetFileError(f"{path}: 'timing_board' = {d['timing_board']!r} is not a board name")
    for usb in d.get("usb_ids", ()):
        if not re.fullmatch(r"[0-9a-f]{4}:([0-9a-f]{4}|\*)", usb):
            raise TargetFileError(f"{path}: 'usb_ids' entry {usb!r} is not VID:PID in lower-case hex "
                                  "(e.g. 0483:374b, or 1366:* for any PID)")
    for i, op in enumerate(d.get("init_ops", ())):
        if len(op) != 4 or not all(0 <= v < 2**32 for v in op):
            raise TargetFileError(f"{path}: 'init_ops' row {i}: {op} is not "
                                  "[addr, clear, set, wait_mask] of 32-bit values")
    return Board(
        name=d["name"], target=d["target"], kind=d["kind"], description=d.get("description", ""),
        clock_hz=int(d["clock_hz"]), startup=d["startup"], counter=d["counter"],
        stack_bytes=int(d.get("stack_bytes", 0)), uart=dict(d.get("uart", {})),
        memory=dict(d.get("memory", {})), qemu=d.get("qemu"), flash=d.get("flash"),
        init_ops=tuple(tuple(op) for op in d.get("init_ops", ())),
        extra_cflags=tuple(d.get("extra_cflags", ())), usb_ids=tuple(d.get("usb_ids", ())),
        caches=bool(d.get("caches", False)), timing_board=d.get("timing_board", ""),
    )

"""Targets and cross toolchains: compile model.c + kernels.c to one relocatable object with
zero warnings, then measure it (`*-size -A`, `-fstack-usage` .su files, `*-nm -u`).

Per-target facts (toolchain prefix, arch cflags, flash/RAM budgets, apt packages) come from
`edgekit.firmware.targets.load_target` (targets/*.toml); this module is the only place the
compiler touches them.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..firmware.targets import Target, load_target
from .errors import BuildError, ToolchainMissingError

WARNINGS = ("-Wall", "-Wextra", "-Werror")
SOURCES = ("model.c", "kernels.c")


def resolve_target(target: str | Target) -> Target:
    """A target name (targets/<name>.toml) or an already built Target (tests use fake ones)."""
    if isinstance(target, Target):
        return target
    return load_target(str(target))


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=os.environ.get("PATH", os.defpath))


def _install_hint(t: Target) -> str:
    pkgs = " ".join(t.apt_packages) or "the toolchain"
    return f"sudo apt-get install --no-install-recommends {pkgs}"


def check_toolchain(t: Target) -> str:
    """Path of the target's gcc; ToolchainMissingError (naming the apt packages) if absent."""
    gcc = t.tool("gcc")
    path = _which(gcc)
    if path is None:
        raise ToolchainMissingError(
            f"target {t.name!r} needs the C compiler {gcc!r}, which is not on PATH. Install it: "
            f"{_install_hint(t)}")
    for tool in ("size", "nm"):
        if _which(t.tool(tool)) is None:
            raise ToolchainMissingError(f"target {t.name!r} needs {t.tool(tool)!r} (binutils), not on PATH. "
                                        f"Install it: {_install_hint(t)}")
    return path


def compile_flags(t: Target, opt: str = "-O2") -> list[str]:
    # picolibc's headers are only found through its specs file (riscv32); newlib's are built in
    specs = [f for f in t.libs if f.startswith("--specs=") and "nano" not in f and f not in t.cflags]
    return [*t.cflags, *specs, opt, *WARNINGS, "-fstack-usage", "-ffunction-sections", "-fdata-sections"]


@dataclass
class ObjectInfo:
    path: Path
    command: list[str]
    sections: dict[str, int]                 # section name -> bytes
    stack: dict[str, int]                    # function -> bytes (from .su)
    stack_kind: dict[str, str] = field(default_factory=dict)   # static | dynamic | bounded
    undefined: list[str] = field(default_factory=list)
    compiler: str = ""

    def _sum(self, prefix: str) -> int:
        return sum(v for k, v in self.sections.items() if k == prefix or k.startswith(prefix + "."))

    @property
    def code_bytes(self) -> int:
        return self._sum(".text")

    @property
    def rodata_bytes(self) -> int:
        return self._sum(".rodata") + self._sum(".srodata")

    @property
    def data_bytes(self) -> int:
        return self._sum(".data") + self._sum(".sdata")

    @property
    def bss_bytes(self) -> int:
        return self._sum(".bss") + self._sum(".sbss")

    def function_code(self, func: str) -> int:
        return self.sections.get(f".text.{func}", 0)


def _run(cmd: list[str], cwd: Path, t: Target) -> str:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    except FileNotFoundError as e:
        raise ToolchainMissingError(f"{cmd[0]!r} not found; install it: {_install_hint(t)}") from e
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip()
        if "No such file or directory" in msg and (".h" in msg or "specs" in msg):
            raise ToolchainMissingError(f"{t.tool('gcc')} cannot find its C library headers ({msg.splitlines()[0]}); "
                                        f"install: {_install_hint(t)}")
        raise BuildError(f"{' '.join(cmd)} failed:\n{msg}")
    return r.stdout + r.stderr


def parse_su(text: str) -> dict[str, tuple[int, str]]:
    """`file:line:col:function<TAB>bytes<TAB>kind` lines of gcc -fstack-usage."""
    out = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        func = parts[0].rsplit(":", 1)[-1]
        out[func] = (int(parts[1]), parts[2].strip())
    return out


def parse_size_a(text: str) -> dict[str, int]:
    sections = {}
    for line in text.splitlines():
        m = re.match(r"^(\.\S+)\s+(\d+)\s+\d+", line)
        if m:
            sections[m.group(1)] = sections.get(m.group(1), 0) + int(m.group(2))
    return sections


def build_object(t: Target, src_dir: Path, opt: str = "-O2", obj_dir: Path | None = None) -> ObjectInfo:
    """Compile model.c + kernels.c in src_dir to obj_dir/edgekit_model.o (default src_dir/obj) and
    measure it."""
    gcc = check_toolchain(t)
    obj_dir = Path(obj_dir) if obj_dir is not None else src_dir / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    flags = compile_flags(t, opt)
    objs = []
    cmds = []
    for src in SOURCES:
        obj = obj_dir / (Path(src).stem + ".o")
        cmd = [gcc, *flags, "-I", str(src_dir), "-c", str(src_dir / src), "-o", str(obj)]
        out = _run(cmd, src_dir, t)
        if out.strip():  # -Werror makes warnings errors; anything else printed is a note we refuse too
            raise BuildError(f"{' '.join(cmd)} printed diagnostics:\n{out.strip()}")
        objs.append(obj)
        cmds.append(cmd)
    combined = obj_dir / "edgekit_model.o"
    arch = [f for f in t.cflags if not f.startswith("--specs=")]  # a partial link needs no libc/linker script
    _run([gcc, *arch, "-r", "-nostdlib", "-o", str(combined), *map(str, objs)], src_dir, t)
    sections = parse_size_a(_run([t.tool("size"), "-A", str(combined)], src_dir, t))
    stack: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for obj in objs:
        su = obj.with_suffix(".su")
        if su.exists():
            for func, (n, kind) in parse_su(su.read_text()).items():
                stack[func], kinds[func] = n, kind
    undefined = sorted({line.split()[-1] for line in _run([t.tool("nm"), "-u", str(combined)], src_dir, t).splitlines()
                        if line.strip()})
    version = _run([gcc, "-dumpversion"], src_dir, t).strip()
    return ObjectInfo(combined, cmds[0], sections, stack, kinds, undefined, f"{t.tool('gcc')} {version}")


# Undefined symbols the object must never need: heap, floating point, TVM runtime.
FORBIDDEN_SYMBOL = re.compile(
    r"^(malloc|free|calloc|realloc|_malloc_r|_free_r"
    r"|__aeabi_[fd]\w*|__aeabi_[ilu]+2[fd]|__aeabi_[fd]2\w+"
    r"|__\w*[sdtx]f[23]|__float\w+|__fix\w+|__extend\w+|__trunc\w+"
    r"|TVMBackend\w*|TVMFFI\w*|TVMAPI\w*)$")


def forbidden_symbols(undefined: list[str]) -> list[str]:
    return [s for s in undefined if FORBIDDEN_SYMBOL.match(s)]

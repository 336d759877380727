"""Integer ops: one module per op kind, and per-target kernel overlays (see README.md).

    from edgekit import ops
    ops.get("conv1d")                 # the op module: check, macs, acc_bound, reference,
                                      #   describe, make_kernel, build
    ops.OPS                           # kind -> module: the one table everything dispatches through
    ops.kernel_sets()                 # ["cortex_m_dsp", "example", "mve", "riscv"]
    ops.overlays_in("cortex_m_dsp")   # kind -> overlay module of that set
    ops.pick(step, graph, "cortex_m_dsp")   # (module, kernel name, fallback reason or None)

This package and everything it imports are torch-free; TVM is imported only inside the
`build` functions.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from . import (add, avgpool, concat, conv1d, conv_transpose1d, dense, global_sum, lut, matmul, maxpool, mean, mul,
               softmax, transpose)
from .kernel import Kernel, KernelArg, KernelError, is_leaky

OPS: dict[str, ModuleType] = {m.KIND: m for m in (conv1d, conv_transpose1d, global_sum, dense, lut, mul, add,
                                                  matmul, maxpool, avgpool, mean, concat, softmax, transpose)}
OP_KINDS = tuple(OPS)
GENERIC = "generic"
OVERLAYS_DIR = Path(__file__).resolve().parent / "overlays"


def get(kind: str) -> ModuleType:
    try:
        return OPS[kind]
    except KeyError:
        raise KernelError(f"op kind {kind!r} has no module in edgekit.ops; known: {', '.join(OPS)}") from None


def set_name(name: str | None) -> str:
    """"cortex-m-dsp" (as written in targets/*.toml) -> "cortex_m_dsp"; None -> "generic"."""
    return GENERIC if not name else name.strip().replace("-", "_")


def kernel_sets() -> list[str]:
    """The overlay sets: the packages under edgekit/ops/overlays/."""
    return sorted(p.name for p in OVERLAYS_DIR.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


@lru_cache(maxsize=None)
def overlays_in(kernel_set: str) -> dict[str, ModuleType]:
    """kind -> overlay module of one set: every module <set>/<kind>.py whose name is an op
    kind (other modules in the folder are the set's own helpers)."""
    name = set_name(kernel_set)
    if name == GENERIC:
        return {}
    if name not in kernel_sets():
        raise KernelError(f"unknown kernel set {kernel_set!r}; known: {', '.join([GENERIC, *kernel_sets()])}")
    out = {}
    for info in pkgutil.iter_modules([str(OVERLAYS_DIR / name)]):
        if info.name in OPS:
            mod = importlib.import_module(f"{__name__}.overlays.{name}.{info.name}")
            _check_overlay(mod, name, info.name)
            out[info.name] = mod
    return dict(sorted(out.items()))


def all_overlays() -> list[tuple[str, str, ModuleType]]:
    """(set, kind, module) for every overlay of every set (the tests run them all)."""
    return [(s, kind, m) for s in kernel_sets() for kind, m in overlays_in(s).items()]


OVERLAY_API = ("claims", "make_kernel", "build")


def _check_overlay(mod: ModuleType, kernel_set: str, kind: str) -> None:
    if getattr(mod, "KIND", None) != kind:
        raise KernelError(f"overlay {kernel_set}/{kind}.py must set KIND = {kind!r}")
    missing = [f for f in OVERLAY_API if not callable(getattr(mod, f, None))]
    if missing:
        raise KernelError(f"overlay {kernel_set}/{kind}.py lacks {', '.join(missing)} (see edgekit/ops/README.md)")
    for rel in getattr(mod, "C_HEADERS", ()):
        if not (Path(mod.__file__).parent / rel).is_file():
            raise KernelError(f"overlay {kernel_set}/{kind}.py lists C header {rel!r}, which is not next to it")


def c_headers(mod: ModuleType) -> tuple[Path, ...]:
    """The overlay's C files (C_HEADERS, relative to its folder), as absolute paths."""
    return tuple(Path(mod.__file__).parent / rel for rel in getattr(mod, "C_HEADERS", ()))


def pick(step, graph, kernel_set: str | None) -> tuple[ModuleType, str, str | None]:
    """The module that builds this step's kernel under a kernel set: the set's overlay for
    the step's op if it has one and it claims the step, else the generic op module.
    Returns (module, kernel name, reason the overlay was not used or None)."""
    kind = step.main.kind
    generic = get(kind)
    name = set_name(kernel_set)
    if name == GENERIC:
        return generic, GENERIC, None
    ov = overlays_in(name).get(kind)
    if ov is None:  # not a fallback: the set does not speed this op up
        return generic, GENERIC, None
    a = step.main.attrs
    if (a.get("group", 1) != 1 or a.get("dilation", 1) != 1) and not getattr(ov, "GROUPS_AND_DILATION", False):
        return generic, GENERIC, f"{name}/{kind}: group {a.get('group', 1)}, dilation {a.get('dilation', 1)}"
    why = ov.claims(step, graph)
    if why:
        return generic, GENERIC, f"{name}/{kind}: {why}"
    return ov, f"{name}/{kind}", None


__all__ = ["GENERIC", "OPS", "OP_KINDS", "Kernel", "KernelArg", "KernelError", "all_overlays", "c_headers",
           "get", "is_leaky", "kernel_sets", "overlays_in", "pick", "set_name"]

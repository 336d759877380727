"""What an op module (or an overlay) hands the compiler for one step: the C signature, the
constant arrays (already transformed, exactly as they go to flash), the scratch it needs in
the arena, and the C headers its TIR calls into."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..ir.intgraph import IntGraph, Op, TensorInfo

C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
           "int32": "int32_t", "uint32": "uint32_t"}


class KernelError(ValueError):
    """A kernel cannot be built for a layer (raised as CompilerError by the compiler)."""


@dataclass
class KernelArg:
    cname: str          # parameter name in the C signature
    dtype: str          # int8 | int16 | int32 | uint8 ...
    shape: tuple
    source: str         # "tensor" (an activation), "param" (a const array, in Kernel.consts)
                        # or "scratch" (arena bytes owned by this step only)
    key: str            # tensor name, or the constant's / scratch's name
    readonly: bool

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Kernel:
    step: Any                       # compiler.steps.Step (main op, optional fused add)
    func: str                       # C function name
    args: list[KernelArg]
    summary: str                    # one line for comments and reports
    consts: dict[str, np.ndarray] = field(default_factory=dict)   # param key -> array
    const_notes: dict[str, str] = field(default_factory=dict)     # param key -> comment
    const_align: dict[str, int] = field(default_factory=dict)     # param key -> byte alignment (> 1 only)
    time_split: tuple[int, int] | None = None   # interior [a, b) of the output-time loop `t`
    name: str = "generic"           # "generic" or "<kernel set>/<op>", e.g. "cortex_m_dsp/conv1d"
    fallback: str | None = None     # why the target's overlay did not take this step
    c_headers: tuple[Path, ...] = ()   # overlay C files #included at the top of kernels.c
    module: Any = field(default=None, repr=False)   # the op or overlay module that builds it

    @property
    def op(self) -> Op:
        return self.step.main

    # --- building the signature, in order: inputs, constants, [skip], scratch, output ------
    def add_input(self, cname: str, tensor: TensorInfo) -> None:
        self.args.append(KernelArg(cname, tensor.dtype, tuple(int(s) for s in tensor.shape), "tensor",
                                   tensor.name, True))

    def add_const(self, cname: str, arr, note: str = "", align: int = 0) -> None:
        """A const array in flash, passed as `const <type> *cname`. Any layout the kernel
        wants (reordered, padded, widened) is made here, at compile time. align: byte
        alignment of the array (e.g. 4 to read int8 weights as 32-bit words); default the
        element type's own."""
        arr = np.ascontiguousarray(arr)
        if str(arr.dtype) not in C_TYPES:
            raise KernelError(f"{self.op.name}: constant {cname} has dtype {arr.dtype}; use one of {list(C_TYPES)}")
        self.consts[cname] = arr
        if note:
            self.const_notes[cname] = note
        if align > 1:
            if align & (align - 1):
                raise KernelError(f"{self.op.name}: alignment {align} of {cname} is not a power of 2")
            self.const_align[cname] = int(align)
        self.args.append(KernelArg(cname, str(arr.dtype), tuple(arr.shape), "param", cname, True))

    def add_scratch(self, cname: str, dtype: str, n: int) -> None:
        """n elements of arena memory this step alone uses (live only during it): the memory
        planner places it, counts it in the arena and its lower bound, and model.c passes a
        pointer to it. Its contents are undefined on entry."""
        self.args.append(KernelArg(cname, dtype, (int(n),), "scratch", cname, False))

    def add_output(self, tensor: TensorInfo, cname: str = "y") -> None:
        self.args.append(KernelArg(cname, tensor.dtype, tuple(int(s) for s in tensor.shape), "tensor",
                                   tensor.name, False))

    @property
    def scratch(self) -> list[KernelArg]:
        return [a for a in self.args if a.source == "scratch"]

    @property
    def scratch_bytes(self) -> int:
        return sum(a.nbytes for a in self.scratch)

    def prototype(self) -> str:
        ps = [f"{'const ' if a.readonly else ''}{C_TYPES[a.dtype]} *{a.cname}" for a in self.args]
        return f"void {self.func}({', '.join(ps)})"


def is_leaky(op: Op) -> bool:
    """A LeakyReLU is fused: the negative side has its own multiplier/shift."""
    p = op.params
    return not (np.array_equal(p["m_pos"], p["m_neg"]) and np.array_equal(p["n_pos"], p["n_neg"]))


def int32_array(name: str, arr) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.int64)
    if arr.size and (arr.min() < -(2**31) or arr.max() > 2**31 - 1):
        raise KernelError(f"{name} does not fit int32 (range {arr.min()}..{arr.max()})")
    return arr.astype(np.int32)


def new_kernel(step, graph: IntGraph, func: str, summary: str) -> Kernel:
    return Kernel(step, func, [], summary)

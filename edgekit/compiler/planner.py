"""Static memory plan: every intermediate tensor gets a fixed offset in one arena.

Model: the steps (`steps.make_steps`: one kernel call each) run in order. A buffer is live
from the step that writes it to the last step that reads it (inclusive: a step's inputs and
output are live together). The graph input and outputs live in caller buffers, not in the
arena.

In-place (optional, on by default): an element-wise step (lut, mul, add, or the add fused
after a conv) may write its output over an operand listed in `Step.inplace_candidates`
(same shape and dtype as the output) that lives in the arena and is read by no later step.
It is safe because such a kernel reads element i of that operand and writes element i of
its output in the same loop iteration and never reads element i again (the kernels are
generated without `restrict`). The two tensors then share one buffer whose lifetime is the
union of theirs.

Scratch: a kernel may ask for arena bytes of its own (e.g. its input widened to int16 with
the padding), live during its step only; it is a buffer like the tensors (named
`scratch:<function>.<arg>`), placed, counted in the arena and in the lower bound.

Lower bound: the largest total size of the buffers live at any one step. No placement of
these buffers can use less, so arena / lower bound measures the planner's packing loss.

Placement: offline 2D packing (time x address). Several greedy orders are tried (size,
area, lifetime length, first use); each places one buffer at a time at the best-fit gap
(the smallest free address range among the buffers it overlaps in time that holds it),
else at the lowest free address above them; the smallest arena wins. Offsets are aligned
to ALIGN bytes (int32 tensors need 4), the arena size is rounded up to 8.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.intgraph import IntGraph
from .steps import Step, make_steps

ALIGN = 4


def _round_up(x: int, a: int) -> int:
    return (x + a - 1) // a * a


@dataclass
class Buffer:
    name: str                 # the first tensor stored in it
    tensors: list[str]        # all tensors sharing it (more than one only for in-place)
    size: int                 # bytes (exact)
    start: int                # first live step (layer index)
    end: int                  # last live step, inclusive
    offset: int = -1

    @property
    def aligned_size(self) -> int:
        return _round_up(self.size, ALIGN)

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.start <= other.end and other.start <= self.end


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    arena_bytes: int
    lower_bound_bytes: int
    lower_bound_step: int               # the step where the lower bound is reached
    strategy: str                       # the greedy order that won
    inplace: dict[str, str] = field(default_factory=dict)   # output tensor -> input it overwrites
    lower_bound_no_inplace: int = 0     # the bound had in-place been off (for the report)

    def offset(self, tensor: str) -> int:
        return next(b.offset for b in self.buffers if tensor in b.tensors)

    def buffer(self, tensor: str) -> Buffer:
        return next(b for b in self.buffers if tensor in b.tensors)

    @property
    def scratch_bytes(self) -> int:
        return sum(b.size for b in self.buffers if is_scratch(b.name))

    def in_arena(self, tensor: str) -> bool:
        return any(tensor in b.tensors for b in self.buffers)

    @property
    def ratio(self) -> float:
        return self.arena_bytes / self.lower_bound_bytes if self.lower_bound_bytes else 1.0

    def verify(self) -> None:
        """Raise if two buffers that are live at the same step overlap in the arena."""
        for i, a in enumerate(self.buffers):
            if a.offset < 0 or a.offset % ALIGN or a.offset + a.size > self.arena_bytes:
                raise AssertionError(f"buffer {a.name} at {a.offset}+{a.size} outside arena {self.arena_bytes}")
            for b in self.buffers[i + 1:]:
                if a.overlaps_in_time(b) and a.offset < b.offset + b.size and b.offset < a.offset + a.size:
                    raise AssertionError(f"buffers {a.name} [{a.offset}, +{a.size}) and {b.name} "
                                         f"[{b.offset}, +{b.size}) are live together and overlap")


SCRATCH_PREFIX = "scratch:"


def scratch_name(func: str, arg: str) -> str:
    return f"{SCRATCH_PREFIX}{func}.{arg}"


def is_scratch(name: str) -> bool:
    return name.startswith(SCRATCH_PREFIX)


def lifetimes(steps: list[Step]) -> dict[str, tuple[int, int]]:
    """tensor -> (first step, last step) for every tensor a step writes."""
    live = {}
    for st in steps:
        live[st.output] = (st.index, st.index)
    for st in steps:
        for t in st.inputs:
            if t in live:
                live[t] = (live[t][0], max(live[t][1], st.index))
    return live


def _inplace_pairs(steps: list[Step], live: dict, external: set) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for st in steps:
        if st.output in external:
            continue
        for src in st.inplace_candidates:
            if src not in external and src in live and live[src][1] == st.index:
                pairs[st.output] = src
                break
    return pairs


def _lower_bound(bufs: list[Buffer], steps: int) -> tuple[int, int]:
    best, at = 0, 0
    for s in range(steps):
        total = sum(b.size for b in bufs if b.start <= s <= b.end)
        if total > best:
            best, at = total, s
    return best, at


def _place(bufs: list[Buffer], order: list[int]) -> tuple[list[int], int]:
    offsets = [-1] * len(bufs)
    placed: list[int] = []
    top = 0
    for i in order:
        b = bufs[i]
        busy = sorted((offsets[j], offsets[j] + bufs[j].aligned_size) for j in placed
                      if bufs[j].overlaps_in_time(b))
        best_off, best_gap, cursor = None, None, 0
        for lo, hi in busy:
            gap = lo - cursor
            if gap >= b.aligned_size and (best_gap is None or gap < best_gap):
                best_off, best_gap = cursor, gap
            cursor = max(cursor, hi)
        if best_off is None:
            best_off = cursor
        offsets[i] = best_off
        placed.append(i)
        top = max(top, best_off + b.size)
    return offsets, top


ORDERS = {
    "size": lambda b: (-b.aligned_size, -(b.end - b.start), b.start),
    "area": lambda b: (-b.aligned_size * (b.end - b.start + 1), -b.aligned_size, b.start),
    "duration": lambda b: (-(b.end - b.start), -b.aligned_size, b.start),
    "first_use": lambda b: (b.start, -b.aligned_size),
}


def plan_memory(graph: IntGraph, steps: list[Step] | None = None, inplace: bool = True,
                scratch: dict[int, list[tuple[str, int]]] | None = None) -> MemoryPlan:
    """scratch: step index -> [(buffer name, bytes)] the step's kernel needs (scratch_name)."""
    steps = make_steps(graph) if steps is None else steps
    external = {graph.base(t) for t in (*graph.inputs, *graph.outputs)}  # caller buffers
    live = lifetimes(steps)
    pairs = _inplace_pairs(steps, live, external) if inplace else {}
    root = {}
    for t in live:
        r = t
        while r in pairs:
            r = pairs[r]
        root[t] = r
    bufs_by_root: dict[str, Buffer] = {}
    for t, (s, e) in live.items():  # dict order = first write order
        if t in external:
            continue
        r = root[t]
        size = graph.tensors[t].nbytes
        if r not in bufs_by_root:
            bufs_by_root[r] = Buffer(r, [t], size, s, e)
        else:
            b = bufs_by_root[r]
            b.tensors.append(t)
            b.size, b.start, b.end = max(b.size, size), min(b.start, s), max(b.end, e)
    scratch_bufs = [Buffer(name, [name], int(n), i, i) for i, items in sorted((scratch or {}).items())
                    for name, n in items if n > 0]
    bufs = list(bufs_by_root.values()) + scratch_bufs
    lb, lb_step = _lower_bound(bufs, len(steps))
    plain = [Buffer(t, [t], graph.tensors[t].nbytes, s, e) for t, (s, e) in live.items() if t not in external]
    plain += scratch_bufs
    lb_plain, _ = _lower_bound(plain, len(steps))
    best = None
    for name, key in ORDERS.items():
        order = sorted(range(len(bufs)), key=lambda i: key(bufs[i]))
        offsets, top = _place(bufs, order)
        if best is None or top < best[1]:
            best = (offsets, top, name)
    offsets, top, strategy = best if best else ([], 0, "none")
    for b, off in zip(bufs, offsets):
        b.offset = off
    plan = MemoryPlan(bufs, _round_up(top, 8), lb, lb_step, strategy, pairs, lb_plain)
    plan.verify()
    return plan

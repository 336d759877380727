"""Execution steps: the layers in order, each step one C kernel call.

A step is one IntGraph layer, or (fuse=True) a layer whose op module says FUSES_ADD
(conv1d / conv_transpose1d / dense) together with the `add` layer right after it, when the add is the only reader of the
layer's output (the skip connections of ACDAE's decoder). The fused kernel applies the
add in the same output loop, right after the requantize, so the intermediate int8 tensor
is never stored and the output may overwrite the add's other operand in place (it is read
at the same index just before being written). The arithmetic is exactly that of the two
layers run one after the other (the intermediate is the same clamped int8 value).

Fusing the skip adds (with the in-place steps) keeps the arena at its lower bound: for the
default ACDAE the unfused plan needs at least 15 % more (tests/test_compiler.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import ops
from ..ir.intgraph import IntGraph, Op



@dataclass
class Step:
    index: int
    ops: list[Op]                 # [layer] or [layer, add]
    first_layer: int              # index of ops[0] in graph.ops
    inputs: list[str]             # activation tensors read
    output: str                   # tensor written
    inplace_candidates: list[str] = field(default_factory=list)

    @property
    def main(self) -> Op:
        return self.ops[0]

    @property
    def post(self) -> Op | None:
        return self.ops[1] if len(self.ops) > 1 else None

    @property
    def layer_indices(self) -> list[int]:
        return list(range(self.first_layer, self.first_layer + len(self.ops)))

    @property
    def name(self) -> str:
        return " + ".join(op.name for op in self.ops)


def _same(graph: IntGraph, a: str, b: str) -> bool:
    ta, tb = graph.tensors[a], graph.tensors[b]
    return ta.dtype == tb.dtype and tuple(ta.shape) == tuple(tb.shape)


def make_steps(graph: IntGraph, fuse: bool = True) -> list[Step]:
    """Steps read and write whole buffers: a view (IntGraph.views) counts as its base tensor."""
    base = graph.base
    readers: dict[str, int] = {}
    for op in graph.ops:
        for t in op.inputs:
            readers[base(t)] = readers.get(base(t), 0) + 1
    io = {base(t) for t in (*graph.inputs, *graph.outputs)}
    steps: list[Step] = []
    i = 0
    while i < len(graph.ops):
        op = graph.ops[i]
        nxt = graph.ops[i + 1] if i + 1 < len(graph.ops) else None
        y = op.outputs[0]
        if (fuse and nxt is not None and ops.get(op.kind).FUSES_ADD and nxt.kind == "add"
                and y in nxt.inputs and nxt.inputs.count(y) == 1 and readers.get(y, 0) == 1
                and y not in io and graph.tensors[y].dtype == "int8"
                and all(t not in graph.views for t in nxt.inputs)):
            other = next(t for t in nxt.inputs if t != y)
            out = nxt.outputs[0]
            # in place over the skip operand, unless the conv itself reads it (it reads all of x
            # for every output, so x must stay intact until the end)
            cands = [other] if _same(graph, other, out) and other not in op.inputs else []
            steps.append(Step(len(steps), [op, nxt], i, [base(t) for t in op.inputs] + [other], out, cands))
            i += 2
            continue
        out = op.outputs[0]
        cands = []
        if ops.get(op.kind).ELEMENTWISE:
            cands = [t for t in op.inputs if op.inputs.count(t) == 1 and _same(graph, t, out) and t not in graph.views]
        steps.append(Step(len(steps), [op], i, [base(t) for t in op.inputs], out, cands))
        i += 1
    return steps

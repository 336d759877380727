"""The integer graph: what the integer reference runs and the compiler lowers.

It is built from a frozen int8 ONNX QDQ model by `onnx_import.load_intgraph`; every
number in it is an integer (weights, biases, multipliers, shifts, zero points, tables),
so running it needs no float and no torch.

Shapes leave out the batch: activations are (channels, time), vectors are (n,).
Op kinds and their fields (`attrs` are ints/tuples, `params` numpy arrays):

conv1d            x int8 (Ci, L) -> y int8 (Co, Lo)
                  params w int8 (Co, Ci, K), bias int32 (Co), m_pos/n_pos/m_neg/n_neg int32 (Co)
                  attrs stride, pad=(left, right), x_zp, y_zp, [group] (w then (Co, Ci/group, K)),
                  [dilation]
conv_transpose1d  params w int8 (Ci, Co, K) (ONNX layout), the rest as conv1d
                  attrs stride, pad=(begin, end), output_padding, x_zp, y_zp
global_sum        x int8 (C, L) -> y int32 (C,) = sum_t (x - x_zp); attrs x_zp, length
dense             x int8 or int32 (Ci,) -> y int8 (Co,) or (Co, 1); params as conv1d with w (Co, Ci)
                  attrs x_zp (0 for an int32 input), y_zp
                  (a global average pool feeding a dense keeps its sum in int32: the 1/L is
                  folded into the dense's multiplier and its bias is pre-multiplied by L)
lut               x int8 -> y int8 = table[x + 128]; params table int8 (256,)
mul               a int8 (C, L), b int8 (C, 1) broadcast over time -> y int8 (C, L)
                  y = y_zp + round((a - a_zp) * (b - b_zp) * M0 >> n); attrs a_zp, b_zp, y_zp, m, n
add               y = y_zp + round(((a - a_zp) * ma + (b - b_zp) * mb) >> n); attrs a_zp, b_zp, y_zp, ma, mb, n

                  (mb < 0 for a Sub)
matmul            x int8 (R, I) -> y int8 (R, O): a dense on each row; w (O, I), attrs rows, x_zp, y_zp
maxpool           x int8 (C, L) -> (C, Lo): max over K taps (padding never wins); attrs kernel, stride,
                  pad, x_zp, y_zp, [m, n] (a requantize when the output has other parameters)
avgpool           sum of (x - x_zp) over the window / its count (ties to even, as mean); params m, n int32 (K,): the requantize
                  multiplier for count c at index c - 1; attrs kernel, stride, pad, count_include_pad
mean              x int8 (C, L) -> (C, 1): requantize(sum_t (x - x_zp), m, n) (1/L folded into m, n),
                  an exact tie rounded to even (arithmetic.requantize_half_even)
concat            inputs along attrs axis (0 = channels, 1 = time), each requantized to the output
                  (attrs x_zps, ms, ns; ms[i] = 0 means same scale: y = x - x_zp + y_zp)
softmax           over the last axis: exp table (params table int32 (256,)) of xmax - x, integer
                  divide (see edgekit/ops/softmax.py)
transpose         x int8 (C, L) -> (L, C)

m_neg/n_neg differ from m_pos/n_pos only when a LeakyReLU (or a Relu: m_neg = 0) is fused.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class UnsupportedModelError(Exception):
    """The model uses something the integer graph, its reference or the compiler cannot handle."""
    exit_code = 2  # a usage/setup error for edgekit.cli.main_guard


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8" or "int32"
    scale: float = 1.0  # real value = scale * (q - zero_point); kept for reports and plots
    zero_point: int = 0

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * (1 if self.dtype == "int8" else 4)


@dataclass
class Op:
    kind: str
    name: str  # the layer name, used for C function names and reports
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    leaky_alpha: float | None = None  # for reports only; the arithmetic is in m_neg/n_neg

    def macs(self, tensors: dict[str, TensorInfo]) -> int:
        from .. import ops  # the op modules import this one
        return int(ops.get(self.kind).macs(self, tensors))


@dataclass
class IntGraph:
    name: str
    inputs: list[str]
    outputs: list[str]
    tensors: dict[str, TensorInfo]
    ops: list[Op]  # in execution order
    meta: dict = field(default_factory=dict)
    # view tensor -> the tensor whose bytes it reads with another shape (a layout op that moves
    # no data, e.g. Flatten, Squeeze, a Transpose of a length-1 axis); views have no op and no buffer
    views: dict = field(default_factory=dict)
    api_names: dict = field(default_factory=dict)  # input/output tensor -> its name in the ONNX graph

    def base(self, tensor: str) -> str:
        """The tensor that owns the bytes of `tensor` (itself unless it is a view)."""
        while tensor in self.views:
            tensor = self.views[tensor]
        return tensor

    def producer(self, tensor: str) -> Op | None:
        return next((op for op in self.ops if tensor in op.outputs), None)

    @property
    def total_macs(self) -> int:
        return sum(op.macs(self.tensors) for op in self.ops)

    @property
    def weight_bytes(self) -> int:
        return sum(int(a.nbytes) for op in self.ops for a in op.params.values())

    def summary(self) -> str:
        rows = [f"{'layer':<22}{'op':<18}{'out shape':<14}{'MACs':>10}{'param B':>10}"]
        for op in self.ops:
            shape = "x".join(map(str, self.tensors[op.outputs[0]].shape))
            pbytes = sum(int(a.nbytes) for a in op.params.values())
            rows.append(f"{op.name:<22}{op.kind:<18}{shape:<14}{op.macs(self.tensors):>10}{pbytes:>10}")
        rows.append(f"{'total':<54}{self.total_macs:>10}{self.weight_bytes:>10}")
        return "\n".join(rows)

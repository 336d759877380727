"""Compile-time side of the blocked conv kernels (ek_conv_core.h): the weight layout, the
per-layer configuration array and the scratch size, for conv1d and conv_transpose1d.

Both ops are phases of dot products over a window of Tp input columns (see the C header):
conv1d has one phase, lane j <-> tap j; a transposed conv of stride s has s phases, phase r
lane j <-> tap r + s*(Tp-1-j). G input channels are interleaved per column of a window.
Packed weights: w[phase][o // OB][c // G][o % OB][j*G + g], zero for padded channels and
for lanes whose tap is >= K.

A kernel set picks its layout with `Layout` (OB output channels per block, G, Tp); the
MVE set wants G*Tp = 16 (one 128-bit vector), the RISC-V set G = 1 and Tp = the taps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# cfg[] indices, as the enum in ek_conv_core.h
CFG_FIELDS = ("transposed", "ci", "lin", "co", "lout", "k", "stride", "pad", "x_zp", "y_zp", "g", "tp", "chunk",
              "leaky", "has_add", "q_zp", "q_m", "s_zp", "s_m", "add_n", "add_zp", "ob", "q_mh", "q_ml", "s_mh",
              "s_ml", "fast")
SCRATCH_BUDGET = 1024   # default bytes of padded-window scratch per layer (more only if one block needs it)


@dataclass(frozen=True)
class Layout:
    ob: int      # output channels per block
    pb: int      # positions per block
    g: int       # input channels interleaved per window column
    tp: int      # window columns (taps, padded)


def taps(op) -> int:
    """Input columns one output reads: K for conv1d, ceil(K / stride) for a transposed conv."""
    k = int(op.params["w"].shape[2])
    return k if op.kind == "conv1d" else -(-k // int(op.attrs["stride"]))


def geometry(op, graph) -> dict:
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    w = op.params["w"]
    ci, co = (int(w.shape[1]), int(w.shape[0])) if op.kind == "conv1d" else (int(w.shape[0]), int(w.shape[1]))
    return dict(transposed=int(op.kind == "conv_transpose1d"), ci=ci, lin=int(x.shape[1]), co=co,
                lout=int(y.shape[1]), k=int(w.shape[2]), stride=int(op.attrs["stride"]), pad=int(op.attrs["pad"][0]))


def pack_weights(op, lay: Layout) -> np.ndarray:
    """int8 (phases * co_pad/OB * ci_pad/G * OB * Tp*G,) in the kernel's order."""
    w = op.params["w"].astype(np.int8)
    k = int(w.shape[2])
    if op.kind == "conv1d":
        wt = w                                     # (Co, Ci, K)
        nph, s = 1, 1
    else:
        wt = np.transpose(w, (1, 0, 2))            # (Co, Ci, K)
        nph = s = int(op.attrs["stride"])
    co, ci = wt.shape[:2]
    co_pad = -(-co // lay.ob) * lay.ob
    ncg = -(-ci // lay.g)
    out = np.zeros((nph, co_pad // lay.ob, ncg, lay.ob, lay.tp, lay.g), dtype=np.int8)
    for r in range(nph):
        for j in range(lay.tp):
            tap = j if op.kind == "conv1d" else r + s * (lay.tp - 1 - j)
            if tap >= k:
                continue
            full = np.zeros((co_pad, ncg * lay.g), dtype=np.int8)
            full[:co, :ci] = wt[:, :, tap]
            # full[o, c] -> out[r, o // OB, c // G, o % OB, j, c % G]
            out[r, :, :, :, j, :] = full.reshape(co_pad // lay.ob, lay.ob, ncg, lay.g).transpose(0, 2, 1, 3)
    return out.reshape(-1)


def multipliers(op) -> np.ndarray:
    """int32 (4, Co): rows m_pos, n_pos, m_neg, n_neg."""
    p = op.params
    return np.stack([p["m_pos"], p["n_pos"], p["m_neg"], p["n_neg"]], axis=0).astype(np.int32)


def bias(folded: np.ndarray) -> np.ndarray:
    """The folded bias, (Co,) or (Co, stride), as the kernel reads it: (phases, Co)."""
    folded = np.asarray(folded)
    return np.ascontiguousarray((folded[None, :] if folded.ndim == 1 else folded.T).astype(np.int32))


def positions(op, graph) -> int:
    """Outputs per phase (the most of any phase)."""
    g = geometry(op, graph)
    return g["lout"] if not g["transposed"] else -(-g["lout"] // g["stride"])


def chunk_and_scratch(op, graph, lay: Layout, budget: int = SCRATCH_BUDGET) -> tuple[int, int]:
    """(positions per scratch window, scratch bytes): the largest multiple of PB whose padded
    window fits the budget (at least one block), capped by the positions of a phase rounded
    up to whole blocks (the kernel always computes whole blocks)."""
    g = geometry(op, graph)
    istep = 1 if g["transposed"] else g["stride"]
    rows = -(-g["ci"] // lay.g) * lay.g
    npos = positions(op, graph)
    nbytes = lambda c: rows * ((c - 1) * istep + lay.tp)  # noqa: E731
    chunk = lay.pb
    while chunk + lay.pb <= max(npos, lay.pb) and nbytes(chunk + lay.pb) <= budget:
        chunk += lay.pb
    chunk = min(chunk, -(-max(npos, 1) // lay.pb) * lay.pb)
    return chunk, nbytes(chunk)


def config(op, graph, lay: Layout, chunk: int, post=None) -> np.ndarray:
    """int32 cfg array (CFG_FIELDS). post: the fused add op, if any."""
    g = geometry(op, graph)
    p = op.params
    leaky = not (np.array_equal(p["m_pos"], p["m_neg"]) and np.array_equal(p["n_pos"], p["n_neg"]))
    vals = dict(g, x_zp=int(op.attrs["x_zp"]), y_zp=int(op.attrs["y_zp"]), g=lay.g, tp=lay.tp, chunk=chunk,
                leaky=int(leaky), has_add=0, q_zp=0, q_m=0, s_zp=0, s_m=0, add_n=1, add_zp=0, ob=lay.ob,
                q_mh=0, q_ml=0, s_mh=0, s_ml=0)
    ns = np.concatenate([p["n_pos"], p["n_neg"]])
    fast = int(ns.min() >= 33 and ns.max() <= 62)
    if post is not None:
        a = post.attrs
        mine_first = post.inputs[0] == op.outputs[0]
        (qz, qm), (sz, sm) = ((a["a_zp"], a["ma"]), (a["b_zp"], a["mb"]))[:: 1 if mine_first else -1]
        vals.update(has_add=1, q_zp=qz, q_m=qm, s_zp=sz, s_m=sm, add_n=a["n"], add_zp=a["y_zp"],
                    q_mh=qm >> 16, q_ml=qm & 0xFFFF, s_mh=sm >> 16, s_ml=sm & 0xFFFF)
        if 17 <= a["n"] <= 46 and 0 <= min(qm, sm) and max(qm, sm) < 2**31:
            fast |= 2
    vals["fast"] = fast
    arr = np.array([int(vals[f]) for f in CFG_FIELDS], dtype=np.int64)
    if arr.min() < -(2**31) or arr.max() > 2**31 - 1:
        raise ValueError(f"{op.name}: a kernel parameter does not fit int32: {dict(zip(CFG_FIELDS, arr))}")
    return arr.astype(np.int32)


# --- the overlay modules of the mve and riscv sets (<set>/conv1d.py, conv_transpose1d.py) ----
@dataclass(frozen=True)
class KernelSet:
    name: str            # the overlay package
    func: str            # the C entry point (ek_conv_core.h's EK_DEFINE_CONV)
    headers: tuple       # C_HEADERS, relative to the set's folder
    layout: object       # op -> Layout, or a str saying why the set declines the op
    scratch_budget: int = SCRATCH_BUDGET   # bytes of window scratch per layer


def claims(kset: KernelSet, step, graph) -> str | None:
    op = step.main
    if graph.tensors[op.inputs[0]].dtype != "int8":
        return "input is not int8"
    lay = kset.layout(op)
    return lay if isinstance(lay, str) else None


def make_kernel(kset: KernelSet, k, graph):
    """Signature (x, w, bias, mn, cfg, [skip], scratch, y): packed weights, folded bias per
    phase, multipliers, the layer's configuration, the padded-window scratch."""
    from ..conv1d import folded_bias as conv_bias
    from ..conv_transpose1d import folded_bias as convt_bias
    from ..kernel import int32_array

    op, t = k.op, graph.tensors
    lay = kset.layout(op)
    chunk, nscratch = chunk_and_scratch(op, graph, lay, kset.scratch_budget)
    geo = geometry(op, graph)
    folded = (conv_bias if op.kind == "conv1d" else convt_bias)(op)
    k.add_input("x", t[op.inputs[0]])
    taps_note = {"conv1d": "tap j", "conv_transpose1d": f"tap r + {geo['stride']}*({lay.tp - 1} - j) of phase r"}
    k.add_const("w", pack_weights(op, lay),
                f"packed [phase][o/{lay.ob}][c/{lay.g}][o%{lay.ob}][j*{lay.g} + c%{lay.g}], lane j = "
                f"{taps_note[op.kind]}, zero beyond K={geo['k']} and for padded channels")
    zp = int(op.attrs["x_zp"])
    k.add_const("bias", bias(int32_array(f"{op.name} folded bias", folded)),
                f"(phase, Co): bias - x_zp * sum(w) (x_zp={zp} folded in)")
    k.add_const("mn", multipliers(op), "rows m_pos, n_pos, m_neg, n_neg (M0, n by the sign of acc + bias)")
    k.add_const("cfg", config(op, graph, lay, chunk, k.step.post), "layer configuration (ek_conv_core.h, EK_CFG_LEN)")
    if k.step.post is not None:
        k.add_input("skip", t[k.step.inputs[-1]])
    k.add_scratch("win", "int8", nscratch)
    k.add_output(t[k.step.output])
    return k


def build(kset: KernelSet, k, graph):
    from tvm.tirx.script.builder import ir as T

    from .. import tir

    def body(b):
        skip = b["skip"] if "skip" in b else b["y"]   # not read without a fused add (cfg has_add = 0)
        T.evaluate(tir.call(kset.func, b["x"], (0, 0), b["w"], (0,), b["bias"], (0, 0), b["mn"], (0, 0),
                            skip, (0, 0), b["win"], (0,), b["cfg"], (0,), b["y"], (0, 0)))
    return tir.prim_func(k, body)

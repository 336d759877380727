"""The C API of a compiled model, derived from its graph: one pointer argument per input and
output, named after the graph's tensors (made C identifiers by names.Namer), and a symbol
prefix so two models can live in one firmware.

    prefix "edgekit" (default): edgekit_model_run(...), EDGEKIT_ARENA_BYTES, edgekit_layer_names
    prefix "ecg" (compile.py --name ecg): ecg_run(...), ECG_ARENA_BYTES, ecg_layer_names

Per input and output, model.h defines <P>_<NAME>_DIMS, _DIM<i>, _ELEMS, _BYTES, _SCALE and
_ZERO_POINT (<P> the upper-case prefix, <NAME> the upper-case C name), and model.c has a
table of them (<prefix>_inputs / <prefix>_outputs) and a runner taking pointer arrays
(<run>_io), for firmware and harnesses that serve any model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..ir.intgraph import IntGraph, TensorInfo
from .errors import CompilerError
from .names import RESERVED, Namer

DEFAULT_PREFIX = "edgekit"
# macros model.h defines besides the per-tensor ones (after <P>_)
FIXED_MACROS = ("MODEL_H", "MODEL_NAME", "MODEL_HASH", "NUM_INPUTS", "NUM_OUTPUTS", "INPUT_CHANNELS",
                "INPUT_LENGTH", "ARENA_BYTES", "ARENA_LOWER_BOUND_BYTES", "WEIGHTS_BYTES", "NUM_LAYERS",
                "TOTAL_MACS", "OK", "ERR_NULL", "ERR_ARENA_ALIGN", "HOOK", "MAX_DIMS", "WIRE_INPUT_BYTES",
                "WIRE_INPUT_CHANNELS", "WIRE_INPUT_LENGTH", "WIRE_OUTPUT0_BYTES", "WIRE_OTHER_OUTPUTS_BYTES")
MACRO_SUFFIXES = ("DIMS", "ELEMS", "BYTES", "SCALE", "ZERO_POINT")
MAX_DIMS = 4


@dataclass
class IO:
    kind: str            # "input" or "output"
    index: int
    tensor: str          # the IntGraph tensor
    base: str            # the tensor owning its bytes (a view's base)
    cname: str           # C identifier of the pointer argument
    label: str           # its name in the ONNX graph
    info: TensorInfo
    macro: str = ""      # <P>_<NAME>


@dataclass
class Api:
    prefix: str
    upper: str
    run: str             # the run function
    inputs: list[IO] = field(default_factory=list)
    outputs: list[IO] = field(default_factory=list)

    @property
    def io(self) -> list[IO]:
        return self.inputs + self.outputs

    def sym(self, what: str) -> str:
        """layer_names, layer_macs, layer_hook, inputs, outputs, io_t -> the prefixed symbol."""
        return f"{self.prefix}_{what}"

    def macro(self, what: str) -> str:
        return f"{self.upper}_{what}"

    @property
    def run_io(self) -> str:
        return f"{self.run}_io"

    def signature(self) -> str:
        ins = [f"const int8_t *{io.cname}" for io in self.inputs]
        outs = [f"int8_t *{io.cname}" for io in self.outputs]
        return f"int32_t {self.run}({', '.join(ins + outs + ['uint8_t *arena'])})"


def check_prefix(prefix: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,23}", prefix or "") or prefix.endswith("_"):
        raise CompilerError(f"--name {prefix!r}: use 1-24 lower-case letters, digits and _, starting with a letter "
                            f"(it prefixes every C symbol, e.g. {prefix or 'ecg'}_run)")
    return prefix


def make_api(graph: IntGraph, prefix: str = DEFAULT_PREFIX) -> tuple[Api, Namer]:
    """The API and the Namer that owns its identifiers (the compiler names everything else with it)."""
    prefix = check_prefix(prefix)
    api = Api(prefix, prefix.upper(), "edgekit_model_run" if prefix == DEFAULT_PREFIX else f"{prefix}_run")
    symbols = {api.run, api.run_io, *(api.sym(w) for w in ("layer_names", "layer_macs", "layer_hook", "inputs",
                                                           "outputs"))}
    reserved = (RESERVED - {"input", "denoised", "logits"}) | symbols | {"arena", "inputs", "outputs"}
    namer = Namer(reserved)
    for kind, names, into in (("input", graph.inputs, api.inputs), ("output", graph.outputs, api.outputs)):
        for i, t in enumerate(names):
            label = graph.api_names.get(t, t)
            info = graph.tensors[t]
            if len(info.shape) > MAX_DIMS:
                raise CompilerError(f"{kind} {label!r} has {len(info.shape)} dimensions; at most {MAX_DIMS}")
            cname = namer(("io", kind, t), label)
            into.append(IO(kind, i, t, graph.base(t), cname, label, info))
    namer.used |= {"input", "denoised", "logits"}  # only ever the names of inputs and outputs
    fixed = {api.macro(m) for m in FIXED_MACROS}
    seen: dict[str, str] = {}
    for io in api.io:
        io.macro = api.macro(io.cname.upper())
        for m in [f"{io.macro}_{s}" for s in MACRO_SUFFIXES] + [f"{io.macro}_DIM{d}" for d in range(len(io.info.shape))]:
            if m in fixed or m in seen:
                raise CompilerError(f"{io.kind} {io.label!r}: its macro {m} collides with "
                                    f"{'a macro of model.h' if m in fixed else seen[m]!r}; rename the tensor")
            seen[m] = io.label
    return api, namer

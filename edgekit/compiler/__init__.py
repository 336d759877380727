"""edgekit.compiler: int8 ONNX QDQ model -> standalone C (TVM-generated kernels + a static
executor with one arena), cross-compiled for a microcontroller target, checked bit-exact on
the host.

    from edgekit.compiler import compile_model, HostModel
    res = compile_model("models/acdae/model.onnx", "cortex-m7", "build/cortex-m7")
    res.report           # the dict in build/cortex-m7/compile.json
    HostModel(compile_model(path, "host", "build/host").out_dir).run(x_int8)

Modules: frontend (ONNX -> IntGraph + checks), kernels (TVM TE/TIR -> C), planner (arena),
emit (model.h / model.c), toolchain (targets, cross-compile, size/stack), host (ctypes runner).
"""
from ..firmware.targets import UnknownTargetError, known_targets
from ..ir.onnx_import import UnsupportedModelError
from .driver import DEFAULT_MODEL, CompileResult, check_fits, compile_model, format_table
from .errors import (AccumulatorOverflowError, BuildError, CompilerError, ModelTooLargeError,
                     ToolchainMissingError)
from .host import HostModel
from .planner import MemoryPlan, plan_memory

__all__ = [
    "AccumulatorOverflowError", "BuildError", "CompileResult", "CompilerError", "DEFAULT_MODEL", "HostModel",
    "MemoryPlan", "ModelTooLargeError", "ToolchainMissingError", "UnknownTargetError", "UnsupportedModelError",
    "check_fits", "compile_model", "format_table", "known_targets", "plan_memory",
]

"""edgekit.quant: the torch side of quantization (export of a QAT model to int8 ONNX, evaluation of
float / QAT / integer forms, plots, model card). The torch-free integer model itself (arithmetic,
IntGraph, the reference, ONNX import, the model format) is edgekit.ir.

The old module paths (edgekit.quant.intgraph, .reference, ...) still import, as aliases of the
edgekit.ir modules, for code written before the move.
"""
import importlib as _importlib
import sys as _sys

for _name in ("arithmetic", "format", "intgraph", "reference", "onnx_import", "intmodel"):
    _sys.modules[f"{__name__}.{_name}"] = globals()[_name] = _importlib.import_module(f"edgekit.ir.{_name}")

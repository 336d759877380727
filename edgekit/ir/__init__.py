"""edgekit.ir: the integer model, without torch: the arithmetic (arithmetic.py), the graph
(intgraph.py), the Python integer reference every kernel matches bit for bit (reference.py), the
ONNX QDQ import (onnx_import.py), the model format and sidecar (format.py), and IntModel
(intmodel.py: the reference with dequantized views). The deploy path (compile, run, validate,
bench) uses only this; edgekit.quant holds the torch-based export and evaluation."""

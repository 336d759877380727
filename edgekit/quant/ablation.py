"""Where an int8 model loses to float: its QAT form scored with the activation quantizers switched
on one at a time ("alone": the cost of that tensor's int8 grid) and off one at a time ("removed":
what making that tensor exact would win back).

A quantizer switched on also quantizes the weights and bias of the layers that read it (their
int32 bias scale is the input scale times the weight scale), so "alone" is that tensor's grid plus
its readers' weights. With every quantizer off the QAT weights run in float: the difference to the
float pre-trained model is what QAT fine-tuning itself moved, not quantization.
"""
from __future__ import annotations

from typing import Callable

from ..model.acdae import ACDAE
from ..model.fakequant import ActQuant


def activation_quantizers(model: ACDAE) -> list[tuple[str, ActQuant]]:
    """The enabled activation quantizers, by module name: what quantizer_ablation switches."""
    return [(n, q) for n, q in model.named_modules() if isinstance(q, ActQuant) and q.enabled]


def quantizer_ablation(qat_model: ACDAE, score: Callable[[ACDAE], float],
                       progress: Callable[[str], None] | None = None) -> dict:
    """score(model) -> a number (higher is better, e.g. SNR improvement in dB). Returns
    {"qat": all quantizers on, "qat_weights_in_float": all off,
     "quantizers": [{"name", "alone", "removed"}, ...] sorted by "alone", the costliest first}.
    progress(step) is called before each of the 2 x (number of quantizers) scorings.
    The model's quantizers are left as they were found."""
    quantizers = activation_quantizers(qat_model)
    if not quantizers:
        raise ValueError("the model has no enabled activation quantizer: load its QAT form "
                         "(edgekit.quant.runners.load_torch(DIR, 'qat'))")
    try:
        full = score(qat_model)
        for _, q in quantizers:
            q.enabled = False
        unquantized = score(qat_model)
        rows = []
        for name, q in quantizers:
            if progress:
                progress(f"{name} alone")
            q.enabled = True
            alone = score(qat_model) - unquantized
            q.enabled = False
            rows.append({"name": name, "alone": alone})
        for _, q in quantizers:
            q.enabled = True
        for row, (name, q) in zip(rows, quantizers):
            if progress:
                progress(f"{name} removed")
            q.enabled = False
            row["removed"] = score(qat_model) - full
            q.enabled = True
    finally:
        for _, q in quantizers:
            q.enabled = True
    rows.sort(key=lambda r: r["alone"])
    return {"qat": full, "qat_weights_in_float": unquantized, "quantizers": rows}


def format_ablation(result: dict, float_score: float | None = None, top: int = 12) -> str:
    """A short table: the float model, QAT in float, QAT int8, then the costliest quantizers."""
    lines = []
    if float_score is not None:
        lines.append(f"float pre-trained model       {float_score:7.2f}")
    lines.append(f"QAT weights, no quantizer     {result['qat_weights_in_float']:7.2f}")
    lines.append(f"QAT, every quantizer (int8)   {result['qat']:7.2f}")
    lines.append(f"{'quantizer':30s}{'alone':>8s}{'removed':>9s}")
    for r in result["quantizers"][:top]:
        lines.append(f"{r['name']:30s}{r['alone']:+8.3f}{r['removed']:+9.3f}")
    return "\n".join(lines)

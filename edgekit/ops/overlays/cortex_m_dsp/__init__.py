"""Cortex-M DSP extension (M4, M7, M33): SMLAD/SXTB16 micro-kernels through ACLE intrinsics."""

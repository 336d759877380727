"""Cortex-M55 Helium (MVE) micro-kernels (arm_mve.h)."""

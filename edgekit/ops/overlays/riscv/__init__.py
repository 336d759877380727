"""rv32imac: register-blocked micro-kernels (no SIMD: each loaded byte feeds several MACs)."""

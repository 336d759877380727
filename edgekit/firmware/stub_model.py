"""Python twin of firmware_templates/stub_model (bit-exact), for testing the firmware and
harness before the real compiler output exists. See stub_model/model.h for the definition."""
from __future__ import annotations

import numpy as np

from .build import STUB_MODEL_DIR

MODEL_DIR = STUB_MODEL_DIR
CHANNELS, LENGTH, MAC_LAYERS = 2, 512, 12
W = np.array([1, -2, 3, -4, 5, -6, 7, -8], dtype=np.int64)


def reference(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 [2, 512] -> (denoised int8 [2, 512], logits int8 [2])."""
    x = np.asarray(window, dtype=np.int8).reshape(CHANNELS, LENGTH)
    xi = x.astype(np.int64)
    t = np.arange(LENGTH)
    total = sum((xi * W[(t + l) & 7]).sum(axis=1) for l in range(MAC_LAYERS))
    logits = (total >> 8).astype(np.int8)             # C: (int8_t)(int32 >> 8), wraps
    denoised = (x.view(np.uint8) ^ 0x5A).view(np.int8)
    return denoised, logits


def random_windows(n: int, seed: int = 0):
    """n reproducible int8 [2, 512] windows, full range, for stub tests."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield rng.integers(-128, 128, (CHANNELS, LENGTH), dtype=np.int8)

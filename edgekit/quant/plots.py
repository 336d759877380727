"""PNG plots for the evaluation: example overlays and metrics against input SNR."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FS = 360.0


def plot_examples(examples: dict, path: Path) -> Path:
    """examples: snr -> (noisy (C,W), clean (C,W), denoised (C,W)) in input units."""
    snrs = sorted(examples)
    fig, axes = plt.subplots(len(snrs), 1, figsize=(10, 2.2 * len(snrs)), sharex=True, squeeze=False)
    for ax, snr in zip(axes[:, 0], snrs):
        noisy, clean, den = examples[snr]
        t = np.arange(noisy.shape[-1]) / FS
        ax.plot(t, noisy[0], color="0.7", lw=0.8, label="noisy input")
        ax.plot(t, clean[0], color="k", lw=1.0, label="clean")
        ax.plot(t, den[0], color="tab:red", lw=1.0, label="denoised (int8 model)")
        ax.set_ylabel(f"{snr} dB in")
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=3)
    axes[-1, 0].set_xlabel("time (s), lead 0, mixed NSTDB noise")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_snr_curves(denoise: dict, path: Path) -> Path:
    """denoise[model][noise][snr] -> {snr_imp_db}: one panel per noise kind."""
    models = list(denoise)
    noises = list(denoise[models[0]])
    fig, axes = plt.subplots(1, len(noises), figsize=(3.2 * len(noises), 3), sharey=True, squeeze=False)
    for ax, noise in zip(axes[0], noises):
        for model, style in zip(models, ("-o", "--s", ":^")):
            snrs = sorted(denoise[model][noise], key=float)
            ax.plot([float(s) for s in snrs], [denoise[model][noise][s]["snr_imp_db"] for s in snrs], style,
                    label=model, ms=4)
        ax.set_title(noise)
        ax.set_xlabel("input SNR (dB)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("SNR improvement (dB)")
    axes[0, -1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

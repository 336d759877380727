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


def plot_by_record(by_record: dict, path: Path, snr: str = "0", target_db: float = 10.0) -> Path:
    """by_record[snr] -> {record: snr_imp_db} (metrics 'denoise_by_record.int.mixed'): one bar per
    test patient at `snr` dB input, worst first, with their mean and the project's target."""
    rec = sorted(by_record[snr].items(), key=lambda kv: kv[1])
    names, vals = [r for r, _ in rec], [v for _, v in rec]
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(names), 3.2))
    ax.bar(names, vals, color="tab:blue")
    ax.axhline(float(np.mean(vals)), color="k", lw=1, label=f"mean {np.mean(vals):.2f} dB")
    ax.axhline(target_db, color="tab:red", ls="--", lw=1, label=f"target {target_db:g} dB")
    ax.set_xlabel("test record (patient)")
    ax.set_ylabel("SNR improvement (dB)")
    ax.set_title(f"int8 model, mixed noise at {snr} dB input", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

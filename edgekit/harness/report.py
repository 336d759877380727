"""JSON + Markdown report with PNG plots for an EvalResult (device-side mechanics only)."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .evaluate import EvalResult  # noqa: E402


def _fmt(v, nd=1) -> str:
    if v is None:
        return "-"
    return f"{v:,.{nd}f}" if isinstance(v, float) else f"{v:,}"


def plot_latency(result: EvalResult, path: Path) -> None:
    unit = result.hello.counter_kind
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(result.counts, bins=min(50, max(5, result.n // 4)), color="tab:blue")
    ax.set_xlabel(f"{unit} per window")
    ax.set_ylabel("windows")
    ax.set_title(f"Latency, {result.hello.board} ({result.n} windows)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_layers(result: EvalResult, path: Path) -> None:
    layers = result.layers()
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(layers) + 1.5))
    ax.barh([l["name"] for l in layers], [l["count_p50"] for l in layers], color="tab:orange")
    ax.invert_yaxis()
    ax.set_xlabel(f"median {result.hello.counter_kind}")
    ax.set_title(f"Per-layer cost, {result.hello.board}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(result: EvalResult, title: str) -> str:
    s, lat, h = result.summary(), result.latency(), result.hello
    unit = h.counter_kind
    lines = [f"# {title}", "",
             f"- board: `{h.board}` (clock {h.clock_hz / 1e6:g} MHz, counter: {unit})",
             f"- model: `{h.model_name}` hash `{h.model_hash}`, {h.total_macs:,} MACs, "
             f"arena {h.arena_bytes:,} B, input {h.input_channels}x{h.input_length}",
             f"- windows: {s['windows']}, bit-exact vs reference: **{s['bit_exact_windows']}/{s['windows']}**",
             f"- link: {s['windows_per_s']:.1f} windows/s, {s['retried']} retries, "
             f"{s['device_errors']} device error frames", ""]
    if lat:
        lines += ["| | p50 | p99 | max |", "|---|---:|---:|---:|",
                  f"| {unit} | {_fmt(lat['p50'], 0)} | {_fmt(lat['p99'], 0)} | {_fmt(lat['max'], 0)} |",
                  f"| µs @ {h.clock_hz / 1e6:g} MHz | {_fmt(lat['p50_us'])} | {_fmt(lat['p99_us'])} "
                  f"| {_fmt(lat['max_us'])} |", "",
                  f"{unit} per MAC (p50): {_fmt(lat['per_mac_p50'], 2)}", ""]
    lines += ["## Per layer (median)", "", f"| # | layer | MACs | {unit} | share | per MAC |",
              "|---:|---|---:|---:|---:|---:|"]
    for l in result.layers():
        lines.append(f"| {l['index']} | {l['name']} | {l['macs']:,} | {_fmt(l['count_p50'], 0)} | "
                     f"{100 * l['share']:.1f}% | {_fmt(l['count_per_mac'], 2)} |")
    bad = [w for w in result.windows if not w.bit_exact][:10]
    if bad:
        lines += ["", "## First mismatching windows", "", "| window | denoised samples off | max abs diff | logits equal |",
                  "|---:|---:|---:|---|"]
        lines += [f"| {w.index} | {w.denoised_mismatches} | {w.denoised_max_abs_diff} | {w.logits_equal} |" for w in bad]
    lines += ["", "![latency](latency_hist.png)", "", "![layers](layers.png)", ""]
    return "\n".join(lines)


def write_report(result: EvalResult, out_dir, title: str | None = None) -> dict[str, Path]:
    """Write report.json, report.md, latency_hist.png, layers.png into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md",
             "latency_png": out / "latency_hist.png", "layers_png": out / "layers.png"}
    paths["json"].write_text(json.dumps(result.to_dict(), indent=1))
    plot_latency(result, paths["latency_png"])
    plot_layers(result, paths["layers_png"])
    paths["markdown"].write_text(markdown(result, title or f"edgekit on {result.hello.board}"))
    return paths

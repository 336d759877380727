"""JSON + Markdown report with PNG plots for an EvalResult (device-side mechanics only)."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .evaluate import EvalResult  # noqa: E402
from .timing import format_time  # noqa: E402


def _fmt(v, nd=1) -> str:
    if v is None:
        return "-"
    return f"{v:,.{nd}f}" if isinstance(v, float) else f"{v:,}"


def plot_layers(result: EvalResult, path: Path) -> None:
    """Counts per layer (instructions under QEMU: exact, the same every window), largest first,
    each bar labelled with its share of the model. (Under -icount a latency histogram would be one
    bar: the per-layer split is what tells where the time goes.)"""
    layers = sorted(result.layers(), key=lambda l: -l["count_p50"])
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(layers) + 1.5))
    bars = ax.barh([l["name"] for l in layers], [l["count_p50"] for l in layers], color="tab:orange")
    ax.bar_label(bars, labels=[f"{100 * l['share']:.1f}%" for l in layers], padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.margins(x=0.12)
    ax.set_xlabel(f"{result.hello.counter_kind} per window (median)")
    ax.set_title(f"{result.hello.counter_kind.capitalize()} per layer, {result.hello.board}")
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
    lines += ["", "![layers](layers.png)", ""]
    return "\n".join(lines)


def write_report(result: EvalResult, out_dir, title: str | None = None) -> dict[str, Path]:
    """Write report.json, report.md, layers.png into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "layers_png": out / "layers.png"}
    paths["json"].write_text(json.dumps(result.to_dict(), indent=1))
    plot_layers(result, paths["layers_png"])
    paths["markdown"].write_text(markdown(result, title or f"edgekit on {result.hello.board}"))
    return paths


# ---- the full run report (scripts/run.py): run.json, report.md, PNGs, console table ---------

def _us(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _snr_label(key: str) -> str:
    return key if key in ("clean", "all") else f"{key} dB"


def run_lines(run: dict) -> dict[str, list]:
    """The report's sections as rows, shared by the console table and report.md."""
    lat, unit = run["latency"], run["latency"]["unit"]
    mhz = lat["clock_hz"] / 1e6
    where = {"qemu": "QEMU", "hardware": "board", "host": "host process"}.get(run["board_kind"], run["board_kind"])
    flash = run.get("flash_bytes")
    summary = [
        ("target", run["target"]),
        ("board", f"{run['board']} ({where})"),
        ("model", f"{run['model_name']} {run['model_hash']} ({run['model']})"),
        ("windows", str(run["windows"]) + ("" if run.get("complete", True) else
                                           f" of {run['windows_planned']}  <-- INCOMPLETE (resume with --resume)")),
        ("bit-exact", f"{run['bit_exact']}/{run['windows']} vs the {run.get('reference', 'reference').split(' (')[0]}"
                      + ("" if run["all_bit_exact"] else "  <-- MISMATCH")),
        (f"latency ({unit})", f"p50 {_fmt(lat['p50'], 0)}   p99 {_fmt(lat['p99'], 0)}   max {_fmt(lat['max'], 0)}"),
        *([format_time(run["timing"])] if format_time(run.get("timing") or {}) else
          [(f"latency (µs @ {mhz:g} MHz)", f"p50 {_us(lat['p50_us'])}   p99 {_us(lat['p99_us'])}   "
                                           f"max {_us(lat['max_us'])}")]),
        ("per MAC", f"{_fmt(lat['per_mac'], 2)} {unit} ({lat['total_macs']:,} MACs)"),
    ]
    if flash is not None:
        model = ""
        if run.get("model_flash_bytes") is not None:
            model = f"; model alone {run['model_flash_bytes']:,} / {run['model_ram_bytes']:,} B"
        summary.append(("flash / RAM", f"{flash:,} / {run['ram_bytes']:,} B (firmware){model}"))
    if run.get("fits_target") is False:
        summary.append(("fits target", "NO: " + run["compile"]["fit_message"]))
    link = run["session"]
    summary.append(("link", f"{link['windows_per_s']:.1f} windows/s, {link['retried']} retries, "
                            f"{link['device_errors']} device errors; run {link['seconds']['total']:.1f} s"
                            f" in {len(link['sessions'])} session(s)"))
    if (run.get("session") or {}).get("command"):
        summary.append(("command", run["session"]["command"]))
    if run.get("versions"):
        summary.append(("versions", ", ".join(f"{k} {v}" for k, v in run["versions"].items())))
    layers = sorted(run["layers"], key=lambda l: -l["count"])
    denoise = [(k, v) for k, v in run.get("denoise", {}).items()]
    return {"summary": summary, "layers": layers, "denoise": denoise}


def format_run(run: dict, top: int = 5) -> str:
    """The readable report printed at the end of scripts/run.py."""
    sec = run_lines(run)
    unit = run["latency"]["unit"]
    w = max(len(k) for k, _ in sec["summary"]) + 2
    rows = [f"edgekit run: {run['target']} on {run['board']}", "=" * 72]
    rows += [f"{k:<{w}}{v}" for k, v in sec["summary"]]
    rows += ["", f"top {top} layers (median per window)",
             f"  {'layer':<20}{'op':<18}{'MACs':>10}{unit:>14}{'share':>8}{'per MAC':>9}  kernel"]
    for l in sec["layers"][:top]:
        rows.append(f"  {l['name']:<20}{(l.get('op') or ''):<18}{l['macs']:>10,}{l['count']:>14,.0f}"
                    f"{100 * l['share']:>7.1f}%{_fmt(l['count_per_mac'], 2):>9}  {l.get('kernel') or '-'}")
    if sec["denoise"]:
        rows += ["", "denoising (from device outputs; SNR improvement = SNR out - SNR in)",
                 f"  {'input SNR':<11}{'windows':>8}{'SNR in':>9}{'SNR out':>9}{'improve':>9}{'RMSE mV':>9}{'PRD %':>8}"]
        for k, d in sec["denoise"]:
            rows.append(f"  {_snr_label(k):<11}{d['windows']:>8}{d['snr_in_db']:>9.2f}{d['snr_out_db']:>9.2f}"
                        f"{d['snr_imp_db']:>9.2f}{d['rmse']:>9.4f}{d['prd']:>8.1f}")
    if run.get("af"):
        rows += ["", "AF detection (from device logits)"]
        for level, a in run["af"].items():
            rows.append(f"  {level:<8} accuracy {a['accuracy']:.3f}  sensitivity {a['sensitivity']:.3f}  "
                        f"specificity {a['specificity']:.3f}  F1 {a['f1']:.3f}  (n {a['n']}, AF {a['af']})")
    if "metrics_equal_reference" in run:
        rows += ["", f"metrics from device == metrics from reference: "
                     f"{'yes' if run['metrics_equal_reference'] else 'NO'}"]
    return "\n".join(rows)


def run_markdown(run: dict) -> str:
    sec = run_lines(run)
    unit = run["latency"]["unit"]
    lines = [f"# edgekit run: {run['target']} on {run['board']}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sec["summary"]]
    if sec["denoise"]:
        lines += ["", "## Denoising (device outputs)", "",
                  "| input SNR | windows | SNR in dB | SNR out dB | improvement dB | RMSE mV | PRD % |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {_snr_label(k)} | {d['windows']} | {d['snr_in_db']:.2f} | {d['snr_out_db']:.2f} | "
                  f"{d['snr_imp_db']:.2f} | {d['rmse']:.4f} | {d['prd']:.1f} |" for k, d in sec["denoise"]]
    if run.get("af"):
        lines += ["", "## AF detection (device logits)", "",
                  "| level | n | AF | accuracy | sensitivity | specificity | F1 |", "|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {lvl} | {a['n']} | {a['af']} | {a['accuracy']:.3f} | {a['sensitivity']:.3f} | "
                  f"{a['specificity']:.3f} | {a['f1']:.3f} |" for lvl, a in run["af"].items()]
    if "metrics_equal_reference" in run:
        lines += ["", f"Metrics from the device's outputs equal those from the integer reference's: "
                      f"**{'yes' if run['metrics_equal_reference'] else 'NO'}**."]
    lines += ["", "## Per layer (median per window)", "",
              f"| # | layer | op | kernel | MACs | {unit} | share | per MAC |", "|---:|---|---|---|---:|---:|---:|---:|"]
    lines += [f"| {l['index']} | {l['name']} | {l.get('op') or ''} | {l.get('kernel') or '-'} | {l['macs']:,} | "
              f"{_fmt(l['count'], 0)} | {100 * l['share']:.1f}% | {_fmt(l['count_per_mac'], 2)} |"
              for l in run["layers"]]
    if run["mismatched_windows"]:
        lines += ["", f"Windows not bit-exact (first 20): {run['mismatched_windows'][:20]}"]
    lines += ["", "## Instructions per layer" if unit == "instructions" else f"## {unit.capitalize()} per layer",
              "", "![layers](layers.png)", ""]
    if (run.get("arena") or {}).get("png"):
        lines += ["## Arena plan", "", f"{run['arena']['bytes']:,} B arena; each buffer's bytes (rows) over the "
                  "steps it is live (columns).", "", f"![arena plan]({run['arena']['png']})", ""]
    if (run.get("example") or {}).get("png"):
        lines += [f"![denoised example]({run['example']['png']})", ""]
    return "\n".join(lines)


def plot_denoise_example(example: dict, path: Path, board: str) -> None:
    import numpy as np

    from ..data import FS

    leads = example["clean"].shape[0]
    t = np.arange(example["clean"].shape[1]) / FS
    fig, axes = plt.subplots(leads, 1, figsize=(8, 2.4 * leads + 0.6), sharex=True, squeeze=False)
    for lead, ax in enumerate(axes[:, 0]):
        ax.plot(t, example["noisy"][lead], color="0.65", lw=0.8, label="noisy input")
        ax.plot(t, example["clean"][lead], color="k", lw=1.0, label="clean")
        ax.plot(t, example["device"][lead], color="tab:red", lw=1.0, label=f"device output ({board})")
        ax.set_ylabel(f"lead {lead} (mV)")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("s")
    axes[0, 0].set_title(f"record {example['record']} @ {example['start']}, {example['noise']} noise, "
                         f"input SNR {example['snr_db']:g} dB")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_run_report(run: dict, result: EvalResult, out_dir, example: dict | None = None) -> dict[str, Path]:
    """run.json, report.md, layers.png (+ arena.png, denoise_example.png) in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "run.json", "markdown": out / "report.md", "layers_png": out / "layers.png"}
    plot_layers(result, paths["layers_png"])
    plan = (run.get("compile") or {}).get("arena_plan")
    if plan:
        from ..compiler.arena_plot import plot_arena
        paths["arena_png"] = out / "arena.png"
        plot_arena(plan, run["compile"]["arena_bytes"], paths["arena_png"], title=run["model_name"])
        run["arena"] = {"png": paths["arena_png"].name, "bytes": run["compile"]["arena_bytes"]}
    if example is not None:
        paths["example_png"] = out / "denoise_example.png"
        plot_denoise_example(example, paths["example_png"], run["board"])
        run["example"] = {k: example[k] for k in ("index", "record", "start", "snr_db", "noise")}
        run["example"]["png"] = paths["example_png"].name
    paths["json"].write_text(json.dumps(run, indent=1) + "\n")
    paths["markdown"].write_text(run_markdown(run))
    return paths

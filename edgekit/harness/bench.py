"""The kernel benchmark: one model compiled twice for a target (its kernel set, and the
generic kernels), both firmwares run under QEMU on the same windows, every output checked bit
for bit against the integer reference, and the exact instruction counts (QEMU -icount)
compared per window, per MAC and per layer.

    from edgekit.harness.bench import bench
    rep = bench("cortex-m7", windows=20)          # -> the dict written to bench.json
    print(format_bench(rep))

Counts are the firmware's own (firmware_templates/common/main.c): the window total from
before to after edgekit_model_run, and per layer the counter at the end of that layer minus
the end of the previous one, so the layers of a window sum to at most its total (the rest is
the executor around them). Per-window and per-layer figures are means over the windows (a
LeakyReLU's branch makes counts depend a little on the data; min/max are reported too).
A fused add's layer holds only the hook between the two layers; its work is in the conv.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from .. import ops
from ..compiler import compile_model
from ..compiler.driver import DEFAULT_MODEL
from ..compiler.frontend import load as load_model
from ..firmware.build import build_firmware
from ..firmware.targets import load_board, load_target
from ..ir import reference

EXACT_COUNTERS = ("systick_icount", "minstret")   # QEMU -icount: instructions, exactly


class BenchError(RuntimeError):
    """The benchmark cannot run as asked (unknown target, no QEMU board, ...)."""


def _windows(graph, n: int, source: str, seed: int, data_dir, log) -> tuple[np.ndarray, str]:
    shape = tuple(graph.tensors[graph.inputs[0]].shape)
    if source == "ecg":
        from .workload import ecg_workload
        wl = ecg_workload(n, seed=seed, data_dir=data_dir)
        x = np.asarray(wl.windows.noisy)
        if x.shape[1:] != shape:
            raise BenchError(f"the ECG windows are {x.shape[1:]}, the model takes {shape}: use --random-windows")
        return x, wl.describe()
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, (n, *shape)).astype(np.int8), f"{n} random int8 windows (seed {seed})"


def _run_one(model, target: str, board, kernel_set: str, out: Path, x, expected, log, progress: bool) -> dict:
    from .device import open_device
    from .evaluate import evaluate

    t = time.perf_counter()
    res = compile_model(model, target, out / "model", kernels=kernel_set, check_fit=False)
    elf = build_firmware(res.out_dir, board, out / "firmware")
    rep = res.report
    with open_device(board, elf.path) as dev:
        if dev.info.model_hash != rep["model_sha256"][:16]:
            raise BenchError(f"the firmware reports model hash {dev.info.model_hash}, the compiled model is "
                             f"{rep['model_sha256'][:16]}")
        result = evaluate(dev, x, expected, progress=progress, desc=f"{target} {kernel_set}")
    counts = np.array(result.counts, dtype=np.int64)
    layer_counts = np.array([w.layer_counts for w in result.windows], dtype=np.int64).reshape(len(x), -1)
    macs = int(rep["macs"])
    log(f"{kernel_set}: {result.n_bit_exact}/{result.n} windows bit-exact, {counts.mean():,.0f} "
        f"{result.hello.counter_kind} per window ({time.perf_counter() - t:.0f} s)")
    return {
        "kernels": kernel_set, "unit": result.hello.counter_kind,
        "windows": result.n, "bit_exact_windows": result.n_bit_exact,
        "per_window": float(counts.mean()), "per_window_min": int(counts.min()), "per_window_max": int(counts.max()),
        "per_mac": float(counts.mean()) / macs if macs else None,
        "layers_sum": float(layer_counts.sum(axis=1).mean()),
        "layer_counts": [float(v) for v in layer_counts.mean(axis=0)],
        "weights_bytes": rep["weights_bytes"], "code_bytes": rep.get("code_bytes"),
        "arena_bytes": rep["arena_bytes"], "arena_lower_bound_bytes": rep["arena_lower_bound_bytes"],
        "arena_scratch_bytes": rep.get("arena_scratch_bytes", 0), "flash_bytes": elf.flash_bytes,
        "compile": rep,
    }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def bench(target: str, model=None, windows: int = 20, board: str | None = None, out_dir=None,
          kernels: str | None = None, random_windows: bool = False, seed: int = 0, data_dir=None,
          log: Callable = print, progress: bool = True) -> dict:
    """Compile `model` for `target` with `kernels` (default: the target's kernel set) and with
    the generic kernels, run both under the target's QEMU board, return (and write to
    out_dir/bench.json) the comparison."""
    import json

    from .pipeline import qemu_board_for

    tgt = load_target(target)
    b = load_board(board or qemu_board_for(target))
    if b.kind != "qemu":
        raise BenchError(f"board {b.name} is not a QEMU board: the benchmark needs exact counts (-icount)")
    kset = ops.set_name(tgt.kernels if kernels is None else kernels)
    if kset != ops.GENERIC:
        ops.overlays_in(kset)  # unknown set: KernelError naming the known ones
    model = Path(model) if model is not None else DEFAULT_MODEL
    out = Path(out_dir) if out_dir is not None else Path("build", "bench", target)
    out.mkdir(parents=True, exist_ok=True)

    graph = load_model(model).graph
    x, described = _windows(graph, windows, "random" if random_windows else "ecg", seed, data_dir, log)
    ref = reference.run(graph, x)
    expected = list(zip(ref[graph.outputs[0]], ref[graph.outputs[1]]))
    log(f"bench {target} on {b.name}: {described}; kernels {kset} vs generic")

    runs = {kset: _run_one(model, target, b, kset, out / kset, x, expected, log, progress)}
    if kset != ops.GENERIC:
        if any(r.get("kernel", ops.GENERIC) != ops.GENERIC for r in runs[kset]["compile"]["layers"]):
            runs[ops.GENERIC] = _run_one(model, target, b, ops.GENERIC, out / ops.GENERIC, x, expected, log, progress)
        else:  # no layer took an overlay: the generic build is the same C
            log(f"no layer took a {kset} overlay: the generic build would be the same code; not run again")
            runs[ops.GENERIC] = {**runs[kset], "kernels": ops.GENERIC, "same_code_as": kset}
    main, gen = runs[kset], runs[ops.GENERIC]
    rows = main["compile"]["layers"]
    layers, claimed = [], []
    for i, r in enumerate(rows):
        c, g = main["layer_counts"][i], gen["layer_counts"][i]
        fused = r.get("fused_into")
        kernel = r.get("kernel", ops.GENERIC)
        if kernel != ops.GENERIC and not fused:
            claimed.append(i)
        layers.append({
            "index": r["index"], "name": r["name"], "op": r["op"], "macs": r["macs"],
            "kernel": kernel, "kernel_fallback": r.get("kernel_fallback"), "fused_into": fused,
            "count": c, "per_mac": c / r["macs"] if r["macs"] else None,
            "generic_count": g, "generic_per_mac": g / r["macs"] if r["macs"] else None,
            "ratio": _ratio(c, g),
        })
    over_c = sum(layers[i]["count"] for i in claimed)
    over_g = sum(layers[i]["generic_count"] for i in claimed)
    over_macs = sum(layers[i]["macs"] for i in claimed)
    exact = b.counter in EXACT_COUNTERS
    report = {
        "target": target, "board": b.name, "counter": b.counter, "exact_counts": exact,
        "unit": main["unit"], "model": str(model), "model_sha256": main["compile"]["model_sha256"],
        "windows": len(x), "window_source": described, "macs": int(main["compile"]["macs"]),
        "kernels": kset,
        "bit_exact": all(r["bit_exact_windows"] == r["windows"] for r in runs.values()),
        "per_window": main["per_window"], "per_mac": main["per_mac"],
        "generic_per_window": gen["per_window"], "generic_per_mac": gen["per_mac"],
        "ratio": _ratio(main["per_window"], gen["per_window"]),
        "overlay_layers": [layers[i]["name"] for i in claimed],
        "overlay_macs": over_macs,
        "overlay_count": over_c, "overlay_generic_count": over_g,
        "overlay_per_mac": over_c / over_macs if over_macs else None,
        "overlay_generic_per_mac": over_g / over_macs if over_macs else None,
        "overlay_ratio": _ratio(over_c, over_g),
        "layers": layers,
        "runs": {s: {k: v for k, v in r.items() if k != "compile"} for s, r in runs.items()},
    }
    (out / "bench.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "bench.md").write_text(bench_markdown(report))
    report["path"] = str(out / "bench.json")
    return report


def bench_markdown(rep: dict, command: str | None = None) -> str:
    """The per-layer table for the front page, from bench.json (scripts/bench.py --markdown FILE)."""
    u = rep["unit"]
    f = lambda v, nd=2: "-" if v is None else f"{v:,.{nd}f}"  # noqa: E731
    cmd = command or f"python scripts/bench.py --target {rep['target']} --windows {rep['windows']}"
    lines = [f"{rep['target']} ({rep['board']}, {u} counted exactly by QEMU -icount"
             f"{'' if rep['exact_counts'] else ' -- NOT exact'}), {rep['window_source']}; "
             f"every window bit-exact in both builds: {'yes' if rep['bit_exact'] else 'NO'}. `{cmd}`", "",
             f"| # | layer | op | MACs | kernel | {u} | per MAC | generic | per MAC | ratio |",
             "|---:|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rep["layers"]:
        if r["fused_into"]:
            continue
        kernel = r["kernel"] + (f" (falls back: {r['kernel_fallback']})" if r["kernel_fallback"] else "")
        lines.append(f"| {r['index']} | {r['name']} | {r['op']} | {r['macs']:,} | {kernel} | {r['count']:,.0f} | "
                     f"{f(r['per_mac'])} | {r['generic_count']:,.0f} | {f(r['generic_per_mac'])} | {f(r['ratio'])} |")
    lines.append(f"| | **window** | | {rep['macs']:,} | {rep['kernels']} | **{rep['per_window']:,.0f}** | "
                 f"**{f(rep['per_mac'])}** | {rep['generic_per_window']:,.0f} | {f(rep['generic_per_mac'])} | "
                 f"**{f(rep['ratio'], 3)}** |")
    if rep["overlay_layers"]:
        lines.append(f"| | overlay layers ({len(rep['overlay_layers'])}) | | {rep['overlay_macs']:,} | | "
                     f"{rep['overlay_count']:,.0f} | {f(rep['overlay_per_mac'])} | {rep['overlay_generic_count']:,.0f} | "
                     f"{f(rep['overlay_generic_per_mac'])} | {f(rep['overlay_ratio'], 3)} |")
    lines.append("")
    lines.append("A fused skip add is counted in its conv's row.")
    return "\n".join(lines) + "\n"


def _b(v) -> str:
    return "-" if v is None else f"{v:,} B"


def format_bench(rep: dict) -> str:
    u = "instr" if rep["unit"] == "instructions" else rep["unit"]
    f = lambda v, nd=2: "-" if v is None else f"{v:,.{nd}f}"  # noqa: E731
    rows = [f"{'#':>3} {'layer':<20}{'op':<18}{'MACs':>11}  {'kernel':<26}{u:>12}{'/MAC':>7}"
            f"{'generic':>12}{'/MAC':>7}{'ratio':>7}"]
    for r in rep["layers"]:
        kernel = f"(fused into {r['fused_into']})" if r["fused_into"] else r["kernel"]
        rows.append(f"{r['index']:>3} {r['name']:<20}{r['op']:<18}{r['macs']:>11,}  {kernel:<26}"
                    f"{r['count']:>12,.0f}{f(r['per_mac']):>7}{r['generic_count']:>12,.0f}"
                    f"{f(r['generic_per_mac']):>7}{f(r['ratio']):>7}")
        if r["kernel_fallback"]:
            rows.append(f"{'':>4}{'':<38}  falls back: {r['kernel_fallback']}")
    exact = "exact (QEMU -icount)" if rep["exact_counts"] else "NOT exact (not an -icount counter)"
    rows += ["",
             f"target {rep['target']} on {rep['board']}, {rep['unit']} {exact}; {rep['window_source']}",
             f"model {rep['model']} ({rep['macs']:,} MACs); kernels {rep['kernels']} vs generic; "
             f"bit-exact: {'all windows, both builds' if rep['bit_exact'] else 'NO'}",
             f"per window   {rep['per_window']:>14,.0f} {u}  {f(rep['per_mac'])}/MAC   generic "
             f"{rep['generic_per_window']:,.0f} ({f(rep['generic_per_mac'])}/MAC)   ratio {f(rep['ratio'], 3)}"]
    m, g = rep["runs"][rep["kernels"]], rep["runs"]["generic"]
    grow = lambda a, b: "" if not b or a is None else f" ({100 * (a - b) / b:+.1f} %)"  # noqa: E731
    rows.append(f"memory       weights {m['weights_bytes']:,} B{grow(m['weights_bytes'], g['weights_bytes'])}, "
                f"code {_b(m['code_bytes'])}{grow(m['code_bytes'], g['code_bytes'])}, arena {m['arena_bytes']:,} B "
                f"(lower bound {m['arena_lower_bound_bytes']:,} B, scratch {m['arena_scratch_bytes']:,} B); "
                f"generic: weights {g['weights_bytes']:,} B, code {_b(g['code_bytes'])}, arena {g['arena_bytes']:,} B")
    if rep["overlay_layers"]:
        rows.append(f"overlay layers ({len(rep['overlay_layers'])}, {rep['overlay_macs']:,} MACs): "
                    f"{rep['overlay_count']:,.0f} {u} {f(rep['overlay_per_mac'])}/MAC   generic "
                    f"{rep['overlay_generic_count']:,.0f} ({f(rep['overlay_generic_per_mac'])}/MAC)   "
                    f"ratio {f(rep['overlay_ratio'], 3)}")
    else:
        rows.append("overlay layers: none (every layer ran the generic kernel)")
    return "\n".join(rows)


def summary_markdown(reps: list[dict]) -> str:
    """The front page's kernel table from several targets' bench.json: whole model and each MAC
    layer, instructions per MAC with the target's kernels (generic in brackets)."""
    head = "| layer | MACs | " + " | ".join(f"{r['target']} ({r['kernels']})" for r in reps) + " |"
    rows = [head, "|---|---:|" + "---:|" * len(reps)]
    per = lambda v, g: f"{v:.2f} ({g:.2f})"  # noqa: E731
    rows.append("| **whole model** | " + f"{reps[0]['macs']:,} | "
                + " | ".join(f"**{per(r['per_mac'], r['generic_per_mac'])}**" for r in reps) + " |")
    by_target = [{layer["name"]: layer for layer in r["layers"]} for r in reps]
    for layer in reps[0]["layers"]:
        if layer["macs"] < 100_000:  # the MAC layers; the rest is in each target's bench.md
            continue
        cells = [per(t[layer["name"]]["per_mac"], t[layer["name"]]["generic_per_mac"]) for t in by_target]
        rows.append(f"| {layer['name']} ({layer['op']}) | {layer['macs']:,} | " + " | ".join(cells) + " |")
    return "\n".join(rows)

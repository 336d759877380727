"""evaluate() + write_report() end to end on the host-board firmware (fast, no QEMU)."""
import json

import numpy as np

from edgekit.firmware import stub_model
from edgekit.harness.device import open_device
from edgekit.harness.evaluate import evaluate, latency_stats
from edgekit.harness.report import write_report


def test_latency_stats():
    s = latency_stats(list(range(1, 101)), clock_hz=1_000_000, total_macs=10, unit="cycles")
    assert (s["p50"], s["p99"], s["max"]) == (50, 99, 100)
    assert s["p50_us"] == 50.0 and s["per_mac_p50"] == 5.0


def test_evaluate_and_report(build_fw, tmp_path):
    elf = build_fw("host").path

    def off_by_one_in_window_3(w):  # a reference that disagrees once, to see it reported
        den, logits = stub_model.reference(w)
        if off_by_one_in_window_3.calls == 3:
            den = den.copy()
            den[0, 0] ^= 1
        off_by_one_in_window_3.calls += 1
        return den, logits
    off_by_one_in_window_3.calls = 0

    with open_device("host", elf) as dev:
        res = evaluate(dev, stub_model.random_windows(10), off_by_one_in_window_3, limit=10, progress=False)
    assert res.n == 10 and res.n_bit_exact == 9 and not res.bit_exact
    bad = [w for w in res.windows if not w.bit_exact]
    assert [(w.index, w.denoised_mismatches, w.denoised_max_abs_diff, w.logits_equal) for w in bad] == [(3, 1, 1, True)]
    paths = write_report(res, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["summary"]["bit_exact_windows"] == 9 and len(data["layers"]) == 14
    assert data["summary"]["latency"]["unit"] == "nanoseconds"
    md = paths["markdown"].read_text()
    assert "9/10" in md and "| 3 | 1 | 1 | True |" in md and "denoise" in md
    for k in ("layers_png",):
        assert paths[k].read_bytes()[:4] == b"\x89PNG"
    assert np.isclose(sum(l["share"] for l in data["layers"]), 1.0)


def test_run_report_names_each_layers_kernel():
    from types import SimpleNamespace

    from edgekit.harness.pipeline import _compile_summary, _layers
    from edgekit.harness.report import format_run, run_markdown

    result = SimpleNamespace(layers=lambda: [
        {"index": 0, "name": "enc1", "macs": 100, "count_p50": 300.0, "share": 0.75, "count_per_mac": 3.0},
        {"index": 1, "name": "enc1_eca", "macs": 10, "count_p50": 100.0, "share": 0.25, "count_per_mac": 10.0}])
    compile_rep = {"layers": [{"index": 0, "op": "conv1d", "kernel": "cortex_m_dsp/conv1d"},
                              {"index": 1, "op": "dense", "kernel": "generic"}]}
    layers = _layers(result, _compile_summary(compile_rep))  # as run.json keeps it
    assert [(l["op"], l["kernel"]) for l in layers] == [("conv1d", "cortex_m_dsp/conv1d"), ("dense", "generic")]
    lat = {"unit": "instructions", "p50": 400.0, "p99": 400.0, "max": 400.0, "p50_us": 1.0, "p99_us": 1.0,
           "max_us": 1.0, "clock_hz": 25_000_000, "per_mac": 3.6, "total_macs": 110}
    run = {"target": "cortex-m7", "board": "mps2-an500", "board_kind": "qemu", "model_name": "m", "model_hash": "h",
           "model": "m.onnx", "windows": 1, "bit_exact": 1, "all_bit_exact": True, "latency": lat,
           "session": {"windows_per_s": 1.0, "retried": 0, "device_errors": 0, "seconds": {"total": 1.0},
                       "sessions": [{}]},
           "layers": layers, "mismatched_windows": []}
    text = format_run(run)
    assert "kernel" in text
    enc1 = next(line for line in text.splitlines() if line.strip().startswith("enc1 "))
    assert enc1.rstrip().endswith("cortex_m_dsp/conv1d")
    assert "| 0 | enc1 | conv1d | cortex_m_dsp/conv1d | 100 |" in run_markdown(run)

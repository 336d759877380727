"""scripts/bench.py: a small model compiled with a kernel set and with the generic kernels,
both run under QEMU on cortex-m7; the exact counts in bench.json must add up."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgekit.model.acdae import ACDAE, ACDAEConfig
from edgekit.model.fakequant import set_qat
from edgekit.quant.export import export_model

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "bench.py"


def _bench_main(argv):
    spec = importlib.util.spec_from_file_location("edgekit_bench_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    cfg = ACDAEConfig(window=256, widths=(8, 16), kernel=5, strides=(2, 2), dec_kernel=4)
    torch.manual_seed(0)
    m = ACDAE(cfg)
    set_qat(m, True)
    m.train()
    with torch.no_grad():
        for _ in range(4):
            m(torch.randn(16, cfg.in_channels, cfg.window) * 0.3)
    return export_model(m.eval(), tmp_path_factory.mktemp("tiny"))


@pytest.mark.qemu
@pytest.mark.cortex_m7
@pytest.mark.slow
def test_bench_counts_add_up(tiny_model, tmp_path, capsys):
    out = tmp_path / "bench"
    rc = _bench_main(["--target", "cortex-m7", "--model", str(tiny_model), "--windows", "1", "--random-windows",
                      "--kernels", "example", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    rep = json.loads((out / "bench.json").read_text())
    assert rep["windows"] == 1 and rep["bit_exact"] is True
    assert rep["exact_counts"] is True and rep["unit"] == "instructions"
    assert rep["kernels"] == "example" and set(rep["runs"]) == {"example", "generic"}
    for name, run in rep["runs"].items():
        assert run["bit_exact_windows"] == 1
        assert run["per_window"] > 0
        # one window: the layers' counts sum to layers_sum, which the window total bounds
        assert sum(run["layer_counts"]) == pytest.approx(run["layers_sum"])
        assert 0 < run["layers_sum"] <= run["per_window"]
        assert run["per_mac"] == pytest.approx(run["per_window"] / rep["macs"])
        compiled = json.loads((out / name / "model" / "compile.json").read_text())
        assert compiled["kernels"] == name and compiled["macs"] == rep["macs"]
    main, gen = rep["runs"]["example"], rep["runs"]["generic"]
    assert rep["per_window"] == main["per_window"] and rep["generic_per_window"] == gen["per_window"]
    assert rep["ratio"] == pytest.approx(main["per_window"] / gen["per_window"])
    # per layer: the kernel compile.json names, counts from each run, the ratio of the two
    compiled = json.loads((out / "example" / "model" / "compile.json").read_text())["layers"]
    assert [r["kernel"] for r in rep["layers"]] == [c["kernel"] for c in compiled]
    for i, r in enumerate(rep["layers"]):
        assert r["count"] == main["layer_counts"][i] and r["generic_count"] == gen["layer_counts"][i]
        if r["generic_count"]:
            assert r["ratio"] == pytest.approx(r["count"] / r["generic_count"])
    claimed = [r for r in rep["layers"] if r["kernel"] != "generic" and not r["fused_into"]]
    assert claimed and [r["name"] for r in claimed] == rep["overlay_layers"]
    assert rep["overlay_count"] == pytest.approx(sum(r["count"] for r in claimed))
    assert rep["overlay_generic_count"] == pytest.approx(sum(r["generic_count"] for r in claimed))
    assert rep["overlay_ratio"] == pytest.approx(rep["overlay_count"] / rep["overlay_generic_count"])
    assert rep["overlay_macs"] == sum(r["macs"] for r in claimed)
    # layers the overlay did not take ran the same generic code in both builds
    same = [r for r in rep["layers"] if r["kernel"] == "generic" and r["op"] in ("dense", "lut", "global_sum")]
    assert same and all(r["count"] == r["generic_count"] for r in same)
    assert f"ratio {rep['ratio']:.3f}" in printed and "example/conv1d" in printed
    assert np.isfinite(rep["per_mac"])
    md = (out / "bench.md").read_text()
    assert f"**{rep['ratio']:.3f}**" in md and "| 0 | enc1 | conv1d |" in md


def test_bench_unknown_kernel_set_is_one_line(tmp_path, capsys):
    rc = _bench_main(["--target", "cortex-m7", "--kernels", "nope", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: unknown kernel set 'nope'; known: generic, ") and err.count("\n") == 1


def test_summary_table_reads_each_targets_bench_json():
    from edgekit.harness.bench import summary_markdown

    def rep(target, per_mac, layer_per_mac):
        return {"target": target, "kernels": "k", "macs": 200_000, "per_mac": per_mac, "generic_per_mac": 4.0,
                "layers": [{"name": "c1", "op": "conv1d", "macs": 199_000, "per_mac": layer_per_mac,
                            "generic_per_mac": 4.5},
                           {"name": "tiny", "op": "mul", "macs": 1_000, "per_mac": 24.0, "generic_per_mac": 24.0}]}
    text = summary_markdown([rep("a", 1.234, 1.111), rep("b", 0.5, 0.25)])
    lines = text.splitlines()
    assert lines[0] == "| layer | MACs | a (k) | b (k) |"
    assert lines[2] == "| **whole model** | 200,000 | **1.23 (4.00)** | **0.50 (4.00)** |"
    assert lines[3] == "| c1 (conv1d) | 199,000 | 1.11 (4.50) | 0.25 (4.50) |"
    assert len(lines) == 4  # layers with few MACs are left to each target's bench.md

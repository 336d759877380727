"""Whole models with the cortex_m_dsp overlays: the host build (which runs the micro-kernels'
portable twin) bit-exact with the integer reference on the shipped model (1000 real windows)
and on the compiler tests' other models; the cortex-m7 build of the shipped model within the
memory and compile-time budgets, every conv layer on the overlay. The DSP build itself runs
bit-exact under QEMU in tests/test_e2e_qemu.py (cortex-m7 and cortex-m4 select this set) and
tests/test_dsp_qemu.py."""
from __future__ import annotations

import json

import pytest

from edgekit.compiler import HostModel, compile_model
from test_compiler import (CONFIGS, _assert_bit_exact, _windows, models, real_windows,  # noqa: F401
                           trained_model)

DSP = "cortex_m_dsp"


def _kernels(res) -> dict[str, tuple[str, str | None]]:
    report = json.loads((res.out_dir / "compile.json").read_text())
    return {row["name"]: (row["kernel"], row.get("kernel_fallback")) for row in report["layers"]}


def test_shipped_model_with_the_dsp_twin_is_bit_exact_on_1000_real_windows(trained_model, real_windows,
                                                                           tmp_path):
    res = compile_model(trained_model, "host", tmp_path, kernels=DSP)
    used = _kernels(res)
    convs = [op.name for op in res.graph.ops if op.kind in ("conv1d", "conv_transpose1d")]
    assert len(convs) == 12 and all(used[n][0] == f"{DSP}/{op}" for n, op in
                                    ((o.name, o.kind) for o in res.graph.ops if o.name in convs))
    assert "ek_cortex_m_dsp_conv" in (res.out_dir / "kernels.c").read_text()
    assert real_windows.shape[0] >= 1000
    _assert_bit_exact(HostModel(res.out_dir), res.graph, real_windows)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_other_models_with_the_dsp_twin_are_bit_exact(name, models, tmp_path):  # noqa: F811
    res = compile_model(models[name], "host", tmp_path, kernels=DSP)
    used = _kernels(res)
    on_dsp = [n for n, (kern, _) in used.items() if kern.startswith(DSP)]
    assert on_dsp, f"{name}: no layer on the {DSP} overlays"
    for n, (kern, why) in used.items():
        op = next(o for o in res.graph.ops if o.name == n)
        if op.kind in ("conv1d", "conv_transpose1d") and kern == "generic":
            assert why and "tap" in why, (n, why)   # only the 1-tap layers are declined
    cfg = CONFIGS[name]
    _assert_bit_exact(HostModel(res.out_dir), res.graph, _windows(24, cfg.in_channels, cfg.window, seed=21))


def test_cortex_m7_build_is_within_the_budgets(trained_model, tmp_path):
    dsp = compile_model(trained_model, "cortex-m7", tmp_path / "dsp").report
    generic = compile_model(trained_model, "cortex-m7", tmp_path / "generic", kernels="generic").report
    assert dsp["kernels"] == DSP and generic["kernels"] == "generic"
    assert dsp["weights_bytes"] <= 1.05 * generic["weights_bytes"], (dsp["weights_bytes"], generic["weights_bytes"])
    assert dsp["arena_bytes"] <= 1.10 * dsp["arena_lower_bound_bytes"]
    assert dsp["arena_scratch_bytes"] > 0
    assert dsp["code_bytes"] <= 32 * 1024, dsp["code_bytes"]
    assert dsp["seconds"] < 60, dsp["seconds"]
    rows = {r["name"]: r for r in dsp["layers"]}
    assert rows["enc3"]["kernel"] == f"{DSP}/conv1d" and rows["dec3"]["kernel"] == f"{DSP}/conv_transpose1d"

"""End to end under QEMU with a real compiled ACDAE: scripts/run.py compiles the model for each
target, builds the firmware, streams 200 real test windows (held-out records + NSTDB noise)
over the serial link and checks every output bit for bit against the integer reference.

The model is the committed models/acdae/model.onnx; without it (a fresh checkout before the
trained model lands) a full-size ACDAE is exported here with untrained weights and activation
ranges from real ECG windows: same ops, shapes and MACs, so nothing is skipped.
Missing QEMU or toolchains make these tests FAIL naming the apt package.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.data import SEGMENT, WINDOW
from edgekit.firmware.targets import load_board, load_target
from edgekit.harness import pipeline
from edgekit.harness.device import open_device
from edgekit.harness.workload import ecg_workload
from edgekit.ir import reference
from edgekit.ir.onnx_import import load_intgraph

pytestmark = [pytest.mark.qemu, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "run.py"
COMMITTED_MODEL = REPO / "models" / "acdae" / "model.onnx"
TARGETS = {"cortex-m7": "mps2-an500", "cortex-m4": "mps2-an386", "cortex-m55": "mps3-an547", "riscv32": "virt"}
N = 200
SNRS = ("0", "12", "24")
RERUN = 24  # windows streamed again in a fresh QEMU to check the counts are deterministic


def _export_acdae(out_dir, config=None, seed=0):
    """An ACDAE with QAT on, ranges observed on a few batches of real training windows."""
    import torch

    from edgekit.data import resolve_data_dir, sample_training_windows, split_records
    from edgekit.model.acdae import ACDAE, ACDAEConfig, INPUT_SCALE
    from edgekit.model.fakequant import set_qat
    from edgekit.quant.export import export_model

    torch.manual_seed(seed)
    m = ACDAE(config or ACDAEConfig())
    set_qat(m, True)
    m.train()
    data = resolve_data_dir()
    ws = sample_training_windows(data, split_records(data)["train"], 96, seed=seed)
    with torch.no_grad():
        for i in range(0, len(ws), 32):
            m(torch.from_numpy(ws.noisy[i:i + 32].astype(np.float32) * INPUT_SCALE))
    return export_model(m.eval(), out_dir)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    if COMMITTED_MODEL.is_file():
        return COMMITTED_MODEL
    return _export_acdae(tmp_path_factory.mktemp("acdae"))


def _run_main(argv):
    spec = importlib.util.spec_from_file_location("edgekit_run_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


@pytest.fixture(scope="module")
def runs(model_path, tmp_path_factory):
    """target -> run.json of one 200-window run (cortex-m7 through the command line itself)."""
    cache = {}

    def get(target):
        if target not in cache:
            out = tmp_path_factory.mktemp(f"run-{target}")
            argv = ["--target", target, "--qemu", "--model", str(model_path), "--windows", str(N),
                    "--snr", ",".join(SNRS), "--noise", "mixed", "--report", str(out), "--no-progress"]
            if target == "cortex-m7":
                p = subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, cwd=REPO)
                rc, text = p.returncode, p.stdout + p.stderr
            else:
                rc, text = _run_main(argv), ""
            cache[target] = (rc, text, json.loads((out / "run.json").read_text()), out)
        return cache[target]

    return get


@pytest.mark.parametrize("target", TARGETS)
def test_real_windows_bit_exact_and_scored(runs, model_path, target):
    rc, text, run, out = runs(target)
    assert rc == 0, text[-3000:]
    assert (run["target"], run["board"], run["board_kind"]) == (target, TARGETS[target], "qemu")
    assert run["windows"] == N and run["bit_exact"] == N and run["all_bit_exact"], run["mismatched_windows"]
    assert run["session"]["retried"] == 0 and run["session"]["device_errors"] == 0
    assert run["complete"] and (out / "run.jsonl").is_file()

    lat = run["latency"]
    assert lat["unit"] == "instructions" and 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert lat["per_mac"] == pytest.approx(lat["p50"] / lat["total_macs"]) and 0.1 < lat["per_mac"] < 20  # Helium: ~0.27
    assert lat["p50_us"] == pytest.approx(lat["p50"] / load_board(TARGETS[target]).clock_hz * 1e6)
    graph = load_intgraph(model_path)
    assert len(run["layers"]) == len(graph.ops)
    assert all({"name", "macs", "count"} <= set(l) for l in run["layers"])
    assert sum(l["macs"] for l in run["layers"]) == lat["total_macs"] == run["compile"]["macs"]
    assert sum(l["count"] for l in run["layers"]) <= lat["max"]
    assert run["flash_bytes"] > run["compile"]["weights_bytes"] and run["ram_bytes"] > run["compile"]["arena_bytes"]
    assert len(run["counts"]) == N
    t = run["timing"]  # ms at the real board's clock, an estimate at 1 instruction/cycle under QEMU
    ref = load_board(load_board(TARGETS[target]).timing_board or TARGETS[target])
    assert t["estimate"] is True and (t["clock_board"], t["clock_hz"]) == (ref.name, ref.clock_hz)
    assert t["ms_p50"] == pytest.approx(lat["p50"] / ref.clock_hz * 1e3)
    assert t["rtf_p50"] == pytest.approx(t["ms_p50"] / 1e3 / (1024 / 360))
    assert run["session"]["command"].startswith("python scripts/run.py")
    assert set(run["versions"]) == {"edgekit", "TVM", "gcc"}

    # real held-out windows at every SNR, scored from the device's outputs == from the reference's
    assert set(run["data"]["records"]) == set(pipeline_split_test())
    assert run["data"]["windows_per_snr"] == {"0": 67, "12": 67, "24": 66}
    assert set(run["denoise"]) == {*SNRS, "all"}
    for key in SNRS:
        d = run["denoise"][key]
        assert d["snr_in_db"] == pytest.approx(float(key), abs=1.0) and np.isfinite(d["snr_imp_db"])
    if model_path == COMMITTED_MODEL:  # the trained model denoises: a sign error would make this negative
        assert run["denoise"]["0"]["snr_imp_db"] > 3.0 and run["denoise"]["0"]["snr_out_db"] > 3.0
    assert run["af"]["window"]["n"] + run["data"]["excluded_windows"] == N and run["af"]["window"]["af"] > 0
    assert run["metrics_equal_reference"] is True
    assert run["denoise"] == run["reference_metrics"]["denoise"] and run["af"] == run["reference_metrics"]["af"]

    for name in ("report.md", "layers.png", "arena.png", "denoise_example.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "denoise_example.png").read_bytes()[:4] == b"\x89PNG"
    if text:  # the command's printed report
        assert f"{N}/{N} vs the integer reference" in text and "metrics from device == metrics from reference: yes" in text
        assert "top 5 layers" in text and "24 dB" in text and "AF detection" in text


def pipeline_split_test():
    from edgekit.data import split_records
    return split_records()["test"]


def test_denoising_improves_at_0_db_by_an_independent_formula(runs, model_path):
    """The run's 0 dB SNR improvement equals one computed here from the reference outputs with
    the formula written out (not metrics.denoise_scores), and it is an improvement: > 3 dB for
    the committed model (an untrained stand-in model only has to give the same number)."""
    from edgekit.model.acdae import INPUT_SCALE

    rc, _, run, _ = runs("cortex-m7")
    assert rc == 0
    wl = ecg_workload(N, snrs=[float(s) for s in SNRS], noise="mixed")
    sel = np.array(wl.snr_keys) == "0"
    ws = wl.windows
    graph = load_intgraph(model_path)
    out = graph.tensors[graph.outputs[0]]
    q = reference.run(graph, ws.noisy[sel])[graph.outputs[0]].astype(np.float64)
    denoised = (q - out.zero_point) * out.scale / INPUT_SCALE
    clean = ws.target[sel].astype(np.float64)

    def snr_db(x):
        return 10 * np.log10(np.sum(clean**2, axis=(1, 2)) / np.sum((x - clean) ** 2, axis=(1, 2)))

    improvement = float(np.mean(snr_db(denoised) - snr_db(ws.noisy[sel].astype(np.float64))))
    assert run["denoise"]["0"]["snr_imp_db"] == pytest.approx(improvement, abs=1e-6)
    if model_path == COMMITTED_MODEL:
        assert improvement > 3.0, improvement


@pytest.mark.parametrize("target", TARGETS)
def test_latency_is_deterministic(runs, model_path, target):
    """The same firmware in a fresh QEMU: the first windows again give the same counts and outputs."""
    _, _, run, out = runs(target)
    wl = ecg_workload(N, snrs=[float(s) for s in SNRS], noise="mixed")
    x = wl.windows.noisy[:RERUN]
    ref = reference.run(load_intgraph(model_path), x)
    with open_device(TARGETS[target], out / run["elf"]) as dev:
        got = [dev.infer(w) for w in x]
    assert [g.count for g in got] == run["counts"][:RERUN]
    for i, g in enumerate(got):
        assert np.array_equal(g.denoised, ref["denoised"][i]) and np.array_equal(g.logits, ref["logits"][i]), i
    # each layer's count is deterministic too: a per-window layer sum never exceeds the window's
    assert all(sum(g.layer_counts) <= g.count for g in got)


def test_mismatch_gives_exit_1_and_is_reported(runs, monkeypatch, tmp_path):
    """Flip one denoised LSB of window 3 in the reference: 5/6 bit-exact, exit code 1."""
    _, _, run, out = runs("cortex-m7")
    real = pipeline._Model.reference_outputs

    def tampered(self, x):
        out = real(self, x)
        den = out[3][0].copy()
        den[0, 7] ^= 1
        out[3] = (den, out[3][1])
        return out

    monkeypatch.setattr(pipeline._Model, "reference_outputs", tampered)
    rc = _run_main(["--target", "cortex-m7", "--model", run["model"], "--elf", str(out / run["elf"]), "--windows", "6",
                    "--report", str(tmp_path), "--no-progress"])
    rec = json.loads((tmp_path / "run.json").read_text())
    assert rc == 1
    assert (rec["bit_exact"], rec["all_bit_exact"], rec["mismatched_windows"]) == (5, False, [3])
    assert "5/6" in (tmp_path / "report.md").read_text()


def test_stale_firmware_is_refused(runs, tmp_path):
    """--elf built from another model: the hello hash differs, exit 2 before any window."""
    _, _, run, out = runs("cortex-m7")
    other = _export_acdae(tmp_path / "other", seed=1)
    rc = _run_main(["--target", "cortex-m7", "--model", str(other), "--elf", str(out / run["elf"]), "--windows", "2",
                    "--report", str(tmp_path / "r"), "--no-progress"])
    assert rc == 2


def test_model_larger_than_the_target_still_runs_on_qemu_but_not_on_a_small_board(tmp_path, monkeypatch):
    """A model needing more RAM than the target's budget is a warning for a QEMU run on virt
    (4 MiB RAM) and an error for a real board; so is a board smaller than the model (HiFive1)."""
    import dataclasses

    from edgekit.compiler import toolchain
    from edgekit.model.acdae import ACDAEConfig

    model = _export_acdae(tmp_path / "m", ACDAEConfig(widths=(16, 32), strides=(2, 2), kernel=5, dec_kernel=4,
                                                      head_hidden=8))
    small = dataclasses.replace(toolchain.load_target("riscv32"), ram_bytes=8192)
    monkeypatch.setattr(toolchain, "load_target", lambda name: small if name == "riscv32" else load_target(name))
    logs = []
    out = pipeline.run(pipeline.RunConfig(target="riscv32", model=model, windows=6, report_dir=tmp_path / "r",
                                          progress=False), log=logs.append)
    assert out.run["board"] == "virt" and out.run["fits_target"] is False
    assert out.run["compile"]["ram_needed_bytes"] > 8192 and out.run["all_bit_exact"] and out.exit_code == 0
    assert any("does not fit target 'riscv32'" in m for m in logs)
    with pytest.raises(pipeline.RunError, match="does not fit target 'riscv32'"):
        pipeline.compile_for_board(model, load_board("hifive1-revb"), tmp_path / "hw", log=logs.append)
    monkeypatch.undo()  # the real budget: the target fits, the 16 KiB HiFive1 board does not
    with pytest.raises(pipeline.RunError, match=r"does not fit target 'riscv32 on board hifive1-revb'.*16,384 B"):
        pipeline.compile_for_board(COMMITTED_MODEL, load_board("hifive1-revb"), tmp_path / "hw2", log=logs.append)


def test_board_selection():
    assert pipeline.resolve_board("riscv32", None, None).name == "virt"
    assert pipeline.resolve_board("cortex-m7", None, None).name == "mps2-an500"
    assert pipeline.resolve_board("cortex-m7", None, "/dev/ttyACM0").name == "nucleo-f746zg"
    with pytest.raises(pipeline.RunError, match="--port needs --board"):
        pipeline.resolve_board("cortex-m55", None, "/dev/ttyACM0")  # no M55 board yet
    with pytest.raises(pipeline.RunError, match="real board"):
        pipeline.resolve_board(None, "nucleo-f746zg", None)
    with pytest.raises(pipeline.RunError, match="not 'cortex-m4'"):
        pipeline.resolve_board("cortex-m4", "mps2-an500", None)


@pytest.mark.parametrize("target", ["cortex-m7", "riscv32"])  # the CMSDK and the 16550 UART
def test_malformed_frames_then_real_window_correct(runs, model_path, target):
    from edgekit.harness import protocol as P

    _, _, run, out = runs(target)
    x = ecg_workload(4, snrs=[0.0]).windows.noisy
    ref = reference.run(load_intgraph(model_path), x)
    bad_crc = bytearray(P.encode_frame(P.INFER, 0x21, x[0].tobytes()))
    bad_crc[-1] ^= 0xFF
    with open_device(TARGETS[target], out / run["elf"], timeout=5.0) as dev:
        for i, (raw, code) in enumerate([(bytes(bad_crc), P.E_BAD_CRC),
                                         (P.encode_frame(P.INFER, 0x22, x[1].tobytes()[:500]), P.E_BAD_LENGTH),
                                         (P.encode_frame(0x66, 0x23, b"?"), P.E_UNKNOWN_TYPE)]):
            dev.send_raw(raw)
            while (f := dev.recv_frame(5.0)) is not None and f.type != P.ERROR:
                pass
            assert f is not None and P.decode_error(f).code == code
            got = dev.infer(x[i])
            assert np.array_equal(got.denoised, ref["denoised"][i]) and np.array_equal(got.logits, ref["logits"][i])
        assert dev.retried == 0


def test_segments_give_segment_level_af(runs, model_path, tmp_path):
    """--segments: whole 4-window segments (11.4 s), AF scored per window and per segment."""
    _, _, run, out = runs("riscv32")
    rc = _run_main(["--target", "riscv32", "--model", str(model_path), "--elf", str(out / run["elf"]), "--windows", "18",
                    "--segments", "--snr", "6", "--report", str(tmp_path), "--no-progress"])
    rec = json.loads((tmp_path / "run.json").read_text())
    assert SEGMENT // WINDOW == 4  # 18 windows round up to 5 whole segments
    assert rc == 0 and rec["windows"] == 20 and rec["bit_exact"] == 20 and rec["data"]["segments"]
    assert rec["af"]["segment"]["n"] <= 5 and rec["af"]["window"]["n"] <= 20
    assert set(rec["denoise"]) == {"6"} and rec["metrics_equal_reference"]

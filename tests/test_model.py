"""The ACDAE, QAT, export and import: shapes, a tiny training run, format errors."""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from edgekit.model.acdae import ACDAE, ACDAEConfig, transpose_padding
from edgekit.model.fakequant import ActQuant, set_qat
from edgekit.model.train import TrainConfig, train
from edgekit.ir import reference
from edgekit.quant.export import build_onnx, export_model
from edgekit.ir.format import ModelFormatError
from edgekit.ir.onnx_import import UnsupportedModelError, load_intgraph


class _Windows:
    """A stand-in WindowSet: noisy = clean sine mixture + noise, AF label from its frequency."""

    def __init__(self, n, seed, w=128, snr_range=None):
        rng = np.random.default_rng(seed)
        t = np.arange(w)
        f = rng.choice([0.02, 0.05], n)
        clean = 60 * np.sin(2 * np.pi * f[:, None, None] * t + rng.uniform(0, 6, (n, 2, 1)))
        sigma = 25 if snr_range is None else 3  # a high-SNR draw: little noise
        self.target = clean.astype(np.float32)
        self.noisy = np.clip(np.rint(clean + rng.normal(0, sigma, clean.shape)), -128, 127).astype(np.int8)
        self.af = (f > 0.03).astype(np.int8)

    def __len__(self):
        return len(self.af)

    @classmethod
    def concat(cls, *sets):
        out = cls.__new__(cls)
        for k in ("target", "noisy", "af"):
            setattr(out, k, np.concatenate([getattr(s, k) for s in sets]))
        return out


SMALL = ACDAEConfig(window=128, widths=(8, 8), strides=(2, 2), kernel=5, dec_kernel=4, head_hidden=4)


def _draw(n, seed, snr_range=None):
    return _Windows(n, seed, SMALL.window, snr_range)


def test_transpose_padding_upsamples_exactly():
    for k, s in [(8, 2), (4, 2), (9, 2), (8, 4), (6, 3)]:
        pad, op = transpose_padding(k, s)
        assert (10 - 1) * s - 2 * pad + k + op == 10 * s


def test_tiny_training_lowers_the_loss(tmp_path):
    cfg = TrainConfig(float_epochs=3, qat_epochs=1, freeze_epochs=1, windows_per_epoch=1024, batch=32,
                      lr=3e-3, model=SMALL.to_dict())
    logs = []
    model = train(cfg, _draw, tmp_path, log=logs.append)
    hist = [json.loads(line) for line in logs]
    assert hist[-2]["mse"] < 0.6 * hist[0]["mse"], hist
    assert model.qat
    # resume: a finished run has nothing left to do but still yields the same model
    again = train(cfg, _draw, tmp_path, resume=True, log=logs.append)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_qat_epochs_draw_their_share_of_high_snr_windows(tmp_path):
    cfg = TrainConfig(float_epochs=1, qat_epochs=2, windows_per_epoch=256, batch=32, model=SMALL.to_dict(),
                      qat_high_snr_fraction=0.25, snr_range=(-6.0, 24.0))
    calls = []

    def draw(n, seed, snr_range=None):
        calls.append((n, snr_range))
        return _Windows(n, seed, SMALL.window, snr_range)

    train(cfg, draw, tmp_path, log=lambda _m: None)
    # float epoch: 256 uniform; QAT: calibration (4096, uniform), then per epoch 64 at the top 40 % of
    # the SNR range + 192 uniform
    assert calls == [(256, None), (4096, None), (64, (12.0, 24.0)), (192, None), (64, (12.0, 24.0)), (192, None)]


def _random_qat_model(cfg=SMALL, seed=0):
    torch.manual_seed(seed)
    m = ACDAE(cfg)
    set_qat(m, True)
    m.train()
    for _ in range(5):
        m(torch.randn(16, cfg.in_channels, cfg.window) * 0.3)
    return m.eval()


SMALL_REFINED = ACDAEConfig(window=128, widths=(8, 8), strides=(2, 2), kernel=5, dec_kernel=4, head_hidden=4,
                            refine=1)


@pytest.mark.parametrize("cfg", [SMALL, SMALL_REFINED], ids=["plain", "refine"])
def test_export_is_checker_clean_and_reference_agrees_with_qat(tmp_path, cfg):
    m = _random_qat_model(cfg)
    path = export_model(m, tmp_path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    g = load_intgraph(path)
    x = np.random.default_rng(0).integers(-100, 100, (64, 2, SMALL.window)).astype(np.int8)
    out = reference.run(g, x)
    m = m.double()  # float64: rounding decisions follow the exact accumulators
    with torch.no_grad():
        d, _ = m(torch.from_numpy(x.astype(np.float64) / 128))
    s, z = m.out_q.qparams()
    d_qat = torch.round(d / s).numpy().astype(np.int64) + int(z)
    diff = np.abs(d_qat - out["denoised"])
    # fake quant rounds half up through the same integer weights, biases and scales as the
    # export: only a multiplier's 2**-31 truncation could flip an LSB
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.999, f"identical {(diff == 0).mean():.5f}, max {diff.max()}"


def test_fake_quant_rounds_half_up_like_the_integer_reference():
    q = ActQuant(fixed=(0.5, 0))
    q.enabled = True
    x = torch.tensor([-1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 100.0, -100.0], dtype=torch.float64)
    # x / 0.5 = -2.5 -1.5 -0.5 0.5 1.5 2.5 -> half up: -2 -1 0 1 2 3; saturation at 127 / -128
    assert (q(x) / 0.5).tolist() == [-2, -1, 0, 1, 2, 3, 127, -128]


def test_learned_ranges_keep_the_forward_exact_and_get_gradients():
    """learn_ranges (LSQ): the forward value is the EMA quantizer's, bit for bit (the integer model
    must still match), and the loss reaches lo and hi: clipped values pull the range out, the
    rounding residue of the values inside pulls on the step."""
    from edgekit.model.fakequant import learn_ranges, range_tensors

    x = torch.linspace(-3, 5, 1001, dtype=torch.float64, requires_grad=True)
    plain, learned = ActQuant(), ActQuant()
    for q in (plain, learned):
        q.enabled = True
        q.lo.fill_(-1.0), q.hi.fill_(2.0), q.seen.fill_(True)
        q.train()
    plain.frozen = True  # the same quantizer without range updates
    model = torch.nn.Sequential(learned)
    learn_ranges(model)
    assert range_tensors(model) == [learned.lo, learned.hi]
    y_plain, y_learned = plain(x), learned(x)
    assert torch.equal(y_plain, y_learned)
    assert float(learned.lo.detach()) == -1.0 and float(learned.hi.detach()) == 2.0  # learning ranges: no EMA update
    ((y_learned - x) ** 2).sum().backward()  # values beyond 2.0 are clipped: hi must grow
    assert learned.hi.grad is not None and float(learned.hi.grad) < 0
    assert learned.lo.grad is not None and float(learned.lo.grad) > 0  # and below -1.0: lo must fall


def test_tiny_qat_with_learned_ranges_moves_them_and_still_exports_exactly(tmp_path):
    cfg = TrainConfig(float_epochs=1, qat_epochs=2, freeze_epochs=1, windows_per_epoch=512, batch=32,
                      qat_lr=0.01, model=SMALL.to_dict(), learn_ranges=True)
    model = train(cfg, _draw, tmp_path, log=lambda _m: None)
    # qat_lr 0: the ranges stay where the calibration put them (learning ranges, there is no EMA)
    still = train(TrainConfig(**{**cfg.__dict__, "qat_lr": 0.0}), _draw, tmp_path / "still", log=lambda _m: None)
    moved = [abs(float(a.hi) - float(b.hi)) + abs(float(a.lo) - float(b.lo))
             for a, b in zip(model.modules(), still.modules()) if isinstance(a, ActQuant) and a.fixed is None]
    assert min(moved) > 1e-4, moved
    path = export_model(model, tmp_path)
    x = np.random.default_rng(0).integers(-100, 100, (32, 2, SMALL.window)).astype(np.int8)
    out = reference.run(load_intgraph(path), x)
    m = model.double()
    with torch.no_grad():
        d, _ = m(torch.from_numpy(x.astype(np.float64) / 128))
    s, z = m.out_q.qparams()
    diff = np.abs(torch.round(d / s).numpy().astype(np.int64) + int(z) - out["denoised"])
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.999, f"identical {(diff == 0).mean():.5f}, max {diff.max()}"


def test_interrupted_qat_with_learned_ranges_resumes_to_the_same_model(tmp_path):
    """Stopped after the first QAT epoch (learning ranges), --resume ends with the uninterrupted
    run's weights and ranges bit for bit: the ranges come back from the checkpoint with the
    optimizer state of their own group."""
    cfg = TrainConfig(float_epochs=1, qat_epochs=3, freeze_epochs=1, windows_per_epoch=256, batch=32,
                      qat_lr=0.01, model=SMALL.to_dict(), learn_ranges=True)
    whole = train(cfg, _draw, tmp_path / "whole", log=lambda _m: None)

    class Stop(Exception):
        pass

    def stop_at_second_qat_epoch(msg):
        if msg.startswith("{") and json.loads(msg)["epoch"] == 3:
            raise Stop  # before epoch 3's checkpoint: the run resumes after epoch 2, the first QAT one

    with pytest.raises(Stop):
        train(cfg, _draw, tmp_path / "cut", log=stop_at_second_qat_epoch)
    logs = []
    resumed = train(cfg, _draw, tmp_path / "cut", resume=True, log=logs.append)
    assert logs[0].startswith("resumed from") and "after epoch 2/4" in logs[0]
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_learn_ranges_in_decoder_leaves_the_encoder_on_ema(tmp_path):
    """learn_ranges_in="decoder": only the ranges after the bottleneck learn; the encoder, ECA and
    head ranges keep tracking batches by EMA. An unknown scope is named in the error."""
    cfg = TrainConfig(float_epochs=1, qat_epochs=2, freeze_epochs=1, windows_per_epoch=512, batch=32,
                      qat_lr=0.0, model=SMALL.to_dict(), learn_ranges=True, learn_ranges_in="decoder")
    model = train(cfg, _draw, tmp_path / "d", log=lambda _m: None)
    learned = sorted(n for n, m in model.named_modules() if isinstance(m, ActQuant) and m.learn)
    assert learned and all(n.split(".")[0] in ACDAE.DECODER for n in learned), learned
    assert "out_q" in learned and not any(n.startswith(("enc", "eca", "fc")) for n in learned)
    from edgekit.quant.model_card import _recipe
    assert _recipe({"config": {"learn_ranges": True, "learn_ranges_in": "decoder"}}).endswith(
        "- QAT learns the decoder's activation ranges (the encoder, ECA and AF head keep EMA ranges) by gradient "
        "(LSQ) after calibrating them on 4,096 windows.")
    with pytest.raises(ValueError, match="learn_ranges_in 'encoder'"):
        train(TrainConfig(**{**cfg.__dict__, "learn_ranges_in": "encoder"}), _draw, tmp_path / "e", log=lambda _m: None)


def test_refine_adds_one_stride1_conv_per_level():
    plain, refined = ACDAE(SMALL), ACDAE(SMALL_REFINED)
    names = [op.name for op in load_intgraph(build_onnx(_random_qat_model(SMALL_REFINED))).ops]
    assert {"enc1_r1", "enc2_r1", "dec2_r1"} <= set(names) and "dec1_r1" not in names
    x = torch.zeros(1, 2, SMALL.window)
    assert refined(x)[0].shape == plain(x)[0].shape == x.shape


def test_config_check_names_the_bad_field():
    with pytest.raises(ValueError, match="kernel 4 must be odd"):
        ACDAEConfig(kernel=4).check()
    with pytest.raises(ValueError, match="refine -1 must be >= 0"):
        ACDAEConfig(refine=-1).check()


def test_unknown_format_version_is_refused(tmp_path):
    m = build_onnx(_random_qat_model())
    onnx.helper.set_model_props(m, {"edgekit_format": "edgekit-model", "edgekit_format_version": "99"})
    with pytest.raises(ModelFormatError, match="version '99' is unknown"):
        load_intgraph(m)


def test_unsupported_op_names_node_and_supported_list():
    m = build_onnx(_random_qat_model())
    m.graph.node[3].op_type = "Cos"
    with pytest.raises(UnsupportedModelError, match=r"^Cos node '[^']+': unsupported op\. Supported ops: Quantize"):
        load_intgraph(m)


def test_activation_needing_a_table_without_qdq_is_named():
    m = build_onnx(_random_qat_model())
    node = next(n for n in m.graph.node if n.op_type == "LeakyRelu")
    node.op_type = "Tanh"
    with pytest.raises(UnsupportedModelError, match=r"^Tanh node .*only Relu, LeakyRelu and Clip fuse"):
        load_intgraph(m)


@pytest.mark.parametrize("act", ["Relu", "Clip"])
def test_relu_and_clip_after_a_conv_fold_into_its_requantize(act):
    """A Relu (zero multiplier for negative accumulators) or Clip (ReLU6-like: requantize, then
    clamp the int8 values) right after a conv, with no Q/DQ pair between: exact to onnxruntime."""
    from edgekit.ir import ort as eort
    from edgekit.ir import reference

    m = build_onnx(_random_qat_model())
    for node in [n for n in m.graph.node if n.op_type == "LeakyRelu"]:
        del node.attribute[:]
        node.op_type = act
        if act == "Clip":
            lo, hi = f"{node.name}_min", f"{node.name}_max"
            m.graph.initializer.extend([onnx.numpy_helper.from_array(np.array(0.0, np.float32), lo),
                                        onnx.numpy_helper.from_array(np.array(0.05, np.float32), hi)])
            node.input.extend([lo, hi])
    g = load_intgraph(m)
    kinds = [op.kind for op in g.ops]
    if act == "Relu":
        assert "lut" not in kinds[:3]
        assert any(op.leaky_alpha == 0.0 and not op.params["m_neg"].any() for op in g.ops)
    else:
        assert kinds[:2] == ["conv1d", "lut"]
    x = np.random.default_rng(0).integers(-128, 128, (16,) + g.tensors[g.inputs[0]].shape).astype(np.int8)
    want = eort.run_int8(g, m.SerializeToString(), {g.inputs[0]: x})
    got = reference.run(g, x)
    for t in g.outputs:
        d = np.abs(want[t].astype(int) - got[t])
        assert np.mean(d == 0) >= 0.99 and d.max() <= 2, (t, np.mean(d == 0), d.max())


def test_missing_model_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/train.py"):
        load_intgraph(tmp_path / "nope.onnx")


@pytest.mark.parametrize("cfg", [SMALL, SMALL_REFINED], ids=["plain", "refine"])
def test_layer_table_macs_match_the_integer_graph(cfg):
    m = _random_qat_model(cfg)
    g = load_intgraph(build_onnx(m))
    graph_macs = {op.name: op.macs(g.tensors) for op in g.ops if op.kind in ("conv1d", "conv_transpose1d", "dense")}
    rows = {name: macs for name, _, macs in m.layer_rows()}
    for name in ("enc1", "enc2", "dec1", "dec2", "fc1", "fc2") + (("enc1_r1", "dec2_r1") if cfg.refine else ()):
        assert rows[name] == graph_macs[name], name
    table = m.layer_table().splitlines()
    assert table[-1].split()[0] == "total"
    assert int(table[-1].split()[1].replace(",", "")) == sum(p.numel() for p in m.parameters())


def _run_script(name, args):
    import runpy
    import sys

    argv = sys.argv
    sys.argv = [name] + args
    try:
        with pytest.raises(SystemExit) as e:
            runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / name), run_name="__main__")
    finally:
        sys.argv = argv
    return e.value.code


def test_train_summary_prints_the_layer_table(capsys):
    assert _run_script("train.py", ["--summary", "--widths", "8,16", "--kernel", "5"]) == 0
    out = capsys.readouterr().out
    assert "enc1" in out and "dec2" in out and "total" in out


@pytest.mark.parametrize("script", ["train.py", "sweep.py"])
def test_bad_model_shape_is_a_usage_error(capsys, script):
    assert _run_script(script, ["--name", "x", "--kernel", "4"] if script == "sweep.py" else ["--kernel", "4"]) == 2
    assert "bad model shape: kernel 4 must be odd" in capsys.readouterr().err


def test_qat_only_run_starts_from_the_given_float_weights(tmp_path):
    cfg = TrainConfig(float_epochs=2, qat_epochs=0, windows_per_epoch=1024, batch=32, lr=3e-3, model=SMALL.to_dict())
    floated = train(cfg, _draw, tmp_path / "f", log=lambda _m: None)
    set_qat(floated, False)
    start = {k: v.clone() for k, v in floated.state_dict().items()}
    seen = {}
    qcfg = TrainConfig(float_epochs=0, qat_epochs=1, windows_per_epoch=256, batch=32, qat_lr=0.0, model=SMALL.to_dict())
    train(qcfg, _draw, tmp_path / "q", log=lambda _m: None,
          init_float=start, on_float_done=lambda m: seen.update({k: v.clone() for k, v in m.state_dict().items()}))
    assert all(torch.equal(seen[k], start[k]) for k in start)  # QAT began from exactly these weights


@pytest.mark.parametrize("script", ["train.py", "sweep.py"])
def test_bad_augmentation_is_a_usage_error(capsys, script):
    args = ["--stretch", "1.3,0.9"] + (["--name", "x"] if script == "sweep.py" else [])
    assert _run_script(script, args) == 2
    assert "bad augmentation: stretch range (1.3, 0.9)" in capsys.readouterr().err


def test_init_float_of_another_shape_is_a_usage_error(tmp_path, capsys):
    torch.save(ACDAE(SMALL).state_dict(), tmp_path / "float.pt")
    code = _run_script("train.py", ["--out", str(tmp_path / "o"), "--init-float", str(tmp_path / "float.pt"),
                                    "--float-epochs", "0"])
    assert code == 2
    assert "does not fit the model shape" in capsys.readouterr().err


@pytest.mark.parametrize("residual, flag", [(False, "--no-residual"), (True, "--residual")])
def test_init_float_of_the_other_residual_variant_names_the_flag(tmp_path, capsys, residual, flag):
    torch.save(ACDAE(ACDAEConfig(residual=residual)).state_dict(), tmp_path / "float.pt")
    args = ["--out", str(tmp_path / "o"), "--init-float", str(tmp_path / "float.pt"), "--float-epochs", "0"]
    code = _run_script("train.py", args + ([] if not residual else ["--no-residual"]))
    assert code == 2
    assert f"add {flag}" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["train.py", "sweep.py"])
@pytest.mark.parametrize("args, says", [
    (["--snr-range=12,-6"], "low 12 must be below high -6"),
    (["--snr-range", "3"], "give two numbers, LOW,HIGH"),
    (["--snr-range=-60,12"], "SNR -60 dB is outside the allowed range"),
    (["--weight-decay", "2"], "weight decay 2 must be in [0, 1)"),
])
def test_bad_training_recipe_is_a_usage_error(capsys, script, args, says):
    assert _run_script(script, args + (["--name", "x"] if script == "sweep.py" else [])) == 2
    err = capsys.readouterr().err
    assert "bad training recipe" in err and says in err


def test_qat_high_snr_fraction_out_of_range_is_a_usage_error(capsys):
    assert _run_script("train.py", ["--qat-high-snr", "1.5"]) == 2
    assert "--qat-high-snr 1.5 must be a fraction in [0, 1]" in capsys.readouterr().err


def test_sweep_gap_without_a_model_is_a_usage_error(capsys):
    assert _run_script("sweep.py", ["--name", "x", "--gap"]) == 2
    assert "--gap scores a trained model: give --model-dir DIR too" in capsys.readouterr().err


def test_extra_cinc_fraction_out_of_range_is_a_usage_error(capsys):
    assert _run_script("sweep.py", ["--name", "x", "--extra-cinc", "1.5"]) == 2
    assert "--extra-cinc 1.5 must be a fraction in [0, 1)" in capsys.readouterr().err


def test_more_training_records_than_there_are_is_a_usage_error(capsys):
    assert _run_script("sweep.py", ["--name", "x", "--train-records", "40"]) == 2
    assert "--train-records 40 must be between 1 and 33 (the training records)" in capsys.readouterr().err


def test_weight_decay_shrinks_weights_that_get_no_gradient():
    """AdamW's decoupled decay: with a zero gradient only the decay moves a weight (by lr * wd)."""
    from edgekit.model.train import _optimizer

    for wd in (0.0, 0.1):
        m = ACDAE(SMALL)
        p = next(m.parameters())
        start = p.detach().clone()
        p.grad = torch.zeros_like(p)
        _optimizer(m, TrainConfig(weight_decay=wd), lr=0.5).step()
        assert torch.allclose(p.detach(), start * (1 - 0.5 * wd))


def test_train_script_records_its_recipe(tmp_path):
    """A tiny end-to-end train.py run: the training SNR range, weight decay and the records trained on
    (--train-on-val: training + validation, never test) reach model.json and the model card."""
    from edgekit.quant.model_card import _limits, _recipe, _refit, _train_command

    out = tmp_path / "m"
    code = _run_script("train.py", ["--out", str(out), "--tiny", "--widths", "8,8", "--kernel", "5",
                                    "--dec-kernel", "4", "--snr-range=0,10", "--weight-decay", "0.01",
                                    "--qat-high-snr", "0.25", "--learn-ranges",
                                    "--train-on-val", "--threads", "1"])
    assert code == 0
    meta = json.loads((out / "model.json").read_text())
    cfg, split = meta["training"]["config"], meta["training"]["split"]
    assert cfg["snr_range"] == [0.0, 10.0] and cfg["weight_decay"] == 0.01 and cfg["qat_high_snr_fraction"] == 0.25
    assert cfg["learn_ranges"] is True
    assert _recipe(meta["training"]) == (
        "- Training input SNRs drawn uniformly from 0 to 10 dB; QAT draws 25% of its windows from 6 to 10 dB instead "
        "(it keeps the int8 model near float on nearly clean windows); AdamW weight decay 0.01.\n"
        "- QAT learns the activation ranges by gradient (LSQ) after calibrating them on 4,096 windows.")
    assert meta["training"]["trained_on"] == split["train"] + split["val"]
    assert not set(meta["training"]["trained_on"]) & set(split["test"])
    assert _refit(meta["training"], split).startswith(f"- Trained on the training and validation records ({sorted(split['val'])[0]}")
    assert (out / "model.onnx").is_file() and not (out / "checkpoint.pt").exists()
    cmd = meta["training"]["command"]
    assert cmd.startswith(f"python scripts/train.py --out {out} --tiny") and "--qat-high-snr 0.25 --learn-ranges --train-on-val" in cmd
    assert _train_command(out, meta["training"]) == cmd
    assert _limits(meta["training"], split).startswith(f"Trained on {len(split['train']) + len(split['val'])} MIT-BIH")


def test_model_card_rebuilds_the_training_command_of_older_models():
    """Sidecars from before train.py recorded its command line: rebuilt from the config, where a
    missing QAT share means the uniform QAT of that time, not today's default."""
    from edgekit.quant.model_card import _train_command

    old = {"split": {"train": ["100"]}, "trained_on": ["100", "121"],
           "config": {"float_epochs": 18, "qat_epochs": 4, "threads": 1}}
    assert _train_command(Path("models/acdae"), old) == (
        "python scripts/train.py --out models/acdae --train-on-val --qat-epochs 4 --qat-high-snr 0 --threads 1")
    learned = {**old, "config": {**old["config"], "qat_high_snr_fraction": 0.25, "learn_ranges": True}}
    assert _train_command(Path("m"), learned) == (
        "python scripts/train.py --out m --train-on-val --qat-epochs 4 --threads 1 --learn-ranges")
    decoder = {**learned, "config": {**learned["config"], "learn_ranges_in": "decoder"}}
    assert _train_command(Path("m"), decoder).endswith("--learn-ranges --learn-ranges-in decoder")
    plain = {**old, "config": {**old["config"], "model": {**ACDAEConfig().to_dict(), "residual": False}}}
    assert _train_command(Path("m"), plain).endswith("--threads 1 --no-residual")
    recorded = {**old, "command": "python scripts/train.py --out models/acdae --train-on-val --threads 1"}
    assert _train_command(Path("models/acdae"), recorded) == recorded["command"]


def test_quantizer_ablation_attributes_the_int8_loss_and_restores_the_model():
    from edgekit.model.fakequant import ActQuant
    from edgekit.quant.ablation import format_ablation, quantizer_ablation

    m = _random_qat_model().double().eval()
    x = torch.randn(8, SMALL.in_channels, SMALL.window, dtype=torch.float64) * 0.3
    with torch.no_grad():
        set_qat(m, False)
        exact = m(x)[0]
        set_qat(m, True)

    def score(model):  # minus the error to the unquantized model: 0 with every quantizer off
        with torch.no_grad():
            return -float(((model(x)[0] - exact) ** 2).mean())

    res = quantizer_ablation(m, score)
    names = [n for n, q in m.named_modules() if isinstance(q, ActQuant)]
    assert sorted(r["name"] for r in res["quantizers"]) == sorted(names)
    assert res["qat_weights_in_float"] == 0.0  # every quantizer off: the float forward pass itself
    assert res["qat"] == score(m) < 0.0  # and the model is back as it was: every quantizer on
    assert all(isinstance(q, ActQuant) and q.enabled for n, q in m.named_modules() if n in names)
    assert res["quantizers"][0]["alone"] < 0.0  # the costliest grid costs something
    assert [r["alone"] for r in res["quantizers"]] == sorted(r["alone"] for r in res["quantizers"])
    assert "QAT, every quantizer (int8)" in format_ablation(res, 1.0)
    set_qat(m, False)
    with pytest.raises(ValueError, match="no enabled activation quantizer"):
        quantizer_ablation(m, score)


@pytest.mark.parametrize("args, says", [
    (["--ablate"], "--ablate takes a trained model apart: give --model-dir DIR too"),
    (["--ablate", "pink,0", "--model-dir", "models/acdae"], "--ablate pink,0: give NOISE,SNR"),
    (["--ablate", "mixed,3", "--model-dir", "models/acdae"], "SNR one of -6, 0, 6, 12, 18, 24"),
])
def test_bad_ablation_is_a_usage_error(capsys, args, says):
    assert _run_script("sweep.py", ["--name", "x"] + args) == 2
    assert says in capsys.readouterr().err

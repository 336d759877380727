"""Training recipe: float pre-training -> (BN fold: ACDAE has no BN) -> QAT fine-tuning with
EMA activation ranges that are frozen for the last QAT epochs.

QAT draws a share of its windows (`qat_high_snr_fraction`, default 0.25) from the top 40 % of the
training SNR range (12-24 dB for the default -6..24). Drawing like the float phase (0), the int8
model lost up to 0.93 dB to float at 24 dB input: a nearly clean window needs small, exact
corrections, and int8 activations are coarse next to them. With a quarter of the QAT windows at
12-24 dB and 8 QAT epochs every noise and SNR stays within 0.5 dB of float (docs/experiments.md,
"Which windows QAT trains on").
With `learn_ranges` QAT trains the activation ranges by gradient (LSQ) after the calibration: it
narrows the int8 loss at 0 dB and at high SNR but clips the loudest (-6 dB) windows; off by default
(docs/experiments.md, "Learned activation ranges").

Windows are drawn afresh every epoch (new records offsets, noise segments, kinds and SNRs),
which is cheap (the data layer mixes > 20k windows/s) and works as augmentation. Epoch i of each
phase uses seed i, so QAT from a saved float.pt (`--float-epochs 0`) repeats the full run's QAT.
A checkpoint is written after every epoch, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .acdae import ACDAE, ACDAEConfig
from .config import LEARN_RANGES_IN, TrainConfig  # noqa: F401  (re-exported)
from .checkpoint import CheckpointError, load_checkpoint
from .fakequant import freeze_ranges, learn_ranges, range_tensors, set_qat


def _learn_ranges(model: ACDAE, cfg: TrainConfig) -> None:
    """QAT from here on: with cfg.learn_ranges, the ranges in cfg.learn_ranges_in learn by gradient."""
    if cfg.learn_ranges:
        learn_ranges(model, only=None if cfg.learn_ranges_in == "all" else ACDAE.DECODER)


def high_snr_range(snr_range) -> tuple[float, float]:
    """The top 40 % of snr_range, where QAT draws its qat_high_snr_fraction of windows."""
    lo, hi = snr_range
    return (lo + 0.6 * (hi - lo), hi)


def to_model_units(q: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(q.astype(np.float32) / 128.0)


def loss_fn(model, noisy, target, af, class_weight, af_weight):
    """Denoising: the mean over windows of log(MSE), i.e. minus the mean output SNR (up to a
    constant): a plain MSE lets the noisiest windows dominate and the model then strips real
    low-frequency ECG (P and T waves) from clean windows. AF: weighted cross-entropy."""
    den, logits = model(noisy)
    per_window = ((den - target) ** 2).mean(dim=(1, 2))
    mse = per_window.mean()
    log_mse = torch.log(per_window + 1e-6).mean()
    mask = af >= 0
    ce = F.cross_entropy(logits[mask], af[mask], weight=class_weight) if mask.any() else den.new_zeros(())
    return log_mse + af_weight * ce, mse.detach(), ce.detach()


_CHECKPOINT_KEYS = ("model", "opt", "epoch", "qat", "history_json", "plan_len", "torch_rng")


def _epoch_plan(cfg: TrainConfig):
    plan = [("float", i) for i in range(cfg.float_epochs)] + [("qat", i) for i in range(cfg.qat_epochs)]
    return plan


def train(cfg: TrainConfig, draw_windows: Callable[..., object], out_dir: str | Path,
          val_windows=None, resume: bool = False, log: Callable[[str], None] = print,
          on_float_done: Callable[[ACDAE], None] | None = None, init_float: dict | None = None) -> ACDAE:
    """Train an ACDAE. draw_windows(n, seed, snr_range=None) returns a WindowSet (noisy int8, target,
    af) at input SNRs drawn from snr_range (None: cfg.snr_range, as the caller set it up).
    on_float_done(model) is called once with the float model before QAT starts.
    init_float: a float state dict to start from (with float_epochs=0: QAT fine-tuning only)."""
    if cfg.learn_ranges_in not in LEARN_RANGES_IN:  # checked before a long float phase, not after it
        raise ValueError(f"learn_ranges_in {cfg.learn_ranges_in!r}: expected one of {', '.join(LEARN_RANGES_IN)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    model = ACDAE(ACDAEConfig.from_dict(cfg.model))
    if init_float is not None:
        model.load_state_dict(init_float)
    opt = _optimizer(model, cfg, cfg.lr)
    plan = _epoch_plan(cfg)
    start, history = 0, []
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.exists():
        state = load_checkpoint(ckpt, _CHECKPOINT_KEYS)  # weights_only: a planted pickle is refused
        if state["plan_len"] != len(plan):
            raise CheckpointError(f"{ckpt} was written with another epoch plan; delete it or drop --resume")
        if state["qat"]:
            set_qat(model, True)
            _learn_ranges(model, cfg)
        model.load_state_dict(state["model"])
        opt = _optimizer(model, cfg, cfg.lr)
        opt.load_state_dict(state["opt"])
        start, history = int(state["epoch"]) + 1, json.loads(state["history_json"])
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed from {ckpt} after epoch {start}/{len(plan)}")
    for epoch in range(start, len(plan)):
        phase, i = plan[epoch]
        if phase == "qat" and not model.qat:
            if on_float_done is not None:
                on_float_done(model)
            set_qat(model, True)
            _calibrate(model, draw_windows(4096, cfg.seed + 10_000), cfg.batch)
            _learn_ranges(model, cfg)
            opt = _optimizer(model, cfg, cfg.qat_lr)
        if phase == "qat" and i >= cfg.qat_epochs - cfg.freeze_epochs:
            freeze_ranges(model)
        lr = _lr(cfg, phase, i)
        for gpar in opt.param_groups:
            gpar["lr"] = lr
        # seeded by the index within the phase: QAT from a saved float.pt (--float-epochs 0) draws
        # the same windows as the QAT of the full run, so the two give the same model bit for bit
        ws = _draw_epoch(cfg, draw_windows, phase, cfg.seed * 1000 + i)
        stats = _run_epoch(model, opt, ws, cfg, f"{phase} {i + 1}", True)
        row = {"epoch": epoch + 1, "phase": phase, "lr": lr, **stats}
        if val_windows is not None:
            row.update({f"val_{k}": v for k, v in _run_epoch(model, None, val_windows, cfg, "val", False).items()})
        history.append(row)
        log(json.dumps(row))
        # tensors, numbers and strings only, so that resuming needs no unpickling (load_checkpoint)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch, "qat": bool(model.qat),
                    "history_json": json.dumps(history), "plan_len": len(plan),
                    "torch_rng": torch.get_rng_state()}, ckpt)
    if not model.qat:  # a float-only run still ends as a quantizable model
        if on_float_done is not None:
            on_float_done(model)
        set_qat(model, True)
        _calibrate(model, draw_windows(4096, cfg.seed + 10_000), cfg.batch)
    freeze_ranges(model)
    model.eval()
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    return model


def _draw_epoch(cfg: TrainConfig, draw_windows, phase: str, seed: int):
    """One epoch's windows; a QAT epoch takes qat_high_snr_fraction of them at high_snr_range(snr_range)."""
    n = cfg.windows_per_epoch
    n_high = int(round(n * cfg.qat_high_snr_fraction)) if phase == "qat" else 0
    if n_high == 0:
        return draw_windows(n, seed)
    # seed + 555: a stream of its own, not a copy of the uniform draw's random numbers
    high = draw_windows(n_high, seed + 555, snr_range=high_snr_range(cfg.snr_range))
    if n_high == n:
        return high
    return type(high).concat(draw_windows(n - n_high, seed), high)  # epochs shuffle their windows


def _optimizer(model, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    groups = [{"params": list(model.parameters())}]
    ranges = range_tensors(model)
    if ranges:  # learned activation ranges: no weight decay
        groups.append({"params": ranges, "weight_decay": 0.0})
    if cfg.weight_decay:
        return torch.optim.AdamW(groups, lr=lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(groups, lr=lr)


def _lr(cfg: TrainConfig, phase: str, i: int) -> float:
    """Cosine decay within each phase."""
    n, base = (cfg.float_epochs, cfg.lr) if phase == "float" else (cfg.qat_epochs, cfg.qat_lr)
    return float(base * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * i / max(n, 1)))))


@torch.no_grad()
def _calibrate(model: ACDAE, ws, batch: int) -> None:
    """Set the EMA ranges from real windows before QAT starts updating weights."""
    model.train()
    for s in range(0, len(ws), batch * 4):
        model(to_model_units(ws.noisy[s : s + batch * 4]))


def _run_epoch(model, opt, ws, cfg: TrainConfig, desc: str, training: bool) -> dict:
    model.train(training)
    n = len(ws)
    order = np.random.default_rng(cfg.seed).permutation(n) if training else np.arange(n)
    af_all = ws.af[ws.af >= 0]
    pos = max(float((af_all == 1).mean()) if len(af_all) else 0.5, 1e-3)
    class_weight = torch.tensor([0.5 / (1 - pos), 0.5 / pos], dtype=torch.float32).clamp(max=10.0)
    tot = {"loss": 0.0, "mse": 0.0, "ce": 0.0}
    t0 = time.time()
    steps = 0
    bar = tqdm(range(0, n, cfg.batch), desc=desc, leave=False, mininterval=2.0, disable=not training)
    for s in bar:
        idx = order[s : s + cfg.batch]
        noisy = to_model_units(ws.noisy[idx])
        target = torch.from_numpy(ws.target[idx].astype(np.float32) / 128.0)
        af = ws.af[idx].astype(np.int64)
        snr = getattr(ws, "snr_db", None)
        if snr is not None:  # below this SNR the window's rhythm is buried: no AF label
            af = np.where(np.asarray(snr[idx]) >= cfg.af_min_snr_db, af, -1)
        af = torch.from_numpy(af)
        with torch.set_grad_enabled(training):
            loss, mse, ce = loss_fn(model, noisy, target, af, class_weight, cfg.af_weight)
        if training:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        tot["loss"] += float(loss.detach())
        tot["mse"] += float(mse)
        tot["ce"] += float(ce)
        steps += 1
        if training and steps % 50 == 0:
            bar.set_postfix(loss=f"{tot['loss'] / steps:.4f}")
    out = {k: v / max(steps, 1) for k, v in tot.items()}
    out["windows_per_s"] = n / max(time.time() - t0, 1e-9)
    return out

"""Train the ACDAE (float pre-training, then QAT) and export the frozen int8 model.

    python scripts/train.py --out models/acdae            # the shipped model
    python scripts/train.py --out build/tiny --tiny       # a one-minute smoke run
    python scripts/train.py --out OUT --databases qtdb,svdb,vfdb --rhythm-share 0.5   # with the other databases' patients
    python scripts/train.py --out models/acdae --resume   # continue after an interruption
    python scripts/train.py --out OUT2 --init-float OUT/float.pt --float-epochs 0 --qat-epochs 8   # QAT only

Writes OUT/model.onnx + model.json (frozen int8 QDQ model and sidecar), float.pt and qat.pt
(torch weights for evaluation), train.log, history.json, checkpoint.pt (removed at the end).
An OUT folder that already holds files is refused unless --force (or --resume) is given.
Needs torch (pip install edgekit[train]); it is imported after the options are parsed.
"""
import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from edgekit.cli import (add_augment_args, add_common_args, add_model_shape_args, add_recipe_args, augment,
                         command_line, fail, main_guard, model_shape, recipe, setup_logging)
from edgekit.model.config import LEARN_RANGES_IN, ACDAEConfig, TrainConfig  # no torch


def main(argv=None):
    p = argparse.ArgumentParser(prog="edgekit train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", help="PhysioNet data directory (default: $EDGEKIT_DATA or ../shared/data)")
    p.add_argument("--out", default="models/acdae", help="output folder for the model (default %(default)s)")
    p.add_argument("--force", action="store_true", help="write into an --out folder that already holds files")
    p.add_argument("--name", default="acdae", help="the model's name (in model.onnx and model.h)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split, window draws and weights")
    p.add_argument("--float-epochs", type=int, default=TrainConfig.float_epochs, help="float pre-training epochs")
    p.add_argument("--qat-epochs", type=int, default=TrainConfig.qat_epochs, help="quantization-aware epochs")
    p.add_argument("--windows-per-epoch", type=int, default=TrainConfig.windows_per_epoch,
                   help="training windows drawn afresh each epoch")
    p.add_argument("--lr", type=float, default=TrainConfig.lr,
                   help="float phase's peak learning rate (cosine decay); lower it to fine-tune from --init-float")
    add_model_shape_args(p)
    add_augment_args(p)
    add_recipe_args(p)
    p.add_argument("--qat-high-snr", type=float, default=TrainConfig.qat_high_snr_fraction, metavar="FRACTION",
                   help="share of each QAT epoch's windows drawn from the top 40%% of --snr-range (12-24 dB by "
                        "default): it keeps the int8 model near float on nearly clean windows (docs/experiments.md, "
                        "'Which windows QAT trains on'); 0: QAT draws like the float phase")
    p.add_argument("--learn-ranges", action=argparse.BooleanOptionalAction, default=TrainConfig.learn_ranges,
                   help="QAT learns the activation ranges by gradient (LSQ) after calibration; "
                        "--no-learn-ranges: it tracks each batch's min/max by EMA")
    p.add_argument("--learn-ranges-in", choices=LEARN_RANGES_IN, default=TrainConfig.learn_ranges_in,
                   help="with --learn-ranges: learn every range, or only the decoder's (the encoder, ECA and "
                        "AF head keep EMA ranges)")
    p.add_argument("--threads", type=int, default=TrainConfig.threads,
                   help="torch threads (use 1 on a busy machine: oversubscribed threads spin)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--init-float", metavar="FLOAT_PT",
                   help="start from these float weights (a float.pt of the same shape); with --float-epochs 0 "
                        "this runs QAT fine-tuning only")
    p.add_argument("--train-on-val", action="store_true",
                   help="train on the validation records too (a final refit once the recipe is chosen on them; "
                        "the test records stay held out)")
    p.add_argument("--databases", default="", metavar="DB,DB",
                   help="also train on the training patients of these databases (of qtdb,svdb,vfdb; "
                        "edgekit.data.cross_database_split); their validation and test patients stay held out, "
                        "also with --train-on-val")
    p.add_argument("--rhythm-share", type=float, default=None, metavar="FRACTION",
                   help="with --databases: share of the windows drawn from the rhythm-annotated patients (mitdb, "
                        "vfdb), the rest from the denoising-only ones (qtdb, svdb), uniform per patient within "
                        "each; default: uniform over all patients")
    p.add_argument("--export-checkpoint", action="store_true",
                   help="stop a run early: export OUT/checkpoint.pt as it stands (a QAT checkpoint; its activation "
                        "ranges frozen) with the same arguments as the run, instead of training on")
    p.add_argument("--tiny", action="store_true", help="a tiny run for smoke tests")
    p.add_argument("--summary", action="store_true", help="print parameters and MACs per layer, then stop")
    add_common_args(p)
    a = p.parse_args(argv)
    setup_logging(a)

    model_cfg = model_shape(p, a)
    aug = augment(p, a)
    rec = recipe(p, a)
    out = Path(a.out)
    if not a.summary:
        if not 0.0 <= a.qat_high_snr <= 1.0:
            p.error(f"--qat-high-snr {a.qat_high_snr:g} must be a fraction in [0, 1]")
        if a.learn_ranges_in != TrainConfig.learn_ranges_in and not a.learn_ranges:
            p.error(f"--learn-ranges-in {a.learn_ranges_in} needs --learn-ranges (without it QAT learns no ranges)")
        if a.rhythm_share is not None and not 0.0 < a.rhythm_share < 1.0:
            p.error(f"--rhythm-share {a.rhythm_share:g} must be a fraction in (0, 1)")
        if out.is_dir() and any(out.iterdir()) and not (a.force or a.resume or a.export_checkpoint):
            fail(f"--out {out} already holds a model (or other files); give another --out, --force to "
                 "overwrite, or --resume to continue its run")
    import torch  # edgekit[train]: imported after parsing, so --help needs no torch

    from edgekit.data import (DATABASES, cross_database_split, resolve_data_dir, rhythm_share_weights,
                              sample_training_windows, split_records)
    from edgekit.model.acdae import ACDAE
    from edgekit.model.train import train
    from edgekit.quant.export import export_model
    if a.summary:
        print(ACDAE(model_cfg).layer_table())
        return
    databases = [d for d in a.databases.split(",") if d]
    bad = [d for d in databases if d not in DATABASES]
    if bad:
        p.error(f"--databases {a.databases}: unknown {', '.join(bad)}; choose from {','.join(DATABASES)}")
    init = _init_float(p, a.init_float, model_cfg) if a.init_float else None
    data_dir = resolve_data_dir(a.data_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(float_epochs=a.float_epochs, qat_epochs=a.qat_epochs, windows_per_epoch=a.windows_per_epoch,
                      lr=a.lr, seed=a.seed, threads=a.threads, model=model_cfg.to_dict(), qat_high_snr_fraction=a.qat_high_snr,
                      learn_ranges=a.learn_ranges, learn_ranges_in=a.learn_ranges_in,
                      augment=aug.to_dict(), **rec)
    if a.tiny:
        cfg.float_epochs, cfg.qat_epochs, cfg.windows_per_epoch = 2, 1, 2048
    split = split_records(data_dir, seed=a.seed)
    log_file = (out / "train.log").open("a")

    def log(msg: str):
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    log(f"data {data_dir}; train records {split['train']}; val {split['val']}; test {split['test']}")
    log(f"config {json.dumps(asdict(cfg))}")
    log("layers\n" + ACDAE(model_cfg).layer_table())
    xdb = {s: [r for r in v if r.split("/", 1)[0] in databases]
           for s, v in cross_database_split(data_dir, seed=a.seed).items()} if databases else None
    if xdb:
        log(f"cross-database patients ({','.join(databases)}): train {xdb['train']}; val {xdb['val']}; "
            f"test {xdb['test']}")
    fit_records = split["train"] + (split["val"] if a.train_on_val else []) + (xdb["train"] if xdb else [])
    weights = rhythm_share_weights(fit_records, a.rhythm_share)
    if a.train_on_val:
        log(f"training on the training and validation records ({len(fit_records)}): the validation loss "
            "below is not held out; the test records still are")

    def draw(n, seed, snr_range=None):
        return sample_training_windows(data_dir, fit_records, n, seed=seed, snr_range=snr_range or cfg.snr_range,
                                       augment=aug, weights=weights)

    extra = {"split": split, "seed": a.seed, "cross_database_split": xdb, "rhythm_share": a.rhythm_share,
             "trained_on": fit_records, "init_float": a.init_float, "command": command_line("train.py", argv),
             "config": asdict(cfg)}
    if a.export_checkpoint:
        return _export_checkpoint(p, out, cfg, a.name, extra, log)

    val = sample_training_windows(data_dir, split["val"] + (xdb["val"] if xdb else []), 2048 if a.tiny else 8192,
                                  seed=a.seed + 7, part="test")
    t0 = time.time()
    if init is not None:
        log(f"float weights from {a.init_float}")
    model = train(cfg, draw, out, val_windows=val, resume=a.resume, log=log, init_float=init,
                  on_float_done=lambda m: torch.save(m.state_dict(), out / "float.pt"))
    torch.save(model.state_dict(), out / "qat.pt")
    path = export_model(model, out, name=a.name, extra={"training": {"seconds": round(time.time() - t0, 1),
                                                                     **extra}})
    (out / "checkpoint.pt").unlink(missing_ok=True)
    log(f"exported {path} ({path.stat().st_size} bytes) in {time.time() - t0:.0f} s")


def _export_checkpoint(p, out: Path, cfg: TrainConfig, name: str, extra: dict, log) -> None:
    """Export OUT/checkpoint.pt (written after each epoch) as the run's model, its ranges frozen."""
    import torch

    from edgekit.model.acdae import ACDAE
    from edgekit.model.checkpoint import load_checkpoint
    from edgekit.model.fakequant import freeze_ranges, set_qat
    from edgekit.model.train import _CHECKPOINT_KEYS
    from edgekit.quant.export import export_model

    ckpt = out / "checkpoint.pt"
    if not ckpt.is_file():
        p.error(f"--export-checkpoint: {ckpt} does not exist (the run writes it after each epoch)")
    state = load_checkpoint(ckpt, _CHECKPOINT_KEYS)
    if not state["qat"]:
        p.error(f"--export-checkpoint: {ckpt} is from the float phase (epoch {int(state['epoch']) + 1}); "
                "wait for a QAT epoch")
    model = ACDAE(ACDAEConfig.from_dict(cfg.model))
    set_qat(model, True)
    model.load_state_dict(state["model"])
    freeze_ranges(model)
    model.eval()
    torch.save(model.state_dict(), out / "qat.pt")
    (out / "history.json").write_text(json.dumps(json.loads(state["history_json"]), indent=1) + "\n")
    done = int(state["epoch"]) + 1
    extra = {**extra, "stopped_after_epoch": done, "planned_epochs": int(state["plan_len"])}
    path = export_model(model, out, name=name, extra={"training": extra})
    log(f"exported {path} from {ckpt}: stopped after epoch {done} of {int(state['plan_len'])}")


def _init_float(p, path: str, model_cfg: ACDAEConfig) -> dict:
    """The float state dict at `path`, checked against the model shape before any data is read."""
    from edgekit.model.acdae import ACDAE
    from edgekit.model.checkpoint import load_torch_file
    state = load_torch_file(path, "--init-float weights")
    try:
        ACDAE(model_cfg).load_state_dict(state)
    except RuntimeError as e:
        flipped = replace(model_cfg, residual=not model_cfg.residual)
        try:  # the same widths without (or with) the input skip: name the flag that fits
            ACDAE(flipped).load_state_dict(state)
        except RuntimeError:
            pass
        else:
            flag = "--residual" if flipped.residual else "--no-residual"
            p.error(f"--init-float {path} is a {'residual' if flipped.residual else 'non-residual'} model "
                    f"(trained {'with' if flipped.residual else 'without'} the input skip): add {flag}")
        p.error(f"--init-float {path} does not fit the model shape {model_cfg.widths}: {str(e).splitlines()[0]}")
    return state


if __name__ == "__main__":
    main_guard(main)

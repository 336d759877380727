#!/usr/bin/env python3
"""Short float-only training runs to compare model shapes, training recipes and training data,
scored on the validation records.

    python scripts/sweep.py --name deep6 --widths 16,32,48,48,64,64 --kernel 9 --dec-kernel 8
    python scripts/sweep.py --name k15 --kernel 15 --epochs 5 --windows-per-epoch 40000
    python scripts/sweep.py --name stretch --stretch 0.8,1.25          # with training augmentation
    python scripts/sweep.py --name low --snr-range=-6,12                # train on low input SNRs only
    python scripts/sweep.py --name cinc --extra-cinc 0.3 --windows-per-epoch 57143   # + CinC patients
    python scripts/sweep.py --name p16 --train-records 16               # fewer patients: a learning curve
    python scripts/sweep.py --name shipped --model-dir models/acdae   # score a trained model (float and int8)
    python scripts/sweep.py --name shipped --model-dir models/acdae --records train   # memorization gap
    python scripts/sweep.py --name shipped --model-dir models/acdae --noise-part train  # seen noise
    python scripts/sweep.py --name shipped --model-dir models/acdae --gap   # int8 vs float, every noise and SNR
    python scripts/sweep.py --name shipped --model-dir models/acdae --ablate mixed,0   # which int8 tensors cost

Each run trains the float model only (no QAT: choices are compared, not quantization), then
prints one JSON line: SNR improvement (dB) on the validation records at 0 dB mixed, bw, em and
ma noise, at -6, 12 and 24 dB mixed, and on clean input (with --model-dir: for its float and int8 forms;
with --gap too: every noise at every SNR of the acceptance grid, 32 windows per record, and the largest
int8-vs-float difference).
Appends the line to --log as well. With --ablate it prints a table instead (float, QAT in float, int8,
then the costliest activation quantizers) and logs it as one JSON line. The test records are never used
here, so choosing a shape with this script leaves them held out.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.cli import (add_augment_args, add_model_shape_args, add_recipe_args, augment, model_shape,  # noqa: E402
                         recipe, run_main)

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from edgekit import metrics  # noqa: E402
from edgekit.data import (NOISE_KINDS, WindowSet, evaluation_windows, resolve_data_dir,  # noqa: E402
                          sample_pool_windows, sample_training_windows, split_records)
from edgekit.data.cinc2017 import cinc_clean_pool  # noqa: E402
from edgekit.model.acdae import ACDAE, ACDAEConfig  # noqa: E402
from edgekit.model.fakequant import set_qat  # noqa: E402
from edgekit.model.train import TrainConfig, train  # noqa: E402
from edgekit.quant.ablation import activation_quantizers, format_ablation, quantizer_ablation  # noqa: E402
from edgekit.quant.evaluate import SNRS  # noqa: E402
from edgekit.quant.runners import IntModel, load_torch, run_torch  # noqa: E402

CONDITIONS = [("mixed", 0), ("bw", 0), ("em", 0), ("ma", 0), ("mixed", -6), ("mixed", 12), ("mixed", 24),
              (None, None)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--data-dir")
    add_model_shape_args(p)
    add_augment_args(p)
    add_recipe_args(p)
    p.add_argument("--extra-cinc", type=float, default=0.0, metavar="FRACTION",
                   help="draw this fraction of each epoch's windows from the CinC 2017 'O' records (other "
                        "patients: one AliveCor lead in both channels) instead of the mitdb training records")
    p.add_argument("--train-records", type=int, metavar="N",
                   help="train on N of the training records only (a seeded random subset): how quality grows "
                        "with the number of patients")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--windows-per-epoch", type=int, default=40_000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="build/sweep", help="checkpoints go to OUT/NAME")
    p.add_argument("--log", default="build/sweep/results.jsonl")
    p.add_argument("--model-dir", help="score this trained model (float and int8 forms) instead of training")
    p.add_argument("--records", choices=("val", "train"), default="val",
                   help="score on the validation records (default) or on the training records, to measure "
                        "how much of the score is memorized patients")
    p.add_argument("--noise-part", choices=("test", "train"), default="test",
                   help="noise from the held-out part of each noise record (default) or the training part")
    p.add_argument("--gap", action="store_true",
                   help="with --model-dir: score float and int8 at every noise and SNR (-6..24 dB) and report the "
                        "largest int8-vs-float difference")
    p.add_argument("--ablate", nargs="?", const="mixed,0", metavar="NOISE,SNR",
                   help="with --model-dir: at this noise and input SNR (default mixed,0) score the QAT model with "
                        "its activation quantizers switched on one at a time and off one at a time: which int8 "
                        "tensors cost, and how much QAT fine-tuning itself moved (edgekit.quant.ablation)")
    a = p.parse_args(argv)
    cfg = model_shape(p, a)
    aug = augment(p, a)
    rec = recipe(p, a)
    if not 0.0 <= a.extra_cinc < 1.0:
        p.error(f"--extra-cinc {a.extra_cinc:g} must be a fraction in [0, 1)")

    data = resolve_data_dir(a.data_dir)
    split = split_records(data)
    if a.train_records is not None:
        n_train = len(split["train"])
        if not 1 <= a.train_records <= n_train:
            p.error(f"--train-records {a.train_records} must be between 1 and {n_train} (the training records)")
        pick = np.random.default_rng(0).permutation(n_train)[: a.train_records]
        split["train"] = sorted(split["train"][i] for i in pick)
    if a.gap and not a.model_dir:
        p.error("--gap scores a trained model: give --model-dir DIR too")
    if a.ablate is not None:
        if not a.model_dir:
            p.error("--ablate takes a trained model apart: give --model-dir DIR too")
        return _ablate(_noise_and_snr(p, a.ablate), data, split[a.records], a)
    if a.model_dir:
        forms = {"float": lambda x, m=load_torch(a.model_dir, "float"): run_torch(m, x)[0],
                 "int": lambda x, m=IntModel(Path(a.model_dir) / "model.onnx"): m(x)[0]}
        return _report({"name": a.name, "model_dir": a.model_dir}, forms, data, split[a.records], a)
    tcfg = TrainConfig(float_epochs=a.epochs, qat_epochs=0, windows_per_epoch=a.windows_per_epoch,
                       threads=a.threads, model=cfg.to_dict(), augment=aug.to_dict(), **rec)
    pool = cinc_clean_pool(data) if a.extra_cinc else ()

    def draw(n, seed):
        n_extra = int(round(n * a.extra_cinc))
        ws = sample_training_windows(data, split["train"], n - n_extra, seed=seed, snr_range=tcfg.snr_range,
                                     augment=aug)
        if not n_extra:
            return ws
        # seed + 777: a stream of its own, not a copy of the mitdb draws' random numbers
        extra = sample_pool_windows(data, pool, n_extra, seed + 777, "cinc2017", snr_range=tcfg.snr_range)
        return WindowSet.concat(ws, extra)  # training shuffles every epoch

    t0 = time.time()
    model = train(tcfg, draw, Path(a.out) / a.name, log=lambda _msg: None)
    set_qat(model, False)  # a float-only run ends calibrated for QAT; score the float model
    row = {"name": a.name, "widths": cfg.widths, "kernel": a.kernel, "dec_kernel": a.dec_kernel, "refine": a.refine,
           **({"residual": False} if not cfg.residual else {}), "augment": aug.to_dict(), **_recipe_changes(tcfg),
           "epochs": a.epochs,
           **({"extra_cinc": a.extra_cinc} if a.extra_cinc else {}),
           **({"train_records": split["train"]} if a.train_records is not None else {}),
           "windows_per_epoch": a.windows_per_epoch,
           "macs": sum(r[2] for r in ACDAE(cfg).layer_rows()), "train_s": round(time.time() - t0)}
    _report(row, {"float": lambda x: run_torch(model.eval(), x)[0]}, data, split[a.records], a)


def _noise_and_snr(p, text: str) -> tuple[str, int]:
    noise, _, snr = text.partition(",")
    if noise not in NOISE_KINDS or snr not in {str(s) for s in SNRS}:
        p.error(f"--ablate {text}: give NOISE,SNR with NOISE one of {', '.join(NOISE_KINDS)} and SNR one of "
                f"{', '.join(map(str, SNRS))} (e.g. mixed,0)")
    return noise, int(snr)


def _ablate(cond, data, records, a):
    """Print and log which activation quantizers of the model at --model-dir cost at cond (noise, SNR)."""
    noise, snr = cond
    ws = evaluation_windows(data, records, noise, snr, per_record=32, seed=5, part=a.noise_part)

    def score(model):
        return metrics.denoise_scores(ws.target, ws.noisy, run_torch(model, ws.noisy)[0])["snr_imp_db"]

    float_score = score(load_torch(a.model_dir, "float"))
    qat = load_torch(a.model_dir, "qat")
    bar = tqdm(desc="ablation", total=2 * len(activation_quantizers(qat)), leave=False)
    result = quantizer_ablation(qat, score, progress=lambda _step: bar.update(1))
    bar.close()
    print(format_ablation(result, float_score))
    row = {"name": a.name, "model_dir": a.model_dir, "ablate": f"{noise},{snr}", "records": a.records,
           "float": round(float_score, 3), "qat_weights_in_float": round(result["qat_weights_in_float"], 3),
           "qat": round(result["qat"], 3),
           "quantizers": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
                          for r in result["quantizers"]]}
    _append_to_log(a.log, json.dumps(row))


def _recipe_changes(tcfg) -> dict:
    """The recipe fields that differ from TrainConfig's defaults (for the result line)."""
    base = TrainConfig()
    return {k: getattr(tcfg, k) for k in ("snr_range", "weight_decay") if getattr(tcfg, k) != getattr(base, k)}


def _report(row, forms, data, records, a):
    """Score each form (name -> windows -> denoised) on `records` (the --records split) with noise
    from --noise-part; print one JSON line and append it to --log."""
    if a.noise_part != "test":
        row["noise_part"] = a.noise_part
    conds = [(n, s) for n in NOISE_KINDS for s in SNRS] if a.gap else CONDITIONS
    for noise, snr in conds:
        ws = evaluation_windows(data, records, noise, snr, per_record=32 if a.gap else 64, seed=5,
                                part=a.noise_part)
        for form, run in forms.items():
            prefix = a.records if len(forms) == 1 else f"{a.records}_{form}"
            imp = metrics.denoise_scores(ws.target, ws.noisy, run(ws.noisy))["snr_imp_db"]
            row[f"{prefix}_{noise or 'clean'}{'' if snr is None else snr}"] = round(imp, 2)
    if a.gap:
        gaps = {f"{n}{s}": row[f"{a.records}_float_{n}{s}"] - row[f"{a.records}_int_{n}{s}"] for n, s in conds}
        worst = max(gaps, key=lambda k: abs(gaps[k]))
        row["max_gap"], row["max_gap_at"] = round(gaps[worst], 2), worst
    line = json.dumps(row)
    print(line)
    _append_to_log(a.log, line)


def _append_to_log(log: str, line: str) -> None:
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    run_main(main)

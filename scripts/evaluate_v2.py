#!/usr/bin/env python3
"""Score a model with the denoise_v2 metric (edgekit.metrics) on mitdb's and the cross-database
patients, and the AF head's inter-patient protocols; merge the results into a metrics JSON.

    python scripts/evaluate_v2.py --model-dir models/acdae --json models/acdae/metrics.json       # test patients
    python scripts/evaluate_v2.py --model-dir build/x --json build/x/val.json --set val --conds mixed:0,mixed:24

Keys written (--set test): denoise_v2 (mitdb test patients) and denoise_v2_xdb (cross-database test
patients), each <float|int>.<noise>.<snr>.{snr_imp_db, snr_imp_se_db, snr_imp_pooled_db, ...} plus
by_record for the --patient-conds; with --set val: denoise_v2_val and denoise_v2_xdb_val.
--grid-windows windows per record score every other condition; the --patient-conds get
--patient-windows per record (>= 100 keeps a patient's figure stable to a few tenths of a dB).
--af adds af.int.<window|segment> on mitdb's test patients and af.leave_one_patient_out.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.cli import command_line, run_main  # noqa: E402

from edgekit.data import NOISE_KINDS, cross_database_split, resolve_data_dir, split_records  # noqa: E402
from edgekit.quant.evaluate import SNRS, af_leave_one_patient_out, evaluate_v2  # noqa: E402

# the AF patients of the training split (201 and 202 are one patient) and vfdb's two
TRAIN_AF_PATIENTS = (("201", "202"), ("203",), ("221",), ("222",), ("217",), ("vfdb/609",), ("vfdb/615",))


def _conds(text: str) -> list[tuple[str, int]]:
    out = []
    for item in text.split(","):
        noise, snr = item.split(":")
        if noise not in NOISE_KINDS or int(snr) not in SNRS:
            raise ValueError(f"condition {item!r}: expected NOISE:SNR with NOISE in {NOISE_KINDS}, SNR in {SNRS}")
        out.append((noise, int(snr)))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", default="models/acdae")
    p.add_argument("--data-dir")
    p.add_argument("--json", required=True, help="metrics JSON to merge the results into (created if missing)")
    p.add_argument("--set", choices=("test", "val"), default="test")
    p.add_argument("--conds", default="all", help="NOISE:SNR,... to score, or 'all' (4 noises x 6 SNRs)")
    p.add_argument("--grid-windows", type=int, default=8, help="windows per record for the non-patient conditions")
    p.add_argument("--patient-conds", default="mixed:0", help="conditions scored per patient, NOISE:SNR,...")
    p.add_argument("--patient-windows", type=int, default=100)
    p.add_argument("--forms", default="float,int")
    p.add_argument("--old-metric", action="store_true", help="also the pooled-lead metric on the same windows")
    p.add_argument("--af", action="store_true", help="also AF on mitdb's test patients and leave-one-patient-out")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    try:
        conds = [(n, s) for n in NOISE_KINDS for s in SNRS] if a.conds == "all" else _conds(a.conds)
        patient = _conds(a.patient_conds) if a.patient_conds else []
    except ValueError as e:
        p.error(str(e))
    data_dir = resolve_data_dir(a.data_dir)
    plan = {c: a.patient_windows if c in patient else a.grid_windows for c in conds}
    forms = tuple(f for f in a.forms.split(",") if f)
    mitdb, xdb = split_records(data_dir, seed=a.seed), cross_database_split(data_dir, seed=a.seed)
    suffix = "_val" if a.set == "val" else ""
    path = Path(a.json)
    res = json.loads(path.read_text()) if path.exists() else {}
    t0 = time.time()
    for key, records in ((f"denoise_v2{suffix}", mitdb[a.set]), (f"denoise_v2_xdb{suffix}", xdb[a.set])):
        res[key] = evaluate_v2(a.model_dir, data_dir, records, plan, forms=forms, seed=a.seed,
                               by_record_conds=patient, old_metric=a.old_metric)
        res[key]["records"] = records
        res[key]["windows_per_record"] = {f"{n}:{s}": w for (n, s), w in plan.items()}
        for form in forms:
            for n, s in conds:
                r = res[key][form][n][str(s)]
                print(f"{key:<22}{form:<6}{n:<6}{s:>4} dB  {r['snr_imp_db']:6.2f} dB (se {r['snr_imp_se_db']:.2f}, "
                      f"pooled {r['snr_imp_pooled_db']:6.2f}, in {r['snr_in_db']:6.2f}) on {r['windows']} windows")
    res.setdefault("commands", []).append(command_line("evaluate_v2.py", argv))
    res[f"denoise_v2{suffix}_seconds"] = round(time.time() - t0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1) + "\n")
    if a.af:  # written after the denoising figures too, so a long AF run cannot lose them
        _af(res, a.model_dir, data_dir, mitdb, a.seed, save=lambda: path.write_text(json.dumps(res, indent=1) + "\n"))
    print(f"wrote {path} ({time.time() - t0:.0f} s)")


def _af(res, model_dir, data_dir, mitdb, seed, save):
    import numpy as np

    from edgekit import metrics
    from edgekit.data import segment_windows
    from edgekit.quant.runners import IntModel, load_torch

    ws, seg, label = segment_windows(data_dir, mitdb["test"], seed=seed)
    logits = IntModel(Path(model_dir) / "model.onnx")(ws.noisy)[1]
    ids, seg_pred = metrics.segment_predictions(logits, seg)
    af = res.setdefault("af", {})
    af["int"] = {"window": metrics.af_scores(ws.af, np.argmax(logits, axis=1)),
                 "segment": metrics.af_scores(label[ids], seg_pred),
                 "protocol": "inter-patient: mitdb's 10 test patients, 11.4 s segments, integer reference"}
    s = af["int"]["segment"]
    print(f"AF int segment (mitdb test) accuracy {s['accuracy']:.4f} sens {s['sensitivity']:.3f} spec {s['specificity']:.3f}")
    save()
    train = mitdb["train"] + mitdb["val"] + ["vfdb/609", "vfdb/615"]
    af["leave_one_patient_out"] = af_leave_one_patient_out(load_torch(model_dir, "float"), data_dir, train,
                                                           [list(p) for p in TRAIN_AF_PATIENTS], seed=seed)
    lo = af["leave_one_patient_out"]
    print(f"AF leave-one-AF-patient-out sens {lo['sensitivity']:.3f} spec {lo['specificity']:.3f}")
    save()


if __name__ == "__main__":
    run_main(main)

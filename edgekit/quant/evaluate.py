"""Evaluate a trained model in its three forms (float, QAT, integer) on held-out records.

Writes the metrics the model card and the acceptance criteria quote:
  denoise.<float|qat|int>.<bw|ma|em|mixed>.<snr_in> = {snr_imp_db, rmse, prd, ...}
  denoise_by_record.int.mixed.<snr_in> = {record: snr_imp_db}: how much the score varies by patient
  af.<model>.<window|segment> = {accuracy, sensitivity, specificity, f1}, af.cv5_accuracy
  agreement.int_vs_onnxruntime / agreement.int_vs_qat = {identical_fraction, max_lsb, argmax_agree}
evaluate_v2 scores denoising with metrics.denoise_v2 (per window and lead, in ADC counts) on any
records, mitdb's or the other databases'; af_leave_one_patient_out is the AF head's inter-patient
protocol on the training patients.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .. import metrics
from ..data import NOISE_KINDS, evaluation_windows, segment_windows, split_records, to_adc
from ..model.acdae import INPUT_SCALE
from .runners import IntModel, load_torch, run_onnxruntime, run_torch

SNRS = (-6, 0, 6, 12, 18, 24)
MODELS = ("float", "qat", "int")


def evaluate(model_dir, data_dir, per_record: int = 32, snrs=SNRS, noises=NOISE_KINDS, seed: int = 0,
             agreement_windows: int = 1024, keep_examples: bool = True) -> dict:
    model_dir = Path(model_dir)
    split = split_records(data_dir, seed=seed)
    forms = {"float": load_torch(model_dir, "float"), "qat": load_torch(model_dir, "qat")}
    int_model = IntModel(model_dir / "model.onnx")

    def run(form, x):
        return int_model(x) if form == "int" else run_torch(forms[form], x)

    result = {"split": split, "per_record": per_record, "denoise": {m: {} for m in MODELS},
              "denoise_by_record": {"int": {"mixed": {}}}}
    examples = {}
    conds = [(n, s) for n in noises for s in snrs]
    for noise, snr in tqdm(conds, desc="denoise", unit="cond"):
        ws = evaluation_windows(data_dir, split["test"], noise, snr, per_record=per_record, seed=seed)
        for form in MODELS:
            den = run(form, ws.noisy)[0]
            result["denoise"][form].setdefault(noise, {})[str(snr)] = metrics.denoise_scores(
                ws.target, ws.noisy, den, ws.shift)
            if form == "int" and noise == "mixed":
                result["denoise_by_record"]["int"]["mixed"][str(snr)] = _by_record(ws, den)
                if keep_examples:
                    examples[snr] = (ws.noisy[0], ws.target[0], den[0])
    result["agreement"] = _agreement(model_dir, data_dir, split, forms["qat"], int_model, agreement_windows, seed)
    result["af"] = _af(data_dir, split, run, forms, seed)
    result["_examples"] = examples
    return result


def _by_record(ws, den) -> dict:
    """{record: mean snr_imp_db over its windows}, in the split's record order."""
    out = {}
    for r in dict.fromkeys(ws.record.tolist()):
        sel = ws.record == r
        out[r] = round(metrics.denoise_scores(ws.target[sel], ws.noisy[sel], den[sel])["snr_imp_db"], 2)
    return out


def _agreement(model_dir, data_dir, split, qat, int_model, n, seed) -> dict:
    per = max(1, n // max(len(split["test"]), 1) + 1)
    ws = evaluation_windows(data_dir, split["test"], "mixed", 0, per_record=per, seed=seed + 1)
    x = ws.noisy[:n]
    _, _, (d_int, l_int) = int_model(x)
    _, _, (d_qat, l_qat) = run_torch(qat, x)
    d_ort, l_ort = run_onnxruntime(model_dir / "model.onnx", x)
    out = {}
    for key, (d, l) in {"int_vs_qat": (d_qat, l_qat), "int_vs_onnxruntime": (d_ort, l_ort)}.items():
        row = metrics.agreement(np.concatenate([d_int.ravel(), l_int.ravel()]), np.concatenate([d.ravel(), l.ravel()]))
        row["argmax_agree"] = float(np.mean(np.argmax(l_int, 1) == np.argmax(l, 1)))
        same = (d_int == d).reshape(len(x), -1).all(1) & (l_int == l).all(1)
        row["windows_identical"] = float(np.mean(same))  # a float32 flip spreads: few windows, many values
        row["windows"] = int(len(x))
        out[key] = row
    return out


def _af(data_dir, split, run, forms, seed) -> dict:
    ws, seg, seg_label = segment_windows(data_dir, split["test"], seed=seed)
    out = {}
    for form in MODELS:
        logits = run(form, ws.noisy)[1]
        pred = np.argmax(logits, axis=1)
        ids, seg_pred = metrics.segment_predictions(logits, seg)
        out[form] = {"window": metrics.af_scores(ws.af, pred),
                     "segment": metrics.af_scores(seg_label[ids], seg_pred)}
    out["cv5_accuracy"], out["cv5_folds"] = cross_validate_head(forms["float"], data_dir, split, seed)
    out["cv5_protocol"] = ("5-fold over 11.4 s segments of all 48 records (segments shuffled, as in the "
                           "paper); encoder frozen, classifier head retrained per fold")
    return out


def evaluate_cinc2017(model_dir, data_dir, limit: int | None = None) -> dict:
    """External AF check on CinC 2017 (one lead, 300 Hz -> 360 Hz, lead in both channels):
    each record's non-overlapping windows, AF probability averaged per record, integer model."""
    from ..data import WINDOW, normalize
    from ..data.cinc2017 import load_cinc2017

    int_model = IntModel(Path(model_dir) / "model.onnx")
    labels, preds = [], []
    for _name, adc, label in tqdm(load_cinc2017(data_dir, labels=("N", "A"), limit=limit), desc="cinc2017"):
        n = adc.shape[1] // WINDOW
        if n == 0:
            continue
        wins = adc[:, : n * WINDOW].reshape(2, n, WINDOW).transpose(1, 0, 2)
        logits = int_model(normalize(wins)[0])[1]
        _, pred = metrics.segment_predictions(logits, np.zeros(n, np.int64))
        labels.append(int(label == "A"))
        preds.append(int(pred[0]))
    out = metrics.af_scores(np.array(labels), np.array(preds))
    out["protocol"] = "record level, mean AF probability over 2.84 s windows; one lead in both channels"
    return out


@torch.no_grad()
def _features(model, x, batch=512):
    """The classifier head's input: the bottleneck averaged over time."""
    feats = []
    for s in range(0, len(x), batch):
        h = torch.from_numpy(x[s : s + batch].astype(np.float32) * INPUT_SCALE)
        feats.append(model.encode(model.in_q(h))[0].mean(dim=2))
    return torch.cat(feats)


def cross_validate_head(model, data_dir, split, seed, folds=5, epochs=60):
    """The paper's 5-fold protocol over segments, with the encoder frozen and the head retrained."""
    records = sorted(set(split["train"]) | set(split["val"]) | set(split["test"]))
    ws, seg, labels = segment_windows(data_dir, records, seed=seed)
    feats = _features(model, ws.noisy)
    ids = np.flatnonzero(labels >= 0)  # segment ids index the labels
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(rng.permutation(ids), np.arange(len(ids)) % folds))
    win_fold = np.array([fold_of.get(s, -1) for s in seg])
    accs = []
    for k in range(folds):
        tr = (win_fold >= 0) & (win_fold != k) & (ws.af >= 0)
        head = _train_head(feats[tr], torch.from_numpy(ws.af[tr].astype(np.int64)), model, epochs, seed)
        te = win_fold == k
        with torch.no_grad():
            logits = head(feats[te]).numpy()
        sids, pred = metrics.segment_predictions(logits, seg[te])
        accs.append(float(np.mean(pred == labels[sids])))
    return float(np.mean(accs)), accs


def _train_head(x, y, model, epochs, seed):
    torch.manual_seed(seed)
    c, h = x.shape[1], model.config.head_hidden
    head = torch.nn.Sequential(torch.nn.Linear(c, h), torch.nn.LeakyReLU(model.config.leaky_slope),
                               torch.nn.Linear(h, 2))
    pos = float(y.float().mean().clamp(1e-3, 1 - 1e-3))
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([0.5 / (1 - pos), 0.5 / pos]))
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xs = (x - mu) / sd
    for _ in range(epochs):
        for idx in torch.randperm(len(xs)).split(512):
            opt.zero_grad()
            loss_fn(head(xs[idx]), y[idx]).backward()
            opt.step()
    return lambda f: head((f - mu) / sd)


def evaluate_v2(model_dir, data_dir, records, conds: dict, forms=("float", "int"), seed: int = 0,
                by_record_conds=(), old_metric: bool = False) -> dict:
    """denoise_v2 on `records`: conds maps (noise, snr) -> windows per record. Returns
    {form: {noise: {snr: summary}}}, plus 'by_record' {form: {noise: {snr: {record: summary}}}} for the
    conditions in by_record_conds and, with old_metric, 'old' {form: {noise: {snr: denoise_scores}}}
    (the pooled-lead metric of evaluate()) on the same windows."""
    model_dir = Path(model_dir)
    run = {}
    if "float" in forms:
        float_model = load_torch(model_dir, "float")
        run["float"] = lambda x: run_torch(float_model, x)[0]
    if "int" in forms:
        int_model = IntModel(model_dir / "model.onnx")
        run["int"] = lambda x: int_model(x)[0]
    out = {f: {} for f in forms}
    by_rec = {f: {} for f in forms}
    old = {f: {} for f in forms}
    for (noise, snr), per_record in tqdm(conds.items(), desc="denoise_v2", unit="cond"):
        adc = {}
        ws = evaluation_windows(data_dir, records, noise, snr, per_record=per_record, seed=seed, adc=adc)
        for form in forms:
            den = run[form](ws.noisy)
            terms = metrics.denoise_v2_terms(adc["clean"], adc["noisy"], to_adc(den, ws.mean, ws.shift))
            out[form].setdefault(noise, {})[str(snr)] = metrics.denoise_v2_summary(terms)
            if (noise, snr) in by_record_conds:
                by_rec[form].setdefault(noise, {})[str(snr)] = {
                    r: metrics.denoise_v2_summary(terms, ws.record == r) for r in records}
            if old_metric:
                old[form].setdefault(noise, {})[str(snr)] = metrics.denoise_scores(ws.target, ws.noisy, den, ws.shift)
    if by_record_conds:
        out["by_record"] = by_rec
    if old_metric:
        out["old"] = old
    return out


def af_leave_one_patient_out(model, data_dir, records, af_patients, seed=0, epochs=60) -> dict:
    """Inter-patient AF protocol on the training patients: the encoder frozen, the classifier head
    retrained on the segments of every patient but one AF patient, scored on that patient's
    segments (its AF segments give the sensitivity, its other segments the specificity).
    af_patients: lists of records of one patient each (e.g. ['201', '202'])."""
    ws, seg, labels = segment_windows(data_dir, records, seed=seed)
    feats = _features(model, ws.noisy)
    seg_rec = {}
    for s_id, r in zip(seg, ws.record):
        seg_rec.setdefault(int(s_id), str(r))
    seg_of_win = np.array([seg_rec[int(s)] for s in seg])
    folds, tp, fn, tn, fp = {}, 0, 0, 0, 0
    for patient in af_patients:
        held = np.isin(seg_of_win, patient)
        tr = ~held & (ws.af >= 0)
        head = _train_head(feats[tr], torch.from_numpy(ws.af[tr].astype(np.int64)), model, epochs, seed)
        with torch.no_grad():
            logits = head(feats[held]).numpy()
        sids, pred = metrics.segment_predictions(logits, seg[held])
        y = labels[sids]
        keep = y >= 0
        y, pred = y[keep] == 1, pred[keep] == 1
        row = {"af_segments": int(y.sum()), "other_segments": int((~y).sum()),
               "sensitivity": float((pred & y).sum() / max(y.sum(), 1)),
               "specificity": float((~pred & ~y).sum() / max((~y).sum(), 1)) if (~y).any() else None}
        folds["+".join(patient)] = row
        tp, fn = tp + int((pred & y).sum()), fn + int((~pred & y).sum())
        tn, fp = tn + int((~pred & ~y).sum()), fp + int((pred & ~y).sum())
    return {"sensitivity": tp / max(tp + fn, 1), "specificity": tn / max(tn + fp, 1), "folds": folds,
            "protocol": "leave one AF patient out of the training patients; encoder frozen, head retrained per "
                        "fold on all other training patients' 11.4 s segments; pooled over the held-out segments"}

"""MODEL_CARD.md for a trained model, rendered from its sidecar and metrics."""
from __future__ import annotations

import json
from pathlib import Path

from ..data import AF_RECORDS
from ..model.train import TrainConfig, high_snr_range

CITATIONS = """\
- MIT-BIH Arrhythmia Database: Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database.
  IEEE Eng in Med and Biol 20(3):45-50 (2001). doi:10.13026/C2F305
- MIT-BIH Noise Stress Test Database: Moody GB, Muldrow WE, Mark RG. A noise stress test for arrhythmia
  detectors. Computers in Cardiology 11:381-384 (1984). doi:10.13026/C2HS3T
- PhysioNet: Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220 (2000).
- (optional external AF check) PhysioNet/CinC Challenge 2017: Clifford GD et al. AF classification from a short
  single lead ECG recording. CinC 2017. doi:10.22489/CinC.2017.065-469

The databases are distributed under the Open Data Commons Attribution License v1.0."""

CITATIONS_XDB = """\
- QT Database: Laguna P, Mark RG, Goldberger AL, Moody GB. A database for evaluation of algorithms for measurement
  of QT and other waveform intervals in the ECG. Computers in Cardiology 24:673-676 (1997). doi:10.13026/C24K53
- MIT-BIH Supraventricular Arrhythmia Database: Greenwald SD. Improved detection and classification of arrhythmias
  in noise-corrupted electrocardiograms using contextual information. Ph.D. thesis, Harvard-MIT HST (1990).
  doi:10.13026/C2V30W
- MIT-BIH Malignant Ventricular Ectopy Database: Greenwald SD. The development and analysis of a ventricular
  fibrillation detector. M.S. thesis, MIT EECS (1986). doi:10.13026/C22P44"""


def _refine(cfg: dict) -> str:
    n = cfg.get("refine", 0)
    return f", {n} extra stride-1 conv(s) per level (kernel {cfg['kernel']})" if n else ""


def _augment(train: dict) -> str:
    a = train.get("config", {}).get("augment") or {}
    lo, hi = a.get("stretch", (1.0, 1.0))
    parts = ([f"time stretch x{lo:g}-{hi:g}"] if (lo, hi) != (1.0, 1.0) else []) + \
        [f"{what} (p = {a[name]:g})" for name, what in (("flip", "lead inversion"), ("swap", "lead swap"))
         if a.get(name)]
    if not parts:
        return "- Training augmentation: none."
    return (f"- Training augmentation of the clean ECG before the noise is added: {', '.join(parts)} "
            "(`edgekit/data/augment.py`); evaluation windows are never augmented.")


def _recipe(train: dict) -> str:
    c = train.get("config", {})
    lo, hi = c.get("snr_range", (-6, 24))  # models from before the option trained on -6..24 dB
    wd = c.get("weight_decay", 0.0)
    frac = c.get("qat_high_snr_fraction", 0.0)  # models from before the option: QAT drew uniformly too
    qlo, qhi = high_snr_range((lo, hi))
    qat = (f"; QAT draws {frac:.0%} of its windows from {qlo:g} to {qhi:g} dB instead (it keeps the int8 model "
           f"near float on nearly clean windows)" if frac else "")
    which = ("the decoder's activation ranges (the encoder, ECA and AF head keep EMA ranges)"
             if c.get("learn_ranges_in", "all") == "decoder" else "the activation ranges")
    ranges = (f"\n- QAT learns {which} by gradient (LSQ) after calibrating them on 4,096 windows."
              if c.get("learn_ranges") else "")
    return (f"- Training input SNRs drawn uniformly from {lo:g} to {hi:g} dB{qat}"
            f"{f'; AdamW weight decay {wd:g}' if wd else ''}.{ranges}")


def _by_record(metrics: dict) -> str:
    rec = metrics.get("denoise_by_record", {}).get("int", {}).get("mixed", {}).get("0")
    if not rec:
        return ""
    cells = ", ".join(f"{r} {v:.1f}" for r, v in sorted(rec.items(), key=lambda kv: kv[1]))
    return f"\nPer test record, int8 at 0 dB mixed noise (dB, worst first): {cells}.\n"


def _cinc(af: dict) -> str:
    c = af.get("cinc2017_int")
    if not c:
        return ""
    return (f"External check, CinC 2017 ({c['n']} N/A records, one AliveCor lead put in both channels, "
            f"resampled 300 -> 360 Hz; int8): accuracy {c['accuracy']:.4f}, sensitivity {c['sensitivity']:.3f}, "
            f"specificity {c['specificity']:.3f}. The model does not transfer to single-lead data.")


def render(model_dir: str | Path, metrics: dict) -> str:
    model_dir = Path(model_dir)
    meta = json.loads((model_dir / "model.json").read_text())
    cfg, train = meta["config"], meta.get("training", {})
    af = metrics["af"]
    af_rows = "\n".join(
        f"| {m} | {lvl} | {af[m][lvl]['accuracy']:.4f} | {af[m][lvl]['sensitivity']:.3f} | "
        f"{af[m][lvl]['specificity']:.3f} | {af[m][lvl]['f1']:.3f} |"
        for m in ("float", "qat", "int") if m in af for lvl in ("window", "segment"))
    split = metrics.get("split", train.get("split", {}))
    return f"""# Model card: {meta['name']} (edgekit model format v{meta['version']})

**What it does.** Denoises a two-lead ECG window (2 x {cfg['window']} samples at 360 Hz, int8 after the
integer per-window scaling of `edgekit.data.scaling`) and classifies it as AF / non-AF.
**Architecture.** ACDAE: encoder widths {cfg['widths']}, kernel {cfg['kernel']}, strides {cfg['strides']},
ECA (k={cfg['eca_kernel']}) after each encoder level, ConvTranspose decoder (kernel {cfg['dec_kernel']}) with
additive skips{' and the input as the outermost skip' if cfg.get('residual') else ''}{_refine(cfg)}, classifier head
GAP -> {cfg['head_hidden']} -> 2. LeakyReLU slope {cfg['leaky_slope']}.
**Quantization.** int8 per-channel symmetric weights, per-tensor asymmetric activations, int32 biases,
one half-up rounding per requantize (see `edgekit/ir/arithmetic.py`). Files: `model.onnx` (QDQ, opset 17),
`model.json` (sidecar), `float.pt` / `qat.pt` (torch weights for evaluation).

## Data
- Training records (MIT-BIH Arrhythmia, split by record, seed {train.get('seed', 0)}): {', '.join(split.get('train', []))}
- Validation: {', '.join(split.get('val', []))}. Test (held out): {', '.join(split.get('test', []))}
{_refit(train, split)}{_xdb_split(train, metrics)}- Noise: NSTDB `bw`, `ma` and a **derived em** (recovered from 118e00 - 118; the original em record was not
  available). Training noise from the first 70% of each noise record, test noise from the rest.
- Clean reference: each record with its own baseline drift removed (0.5 Hz zero-phase high-pass).
{_augment(train)}
{_recipe(train)}
- AF labels from the rhythm annotations: `(AFIB` = AF; `(AFL` (flutter) windows are excluded.

{_denoise_v1(metrics)}{_by_record(metrics)}{_denoise_v2(metrics)}
## AF detection on the held-out records (inter-patient protocol: mitdb's test patients; clean recordings; segment = 4 windows = 11.4 s)
| model | level | accuracy | sensitivity | specificity | F1 |
|---|---|---|---|---|---|
{af_rows}

{_cv5(af)}
{_cinc(af)}{_af_lopo(af)}

## Agreement of the integer reference
{_agreement(metrics.get("agreement"))}

The QAT model's fake quantization rounds half up through the same integer weights, biases and
scales as the export, and is evaluated in float64, so its rounding decisions follow the exact
accumulator: it is the integer model's function (run in float32 it differs in about 0.15 % of
values, up to 3 LSB, where accumulation error crosses a rounding boundary and the ECA gates spread
it). onnxruntime computes each QDQ layer in float32 and rounds half to even. A value whose exact
result lies within float32 error (about 1e-7 of it) of a rounding boundary can land on the other
side. That happens in a small share of windows (the last column), and the changed value then spreads
through the following convolutions and ECA gates. So the differences are a few LSB, few windows
hold them, and those windows differ in many values.

## Training
`{_train_command(model_dir, train)}` ({train.get('seconds', '?')} s on a 2-core CPU, one torch thread);
log in `train.log`, per-epoch history in `history.json`. Evaluation: `{_eval_command(model_dir, metrics)}`.

## Limits
{_limits(train, split)}

## Data sources and citations
{CITATIONS}{_xdb_citations(train, metrics)}
"""


def _denoise_v1(metrics: dict) -> str:
    """The pooled-lead metric of evaluate() (models evaluated before denoise_v2 carry it)."""
    d = metrics.get("denoise")
    if not d:
        return ""
    rows = []
    for noise in d["int"]:
        cells = " | ".join(f"{d['float'][noise][s]['snr_imp_db']:.2f} / {d['int'][noise][s]['snr_imp_db']:.2f}"
                           for s in d["int"][noise])
        rows.append(f"| {noise} | {cells} |")
    snrs = list(d["int"]["mixed"])
    return f"""## Denoising on the held-out records (old pooled-lead metric; SNR improvement in dB, float / int8)
Both leads pooled per window after the int8 scaling, input noise measured on the int8 input, errors not
mean-removed; denoise_v2 below is the metric as stated. {metrics['per_record']} windows per test record and condition.

| noise | {' | '.join(s + ' dB' for s in snrs)} |
|---|{'---|' * len(snrs)}
{chr(10).join(rows)}
"""


def _cv5(af: dict) -> str:
    if "cv5_accuracy" not in af:
        return ""
    return ("5-fold accuracy over segments (the paper's intra-patient protocol; encoder frozen, head retrained per "
            f"fold): **{af['cv5_accuracy']:.4f}** (paper: 0.9888).\n")


def _agreement(ag: dict | None) -> str:
    if not ag:
        return ("Checked by the tests on real windows (tests/test_shipped_model.py) and on the device "
                "(scripts/run.py --qemu).")
    rows = ["| against | identical fraction | max LSB | argmax agree | windows identical |", "|---|---|---|---|---|"]
    for key, what in (("int_vs_qat", "QAT fake-quant (torch)"), ("int_vs_onnxruntime", "onnxruntime (QDQ)")):
        a = ag[key]
        win = f"{a['windows_identical']:.4f}" if "windows_identical" in a else "-"
        rows.append(f"| {what} | {a['identical_fraction']:.5f} | {a['max_lsb']} | {a['argmax_agree']:.4f} | {win} |")
    return "\n".join(rows)


def _train_command(model_dir: Path, train: dict) -> str:
    """The train.py command that made the model (models from before it was recorded: rebuilt from the config)."""
    if train.get("command"):
        return train["command"]
    c, default = train.get("config", {}), TrainConfig()
    args = [f"--out {model_dir}"]
    if _added_records(train, train.get("split", {})):
        args.append("--train-on-val")
    if train.get("init_float"):
        args.append(f"--init-float {train['init_float']}")
    before_the_option = {"qat_high_snr_fraction": 0.0}  # sidecars without the key drew QAT uniformly
    for key, flag in (("float_epochs", "--float-epochs"), ("qat_epochs", "--qat-epochs"),
                      ("qat_high_snr_fraction", "--qat-high-snr"), ("threads", "--threads")):
        value = c.get(key, before_the_option.get(key))
        if value is not None and value != getattr(default, key):
            args.append(f"{flag} {value:g}")
    if not c.get("model", {}).get("residual", True):
        args.append("--no-residual")
    if c.get("learn_ranges", False) != default.learn_ranges:  # sidecars without the key: EMA ranges
        args.append("--learn-ranges" if c.get("learn_ranges") else "--no-learn-ranges")
    if c.get("learn_ranges") and c.get("learn_ranges_in", default.learn_ranges_in) != default.learn_ranges_in:
        args.append(f"--learn-ranges-in {c['learn_ranges_in']}")
    return "python scripts/train.py " + " ".join(args)


def _eval_command(model_dir: Path, metrics: dict) -> str:
    return metrics.get("command") or (f"python scripts/evaluate.py --model-dir {model_dir} "
                                      f"--json {model_dir}/metrics.json --card")


def _limits(train: dict, split: dict) -> str:
    recs = train.get("trained_on") or split.get("train", [])
    n_af = sum(r in AF_RECORDS for r in recs)
    return (f"Trained on {len(recs)} MIT-BIH records ({n_af} with AF): AF detection across patients is far weaker "
            "than the 5-fold figure, which mixes segments of the same patients between folds. Not a medical device.")


def _added_records(train: dict, split: dict) -> list[str]:
    """Records trained on beyond the training split (train.py --train-on-val adds the validation ones)."""
    return sorted(set(train.get("trained_on", [])) - set(split.get("train", [])))


def _refit(train: dict, split: dict) -> str:
    """A line when the final training also used the validation records (train.py --train-on-val)."""
    extra = _added_records(train, split)
    return (f"- Trained on the training and validation records ({', '.join(extra)} added: a final refit after "
            "the recipe was chosen on validation); the test records stay held out.\n") if extra else ""


V2_KEYS = (("denoise_v2", "mitdb's test patients"), ("denoise_v2_xdb", "the cross-database test patients"))


def _denoise_v2(metrics: dict) -> str:
    """Tables of the denoise_v2 metric (edgekit.metrics): per window and lead, mean-removed, ADC counts."""
    out = []
    for key, what in V2_KEYS:
        d = metrics.get(key)
        if not d:
            continue
        snrs = list(d["int"]["mixed"])
        rows = [f"| {noise} | " + " | ".join(
            f"{d['float'][noise][s]['snr_imp_db']:.2f} / {d['int'][noise][s]['snr_imp_db']:.2f}"
            for s in d["int"][noise]) + " |" for noise in d["int"] if noise in ("bw", "ma", "em", "mixed")]
        win = d.get("windows_per_record", {})
        counts = ", ".join(f"{c}: {w}" for c, w in win.items() if w != min(win.values())) if win else ""
        out.append(f"""
### denoise_v2 on {what} ({len(d.get('records', []))} patients; float / int8 integer reference)
SNR improvement in dB, averaged over windows and leads; per window and lead the clean signal, the added
noise (measured on the noisy ADC signal before the int8 scaling) and the output error (in ADC counts) are
each mean-removed. {min(win.values()) if win else '?'} windows per patient and condition{f' ({counts})' if counts else ''}.

| noise | {' | '.join(s + ' dB' for s in snrs)} |
|---|{'---|' * len(snrs)}
{chr(10).join(rows)}
{_v2_pooled(d)}{_v2_by_record(d)}""")
    cmds = metrics.get("denoise_v2_commands")
    if out and cmds:
        out.append("\nMade by " + "; ".join(f"`{c}`" for c in cmds) + ".\n")
    return "".join(out)


def _v2_pooled(d: dict) -> str:
    m = d["int"]["mixed"]
    cells = ", ".join(f"{s} dB {m[s]['snr_imp_pooled_db']:.2f}" for s in m)
    return f"\nPooled-energy figure, int8, mixed noise: {cells}.\n"


def _v2_by_record(d: dict) -> str:
    rec = d.get("by_record", {}).get("int", {}).get("mixed", {}).get("0")
    if not rec:
        return ""
    cells = ", ".join(f"{r} {v['snr_imp_db']:.1f} +/- {v['snr_imp_se_db']:.1f}"
                      for r, v in sorted(rec.items(), key=lambda kv: kv[1]["snr_imp_db"]))
    return f"Per patient, int8 at 0 dB mixed noise (dB +/- standard error, worst first): {cells}.\n"


def _xdb_split(train: dict, metrics: dict) -> str:
    """The cross-database patients: trained on (if any) and held out for the cross-database figures."""
    xdb = train.get("cross_database_split")
    test = (metrics.get("denoise_v2_xdb") or {}).get("records")
    lines = []
    if xdb:
        lines.append(f"- Also trained on {len(xdb['train'])} patients of qtdb, svdb and vfdb "
                     f"({', '.join(xdb['train'])}); {train.get('rhythm_share') or 'a uniform'} share of the windows "
                     "from the rhythm-annotated patients (mitdb, vfdb). Their validation patients: "
                     f"{', '.join(xdb['val'])}.")
    if test:
        lines.append(f"- Cross-database test patients (held out; `edgekit.data.cross_database_split`, every source "
                     f"database of qtdb and svdb represented): {', '.join(test)}. qtdb and vfdb are resampled "
                     "250 -> 360 Hz, svdb 128 -> 360 Hz (polyphase), all at mitdb's 200 adu/mV. svdb's 128 Hz leaves "
                     "nothing above 64 Hz in its clean signal, so its reference lacks the QRS's highest frequencies.")
    return "".join(line + "\n" for line in lines)


def _af_lopo(af: dict) -> str:
    lo = af.get("leave_one_patient_out")
    if not lo:
        return ""
    folds = ", ".join(f"{p} {v['sensitivity']:.2f}" for p, v in lo["folds"].items())
    return (f"\n\nLeave one AF patient out (inter-patient, training patients; {lo['protocol']}): sensitivity "
            f"**{lo['sensitivity']:.3f}**, specificity **{lo['specificity']:.3f}**; per held-out patient, "
            f"sensitivity: {folds}.")


def _xdb_citations(train: dict, metrics: dict) -> str:
    return "\n" + CITATIONS_XDB if train.get("cross_database_split") or metrics.get("denoise_v2_xdb") else ""

"""Evaluate a trained model (float, QAT and integer forms) on the held-out test records.

    python scripts/evaluate.py --out out/eval                          # the shipped model
    python scripts/evaluate.py --model models/acdae/model.onnx --json > metrics.json
    python scripts/evaluate.py --model-dir models/acdae --json models/acdae/metrics.json --card

Prints a summary (with --json: the metrics JSON on stdout, messages on stderr), writes
OUT/metrics.json and PNG plots (example overlays, SNR curves). `--json PATH` (older form) writes
the metrics to PATH and the plots beside it. Needs torch (pip install edgekit[train]).
"""
import argparse
import json
import time
from pathlib import Path

from edgekit.cli import add_common_args, command_line, log, main_guard, setup_logging


def main(argv=None):
    p = argparse.ArgumentParser(prog="edgekit evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    m = p.add_mutually_exclusive_group()
    m.add_argument("--model", help="the model.onnx file (its folder holds model.json, float.pt, qat.pt; "
                   "default: models/acdae/model.onnx)")
    m.add_argument("--model-dir", help="the model folder (older form of --model)")
    p.add_argument("--data-dir", help="PhysioNet data directory (default: $EDGEKIT_DATA or ../shared/data)")
    p.add_argument("--out", help="output folder for metrics.json and the plots (default: out/evaluate)")
    add_common_args(p)
    p.add_argument("--json", nargs="?", const="-", metavar="PATH",
                   help="print the metrics JSON on stdout (messages on stderr); older form: --json PATH writes them there")
    p.add_argument("--plots", help="folder for PNG plots (default: the output folder)")
    p.add_argument("--per-record", type=int, default=32, help="windows per test record and condition")
    p.add_argument("--seed", type=int, default=0, help="seed of the test window draws (default 0)")
    p.add_argument("--card", action="store_true", help="also write MODEL_CARD.md into the model folder")
    p.add_argument("--cinc", type=int, default=0, metavar="N",
                   help="also score AF on the first N CinC 2017 N/A records (external check; -1 = all)")
    a = p.parse_args(argv)
    setup_logging(a)
    model_dir = a.model_dir or (str(Path(a.model).parent) if a.model else "models/acdae")
    if a.json not in (None, "-") and a.out:
        p.error("give --out DIR (metrics.json + plots) or the older --json PATH, not both")
    out = Path(a.json) if a.json not in (None, "-") else Path(a.out or "out/evaluate") / "metrics.json"

    from edgekit.data import resolve_data_dir  # torch and the evaluation code: after parsing
    from edgekit.quant.evaluate import evaluate, evaluate_cinc2017
    from edgekit.quant.model_card import render as render_card
    from edgekit.quant.plots import plot_by_record, plot_examples, plot_snr_curves
    t0 = time.time()
    res = evaluate(model_dir, resolve_data_dir(a.data_dir), per_record=a.per_record, seed=a.seed)
    examples = res.pop("_examples")
    if a.cinc:
        res["af"]["cinc2017_int"] = evaluate_cinc2017(model_dir, resolve_data_dir(a.data_dir),
                                                      None if a.cinc < 0 else a.cinc)
    res["seconds"] = round(time.time() - t0, 1)
    res["command"] = command_line("evaluate.py", argv)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    plots = Path(a.plots) if a.plots else out.parent
    plots.mkdir(parents=True, exist_ok=True)
    plot_examples(examples, plots / "denoise_examples.png")
    plot_snr_curves(res["denoise"], plots / "snr_improvement.png")
    if "0" in res["denoise_by_record"]["int"]["mixed"]:
        plot_by_record(res["denoise_by_record"]["int"]["mixed"], plots / "snr_by_record.png")
    if a.json == "-":
        print(json.dumps(res, indent=1))
    say = log.info if a.json == "-" else print
    d = res["denoise"]
    say(f"{'noise':<7}{'SNR in':>7}" + "".join(f"{m + ' dB':>11}" for m in d))
    for noise in d["int"]:
        for snr in d["int"][noise]:
            say(f"{noise:<7}{snr:>7}" + "".join(f"{d[m][noise][snr]['snr_imp_db']:>11.2f}" for m in d))
    for m in ("float", "qat", "int"):
        s = res["af"][m]["segment"]
        say(f"AF {m:<5} segment accuracy {s['accuracy']:.4f} sens {s['sensitivity']:.3f} spec {s['specificity']:.3f}")
    say(f"AF 5-fold accuracy {res['af']['cv5_accuracy']:.4f} (paper: 0.9888)")
    if "cinc2017_int" in res["af"]:
        c = res["af"]["cinc2017_int"]
        say(f"AF CinC 2017 (external, int) accuracy {c['accuracy']:.4f} sens {c['sensitivity']:.3f} "
              f"spec {c['specificity']:.3f} on {c['n']} records")
    for k, v in res["agreement"].items():
        say(f"{k}: identical {v['identical_fraction']:.5f}, max {v['max_lsb']} LSB, argmax {v['argmax_agree']:.4f}, "
              f"windows identical {v['windows_identical']:.4f}")
    if a.card:
        (Path(model_dir) / "MODEL_CARD.md").write_text(render_card(model_dir, res))
    log.info(f"wrote {out} and plots in {plots} ({res['seconds']} s)")


if __name__ == "__main__":
    main_guard(main)

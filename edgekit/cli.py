"""Shared by the scripts: turn the errors a user can fix into one 'error:' line and exit 2."""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Callable


def command_line(script: str, argv=None) -> str:
    """The command that ran `scripts/<script>` with argv (None: this process's arguments), for records."""
    return f"python scripts/{script} " + shlex.join(sys.argv[1:] if argv is None else argv)


def run_main(main: Callable[[], int | None]) -> None:
    from .data import DataError
    from .quant.format import ModelFormatError
    from .quant.onnx_import import UnsupportedModelError

    try:
        sys.exit(main() or 0)
    except (DataError, ModelFormatError, UnsupportedModelError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def add_model_shape_args(p) -> None:
    """The ACDAE shape options shared by train.py and sweep.py (defaults = the shipped model)."""
    from .model.acdae import ACDAEConfig

    p.add_argument("--widths", default=",".join(map(str, ACDAEConfig.widths)), help="encoder widths, comma separated")
    p.add_argument("--kernel", type=int, default=ACDAEConfig.kernel, help="encoder kernel size (odd)")
    p.add_argument("--dec-kernel", type=int, default=ACDAEConfig.dec_kernel, help="decoder (transposed) kernel size")
    p.add_argument("--refine", type=int, default=ACDAEConfig.refine, help="extra stride-1 convs per level")
    p.add_argument("--residual", action=argparse.BooleanOptionalAction, default=ACDAEConfig.residual,
                   help="the input is the outermost skip (the decoder learns the correction); --no-residual: "
                        "the decoder outputs the clean window itself")


def model_shape(p, a):
    """ACDAEConfig from the options of add_model_shape_args (stride 2 per level); a bad shape is
    a usage error (exit 2) that names the field."""
    from .model.acdae import ACDAEConfig

    try:
        widths = tuple(int(w) for w in a.widths.split(","))
        cfg = ACDAEConfig(widths=widths, strides=(2,) * len(widths), kernel=a.kernel, dec_kernel=a.dec_kernel,
                          refine=a.refine, residual=a.residual)
        cfg.check()
    except ValueError as e:
        p.error(f"bad model shape: {e}")
    return cfg


def add_augment_args(p) -> None:
    """Augmentation options shared by train.py and sweep.py (defaults = TrainConfig's: none)."""
    from .data.augment import Augment
    from .model.train import TrainConfig

    default = Augment.from_dict(TrainConfig().augment)
    p.add_argument("--stretch", default=",".join(f"{v:g}" for v in default.stretch),
                   help="time-scale factor range LOW,HIGH (1,1: none)")
    p.add_argument("--flip", type=float, default=default.flip, help="probability of inverting a lead")
    p.add_argument("--swap", type=float, default=default.swap, help="probability of exchanging the leads")


def augment(p, a):
    """Augment from the options of add_augment_args; a bad value is a usage error (exit 2)."""
    from .data.augment import Augment

    try:
        lo, hi = (float(v) for v in a.stretch.split(","))
        return Augment(stretch=(lo, hi), flip=a.flip, swap=a.swap)
    except ValueError as e:
        p.error(f"bad augmentation: {e}")


def add_recipe_args(p) -> None:
    """Training-recipe options shared by train.py and sweep.py (defaults = TrainConfig's)."""
    from .model.train import TrainConfig

    lo, hi = TrainConfig.snr_range
    p.add_argument("--snr-range", default=f"{lo:g},{hi:g}",
                   help="input SNRs (dB) drawn uniformly for training windows, LOW,HIGH")
    p.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay,
                   help="decoupled weight decay (AdamW); 0 = Adam")


def recipe(p, a) -> dict:
    """{snr_range, weight_decay} for TrainConfig from add_recipe_args' options; a bad value is a
    usage error (exit 2) that names it."""
    from .data.mixing import check_snr

    try:
        parts = a.snr_range.split(",")
        if len(parts) != 2:
            raise ValueError("give two numbers, LOW,HIGH (e.g. --snr-range=-6,24)")
        lo, hi = (float(v) for v in parts)
        check_snr([lo, hi])
        if lo >= hi:
            raise ValueError(f"low {lo:g} must be below high {hi:g}")
        if not 0.0 <= a.weight_decay < 1.0:
            raise ValueError(f"weight decay {a.weight_decay:g} must be in [0, 1)")
    except ValueError as e:
        p.error(f"bad training recipe: --snr-range {a.snr_range} / --weight-decay {a.weight_decay:g}: {e}")
    return {"snr_range": (lo, hi), "weight_decay": a.weight_decay}

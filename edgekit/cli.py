"""Shared by the scripts: turn the errors a user can fix into one 'error:' line and an exit code.

Exit codes (the same for every script)::

    EXIT_OK 0        everything worked (run/validate/bench: every window bit-exact)
    EXIT_MISMATCH 1  the device disagreed with the reference
    EXIT_USAGE 2     usage or setup error: bad option, missing/corrupt file, unknown target, tool missing
    EXIT_BUILD 3     build failure: the C was generated but did not compile or link
    EXIT_LINK 4      link lost or device fault

API::

    from edgekit.cli import main_guard, fail, UserError, EXIT_BUILD
    def main() -> int:
        ...
        fail(f"{path}: not a valid ONNX file (...)")            # raises UserError -> exit 2
        fail("firmware build failed: ...", EXIT_BUILD)           # -> exit 3
    if __name__ == "__main__":
        main_guard(main)      # sys.exit(main() or 0); expected errors -> one line on stderr

An exception class is "expected" (printed as one line, no traceback) when it, or a base class,
has an ``exit_code`` attribute (DataError, ModelFormatError, UnsupportedModelError, CompilerError,
UnknownTargetError/TargetFileError: 2; firmware BuildError: 3); ``UserError`` carries its own code.
Missing files and permission errors are usage errors (2); Ctrl-C exits 130 with one line. Anything
else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from typing import Callable, NoReturn

EXIT_OK = 0
EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_BUILD = 3
EXIT_LINK = 4
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error the user can fix; ``code`` is the exit status main_guard exits with."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return str(self.args[0])


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Stop with `error: message` on stderr and exit `code` (when running under main_guard)."""
    raise UserError(message, code)


def one_line(message: object, limit: int = 2000) -> str:
    """The message on one line (newlines become ' | '), cut to `limit` characters."""
    s = " | ".join(part.strip() for part in str(message).splitlines() if part.strip())
    return s if len(s) <= limit else s[:limit - 3] + "..."


_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def exit_code_of(e: BaseException) -> int | None:
    """The exit code for an expected error, None for anything else (a bug)."""
    if isinstance(e, UserError):
        return e.code
    code = getattr(type(e), "exit_code", None)
    if isinstance(code, int):
        return code
    if isinstance(e, _FILE_ERRORS):
        return EXIT_USAGE
    return None


def main_guard(main: Callable[[], int | None]) -> NoReturn:
    """sys.exit(main() or 0), turning an expected error into `error: ...` on stderr + its exit code."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as e:  # noqa: BLE001 -- re-raised unless expected
        code = exit_code_of(e)
        if code is None:
            raise
        print(f"error: {one_line(e)}", file=sys.stderr)
        sys.exit(code)
    sys.exit(code or 0)


def command_line(script: str, argv=None) -> str:
    """The command that ran `scripts/<script>` with argv (None: this process's arguments), for
    records: `edgekit <stage> ...` when the edgekit command ran it, else `python scripts/<script> ...`."""
    args = shlex.join(sys.argv[1:] if argv is None else argv)
    if sys.argv and sys.argv[0].replace("\\", "/").endswith(("/edgekit", "edgekit/__main__.py")):
        return f"edgekit {script.removesuffix('.py')} {args}"
    return f"python scripts/{script} {args}"


run_main = main_guard  # the older name, used by sweep.py


def add_model_shape_args(p) -> None:
    """The ACDAE shape options shared by train.py and sweep.py (defaults = the shipped model)."""
    from .model.config import ACDAEConfig

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
    from .model.config import ACDAEConfig

    try:
        widths = tuple(int(w) for w in a.widths.split(","))
        cfg = ACDAEConfig(widths=widths, strides=(2,) * len(widths), kernel=a.kernel, dec_kernel=a.dec_kernel,
                          refine=a.refine, residual=a.residual)
        cfg.check()
    except ValueError as e:
        p.error(f"bad model shape: {e}")
    return cfg


def add_augment_args(p) -> None:
    """Augmentation options shared by train.py and sweep.py. Unset options keep TrainConfig's
    augmentation (none); augment() fills them in after parsing, so --help imports no data code."""
    p.add_argument("--stretch", help="time-scale factor range LOW,HIGH (1,1: none; default: TrainConfig's augmentation)")
    p.add_argument("--flip", type=float, help="probability of inverting a lead (default: TrainConfig's augmentation)")
    p.add_argument("--swap", type=float, help="probability of exchanging the leads (default: TrainConfig's augmentation)")


def augment(p, a):
    """Augment from the options of add_augment_args (unset: TrainConfig's); a bad value is a usage
    error (exit 2)."""
    from .data.augment import Augment
    from .model.config import TrainConfig

    default = Augment.from_dict(TrainConfig().augment)
    try:
        lo, hi = ((float(v) for v in a.stretch.split(",")) if a.stretch is not None else default.stretch)
        return Augment(stretch=(lo, hi), flip=default.flip if a.flip is None else a.flip,
                       swap=default.swap if a.swap is None else a.swap)
    except ValueError as e:
        p.error(f"bad augmentation: {e}")


def add_recipe_args(p) -> None:
    """Training-recipe options shared by train.py and sweep.py (defaults = TrainConfig's)."""
    from .model.config import TrainConfig

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


# ---- the options every command shares ------------------------------------------------------
# Messages go through logging (-v: debug, -q: warnings and errors only): to stdout with the
# command's table, to stderr with --json, where stdout holds the JSON document and nothing else.
# Errors always go to stderr (main_guard).
log = logging.getLogger("edgekit")


def add_common_args(p, json_help: str | None = None) -> None:
    """-v/-q for every command, and --json (machine output on stdout) when json_help is given."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="store_true", help="more messages (debug level)")
    g.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    if json_help:
        p.add_argument("--json", action="store_true", help=json_help)


def setup_logging(a=None, *, verbose: bool = False, quiet: bool = False) -> None:
    """Messages at the level -v/-q ask for, on stdout, or on stderr when --json holds stdout
    (a: the parsed options)."""
    verbose = verbose or bool(getattr(a, "verbose", False))
    quiet = quiet or bool(getattr(a, "quiet", False))
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    as_json = getattr(a, "json", False)
    handler = logging.StreamHandler(sys.stderr if as_json is True or as_json == "-" else sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False

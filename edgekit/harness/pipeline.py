"""One device run, end to end: compile -> firmware -> start the target -> stream real ECG
windows -> compare with the integer reference bit for bit -> score -> report.

    from edgekit.harness.pipeline import RunConfig, run
    out = run(RunConfig(target="cortex-m7", windows=200))
    out.run["bit_exact"], out.paths["json"], out.exit_code

``scripts/run.py`` is the command line around this. Steps (their seconds go to run.json):

1. board: ``--board`` or the target's default QEMU board (riscv32 -> ``virt``, not the 16 KiB
   HiFive1); a real board needs ``--port`` (with ``--port`` and no ``--board``, the target's
   only hardware board).
2. compile: ``edgekit.compiler.compile_model(model, target, REPORT/model)``. The compiler's
   fit check is against the *target's* budget (a real part of that class). On QEMU the board's
   own memory is what counts, so a model too large for the target is a warning there
   (``fits_target: false`` in run.json) and an error only on real hardware.
3. firmware: ``edgekit.firmware.build.build_firmware(REPORT/model, board, REPORT/firmware)``.
4. windows: ``workload.ecg_workload`` (held-out test records + NSTDB noise at the SNRs), and
   the integer reference (``edgekit.ir.reference``) on all of them at once.
5. stream: ``evaluate`` over the serial link, every output compared bit for bit; the device's
   model hash must be the ONNX file's.
6. score: denoising per SNR + AF, from the device's outputs and from the reference's; both
   must be identical (``metrics_equal_reference``).
7. report: run.json, report.md, layers.png, arena.png, denoise_example.png.

``model="stub"`` runs the firmware's stub model on random windows (harness checks, no ECG).

Nothing is lost: before anything is compiled, the board's port, flash tool or QEMU and any given
ELF are checked; each window's result is appended to ``REPORT/run.jsonl`` as its reply arrives
(runlog.py); run.json and report.md are made from that log, also when the run stops early (link
lost, device fault, SIGINT, SIGTERM: ``RunStopped``, exit 4 or 128 + signal), and
``RunConfig(resume=REPORT)`` continues after the last acknowledged window. run.json holds no wall
time outside its ``session`` key, so a resumed run's run.json equals an uninterrupted one's
once ``session`` is left out.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Callable

import numpy as np

from .. import resources
from ..cli import EXIT_LINK, UserError
from ..firmware.build import STUB_MODEL_DIR, build_firmware
from ..firmware.targets import Board, known_boards, load_board, load_target
from .device import DeviceErrorReply, DeviceTimeout, open_device
from .timing import real_time
from .evaluate import EvalResult, evaluate
from .link import LinkClosed
from .protocol import ProtocolError
from .runlog import LOG_NAME, FORMAT, RunLog, RunLogError, device_output, hello_info, window_result

DEFAULT_MODEL = resources.default_model()  # the shipped model (package data)
DEFAULT_SNRS = (0.0, 12.0, 24.0)

# what decides the windows and their expected outputs: stored in the run log, restored on resume
RUN_KEYS = ("target", "board", "model", "windows", "snrs", "noise", "segments", "seed", "data_dir", "elf")


class RunError(RuntimeError):
    """The run cannot start as asked (bad arguments, model too large for a real board...)."""

    exit_code = 2


class RunStopped(UserError):
    """The run stopped before its last window; what it streamed is in run.jsonl and run.json."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the run log and report are written on the way out."""


@dataclass
class RunConfig:
    target: str | None = None            # targets/<name>.toml; default: the board's target
    board: str | None = None             # targets/boards/<name>.toml; default: target's QEMU board
    port: str | None = None              # serial port of a real board
    model: str | Path = DEFAULT_MODEL    # ONNX QDQ model, or "stub"
    windows: int = 200
    snrs: tuple = DEFAULT_SNRS
    noise: str = "mixed"                 # mixed | bw | ma | em | none
    segments: bool = False               # stream whole 8-window segments (segment-level AF)
    seed: int = 0
    data_dir: str | None = None
    report_dir: str | Path | None = None  # default out/<target>
    elf: str | Path | None = None        # skip compile + build, run this firmware
    serial: str = "socket"               # QEMU serial: socket | pty
    progress: bool = True
    timeout: float = 10.0                # every wait: QEMU start, hello, each request
    flash: bool = True                   # real boards: flash the firmware (False: it already runs)
    resume: bool = False                 # continue the run logged in report_dir
    command: str = ""                    # the command line that started the run (for the report)


@dataclass
class RunOutcome:
    run: dict                            # what run.json holds
    result: EvalResult
    paths: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.run["all_bit_exact"] and self.run.get("metrics_equal_reference", True) else 1


def qemu_board_for(target: str) -> str:
    """The target's default board if it is a QEMU board, else the first QEMU board for it."""
    t = load_target(target)
    if t.default_board in known_boards() and load_board(t.default_board).kind in ("qemu", "host"):
        return t.default_board
    for name in known_boards():
        b = load_board(name)
        if b.target == target and b.kind == "qemu":
            return name
    raise RunError(f"no QEMU board for target {target!r} in targets/boards")


def resolve_board(target: str | None, board: str | None, port: str | None) -> Board:
    if board is None:
        if target is None:
            raise RunError("give --target (and optionally --board)")
        if port:
            hw = [n for n in known_boards() if load_board(n).target == target and load_board(n).kind == "hardware"]
            if len(hw) != 1:
                raise RunError(f"--port needs --board (hardware boards for {target}: {', '.join(hw) or 'none'})")
            board = hw[0]
        else:
            board = qemu_board_for(target)
    b = load_board(board)
    if target is not None and b.target != target:
        raise RunError(f"board {b.name} has target {b.target!r}, not {target!r}")
    if b.kind == "hardware" and not port:
        raise RunError(f"board {b.name} is a real board: give its serial port with --port")
    return b


def _board_limits(board: Board) -> tuple[int, int]:
    """(flash, RAM) bytes of the board's memory map; 0 = unlimited (host)."""
    m = board.memory
    return (m["flash"]["length"], m["ram"]["length"]) if m else (0, 0)


def compile_for_board(model: Path, board: Board, out_dir: Path, log: Callable) -> dict:
    """Compile for the board's target; returns the compiler's report plus fit information."""
    from ..compiler import ModelTooLargeError, check_fits, compile_model

    res = compile_model(model, board.target, out_dir, check_fit=False)
    rep = dict(res.report)
    if not rep["stream"]["streamable"]:
        raise RunError(f"model {model} cannot be streamed to a device: " + "; ".join(rep["stream"]["problems"]))
    try:
        check_fits(rep)
        rep["fits_target"], rep["fit_message"] = True, ""
    except ModelTooLargeError as e:
        if board.kind == "hardware":
            raise RunError(str(e)) from e
        rep["fits_target"], rep["fit_message"] = False, str(e)
        log(f"warning: {e}\n         (running on QEMU board {board.name}, whose memory is larger)")
    flash, ram = _board_limits(board)
    try:  # the board itself: a hard error, whatever its kind
        check_fits({**rep, "target": f"{board.target} on board {board.name}",
                    "target_flash_bytes": flash, "target_ram_bytes": ram})
    except ModelTooLargeError as e:
        raise RunError(str(e)) from e
    return rep


@dataclass
class _Model:
    kind: str                      # "onnx" | "stub"
    path: Path | None
    sha256: str
    int_model: object = None       # edgekit.quant.runners.IntModel

    def reference_outputs(self, x: np.ndarray):
        """[(denoised, logits)] for each window of the int8 batch x (the integer reference)."""
        from ..ir import reference
        out = reference.run(self.int_model.graph, x)
        den, logits = out[self.int_model.den_name], out[self.int_model.logit_name]
        return list(zip(den, logits))


def _load_model(spec) -> _Model:
    if str(spec) == "stub":
        return _Model("stub", None, "57ab0000deadbeef")
    path = Path(spec)
    if not path.is_file():
        hint = (" (train one with scripts/train.py, or pass --model build/<run>/model.onnx)"
                if path.resolve() == DEFAULT_MODEL.resolve() else "")
        raise RunError(f"model {path} not found{hint}")
    if not is_ecg_model(path):
        raise RunError(f"model {path} declares no ECG task (its sidecar {path.with_suffix('.json').name} is missing "
                       f"or has no task 'ecg'): run.py scores ECG denoising and AF detection; for any other model "
                       f"use scripts/validate.py --model {path} --target TARGET --qemu")
    from ..ir.intmodel import IntModel
    return _Model("onnx", path, hashlib.sha256(path.read_bytes()).hexdigest(), IntModel(path))


def is_ecg_model(path: Path) -> bool:
    """The model's sidecar declares the ECG task (`"task": "ecg"`; sidecars written before the
    field existed are ECG models when they name the outputs denoised and logits)."""
    from ..ir.format import read_sidecar
    meta = read_sidecar(path)
    if meta is None:
        return False
    if "task" in meta:
        return meta["task"] == "ecg"
    return {"denoised", "logits"} <= set(meta.get("outputs", {}))


# ELF machine numbers (e_machine) per target architecture
_ELF_MACHINE = {"arm": (40, "ARM"), "riscv": (243, "RISC-V")}


def check_elf(path, board: Board) -> Path:
    """An existing ELF file for the board's architecture, or RunError saying what it is instead."""
    p = Path(path)
    if not p.is_file():
        raise RunError(f"--elf {p}: no such file")
    head = p.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        raise RunError(f"--elf {p} is not an ELF file (it starts with {head[:4]!r}): give the "
                       "firmware.elf that scripts/run.py or edgekit.firmware.build made")
    want = _ELF_MACHINE.get(board.load_target().arch)
    if want is not None and len(head) >= 20:
        machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
        if machine != want[0]:
            raise RunError(f"--elf {p} is built for ELF machine {machine}, not {want[1]} "
                           f"(board {board.name}, target {board.target})")
    return p


def preflight(board: Board, cfg: RunConfig) -> None:
    """Everything that can be checked before compiling: the ELF, QEMU, the port, the flash tool."""
    if cfg.elf:
        check_elf(cfg.elf, board)
    if board.kind == "qemu":
        from .qemu import qemu_command
        qemu_command(board, "firmware.elf", cfg.serial)  # QemuMissingError names the apt package
    elif board.kind == "hardware":
        port = cfg.port
        if "://" not in port and not os.path.exists(port):
            raise RunError(f"serial port {port} does not exist (is board {board.name} plugged in? "
                           "see: ls /dev/ttyACM* /dev/ttyUSB*)")
        if cfg.flash:
            from .board import FlashToolMissingError, flash_commands
            for cmd in flash_commands(board, cfg.elf or "firmware.elf"):
                if shutil.which(cmd[0]) is None:
                    raise FlashToolMissingError(
                        f"{cmd[0]} not found (board {board.name}); install it: "
                        f"{board.flash.get('install_hint', cmd[0])} (or give --no-flash if the board runs it already)")


def _config_record(cfg: RunConfig) -> dict:
    d = {k: getattr(cfg, k) for k in RUN_KEYS}
    d["model"] = str(d["model"])
    d["elf"] = str(d["elf"]) if d["elf"] else None
    d["snrs"] = [float(v) for v in d["snrs"]]
    return d


def _resumed_config(cfg: RunConfig, logged: dict) -> RunConfig:
    """The logged run's configuration, with this session's link settings (port, serial, timeout)."""
    c = logged["config"]
    return RunConfig(**{**{k: c[k] for k in RUN_KEYS}, "snrs": tuple(c["snrs"]), "report_dir": cfg.report_dir,
                        "port": cfg.port, "serial": cfg.serial, "timeout": cfg.timeout, "flash": cfg.flash,
                        "progress": cfg.progress, "resume": True})


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run(cfg: RunConfig, log: Callable = print) -> RunOutcome:
    """The whole run (see the module docstring); raises RunStopped when it stops early."""
    t_start = time.perf_counter()
    secs = {}
    runlog = None
    if cfg.resume:
        if cfg.report_dir is None:
            raise RunError("--resume needs the report folder of the run to continue")
        runlog = RunLog.read(Path(cfg.report_dir) / LOG_NAME)
        cfg = _resumed_config(cfg, runlog.run)
    board = resolve_board(cfg.target, cfg.board, cfg.port)
    target = board.target
    preflight(board, cfg)
    out = Path(cfg.report_dir or Path("out", target))
    out.mkdir(parents=True, exist_ok=True)
    model = _load_model(cfg.model)

    if runlog is not None:
        if model.sha256 != runlog.run["model_sha256"]:
            raise RunLogError(f"{runlog.path}: the run used model {cfg.model} with sha256 "
                              f"{runlog.run['model_sha256'][:16]}..., that file now hashes to {model.sha256[:16]}...")
        build = runlog.run["build"]
        elf = Path(build["elf"]) if Path(build["elf"]).is_absolute() else out / build["elf"]
        check_elf(elf, board)
        runlog.open_for_append()
        done = runlog.next_window
        log(f"resuming {out}: {done} of {cfg.windows} windows already acknowledged")
    else:
        # 1-3: compile + firmware
        compile_rep, elf_info = None, None
        if cfg.elf:
            elf = Path(cfg.elf)
        else:
            t = time.perf_counter()
            if model.kind == "stub":
                model_dir = STUB_MODEL_DIR
            else:
                model_dir = out / "model"
                compile_rep = compile_for_board(model.path, board, model_dir, log)
                log(f"compiled {model.path} for {target}: {compile_rep['macs']:,} MACs, "
                    f"{compile_rep['layers_count']} layers, arena {compile_rep['arena_bytes']:,} B, "
                    f"weights {compile_rep['weights_bytes']:,} B ({compile_rep['seconds']:.1f} s)")
            secs["compile"] = time.perf_counter() - t
            t = time.perf_counter()
            elf_info = build_firmware(model_dir, board, out / "firmware")
            elf = elf_info.path
            secs["firmware"] = time.perf_counter() - t
            log(f"built {elf} for {board.name}: flash {elf_info.flash_bytes:,} B, RAM {elf_info.ram_bytes:,} B")
        build = {"elf": _rel(elf, out), "flash_bytes": elf_info.flash_bytes if elf_info else None,
                 "ram_bytes": elf_info.ram_bytes if elf_info else None,
                 "compile": _compile_summary(compile_rep)}
        (out / LOG_NAME).unlink(missing_ok=True)  # a new run in this folder replaces the old log
        runlog = RunLog(out / LOG_NAME).open_for_append()
        runlog.append({"kind": "run", "format": FORMAT, "config": _config_record(cfg),
                       "model_sha256": model.sha256, "board_kind": board.kind,
                       "reference": "stub twin (edgekit.firmware.stub_model)" if model.kind == "stub"
                                    else "integer reference (edgekit.ir.reference)",
                       "build": build})
        done = 0

    # 4: windows + reference
    t = time.perf_counter()
    workload = None
    if model.kind == "stub":  # lazy: the stub's twin is cheap, and a long run starts at once
        from ..firmware import stub_model
        x, expected = islice(stub_model.random_windows(cfg.windows, cfg.seed), done, None), stub_model.reference
        n_total = cfg.windows
    else:
        from .workload import ecg_workload
        workload = ecg_workload(cfg.windows, cfg.snrs, cfg.noise, cfg.seed, cfg.data_dir, segments=cfg.segments)
        log(f"windows: {workload.describe()}")
        secs["windows"] = time.perf_counter() - t
        t = time.perf_counter()
        expected = model.reference_outputs(workload.windows.noisy)
        secs["reference"] = time.perf_counter() - t
        n_total = len(workload)
        x = workload.windows.noisy[done:]

    # 5: stream, appending each window to the run log as it arrives
    session = {"kind": "session", "started": _now(), "first_window": done, "command": cfg.command}
    stopped, code, streamed, retry_reasons = None, 0, None, []
    t = time.perf_counter()
    try:
        if done < n_total:
            with open_device(board, elf, port=cfg.port, serial=cfg.serial, timeout=cfg.timeout,
                             flash=cfg.flash) as dev:
                log(f"started {board.kind} pid {getattr(dev.runner, 'pid', None)}")
                retry_reasons = dev.retry_reasons
                hello = dev.info
                if hello.model_hash != model.sha256[:16]:
                    raise RunError(f"the firmware runs model {hello.model_name} hash {hello.model_hash}, but "
                                   f"{model.path or 'stub'} hashes to {model.sha256[:16]}: rebuild it (drop --elf)")
                if runlog.hello is not None and hello_info(runlog.hello) != hello:
                    raise RunLogError(f"{runlog.path}: the device's hello differs from the logged run's "
                                      "(another firmware or board): start a new run instead of --resume")
                runlog.add_hello(hello)
                streamed = evaluate(dev, x, expected, limit=n_total, start=done, progress=cfg.progress,
                                    desc=f"{target} {board.name}", on_result=runlog.add_window)
    except (LinkClosed, DeviceTimeout, DeviceErrorReply, ProtocolError) as e:
        if getattr(type(e), "exit_code", EXIT_LINK) != EXIT_LINK:
            raise
        stopped, code = f"link lost or device fault: {e}", EXIT_LINK
    except KeyboardInterrupt as e:
        stopped, code = ("SIGTERM" if isinstance(e, Interrupted) else "SIGINT"), 143 if isinstance(e, Interrupted) else 130
    finally:
        secs["stream"] = time.perf_counter() - t
        session.update({"stopped": _now(), "windows": runlog.next_window - done, "stop_reason": stopped,
                        "seconds": {k: round(v, 3) for k, v in secs.items()},
                        "stream_wall_s": round(streamed.wall_s, 3) if streamed else None,
                        "retried": streamed.retried if streamed else None,
                        "device_errors": streamed.device_errors if streamed else None,
                        "retry_reasons": retry_reasons[:20]})
        runlog.append(session)
        runlog.close()

    # 6-7: score and report, from the run log alone
    outcome = finish(out, runlog, board, model, workload, expected if workload is not None else None, n_total)
    n = outcome.run["windows"]
    if stopped:
        raise RunStopped(f"run stopped after {n} of {n_total} windows ({stopped}); the results so far are in "
                         f"{out / 'run.json'}; continue with: python scripts/run.py --resume {out}", code)
    return outcome


def _rel(path: Path, out: Path) -> str:
    """A path inside the report folder relative to it (so two report folders compare equal)."""
    try:
        return str(Path(path).resolve().relative_to(out.resolve()))
    except ValueError:
        return str(path)


def _compile_summary(compile_rep: dict | None) -> dict | None:
    if compile_rep is None:
        return None
    return {k: compile_rep.get(k) for k in (
        "macs", "layers_count", "arena_bytes", "weights_bytes", "code_bytes", "rodata_bytes",
        "max_stack_bytes", "flash_needed_bytes", "ram_needed_bytes", "target_flash_bytes",
        "target_ram_bytes", "fits_target", "fit_message", "stream", "arena_plan")} | {"layers": [
            {"index": l["index"], "op": l["op"], "kernel": l.get("kernel")} for l in compile_rep["layers"]]}


def finish(out: Path, runlog: RunLog, board: Board, model, workload, expected, n_total: int) -> RunOutcome:
    """run.json + report.md (+ PNGs) from the run log: the acknowledged windows, in order."""
    if runlog.hello is None:  # nothing streamed: a run.json that says so, and no report
        rec = {"target": board.target, "board": board.name, "complete": False, "windows": 0,
               "windows_planned": n_total, "session": {"sessions": runlog.sessions}}
        (out / "run.json").write_text(json.dumps(rec, indent=1) + "\n")
        reasons = "; ".join(s["stop_reason"] for s in runlog.sessions if s.get("stop_reason"))
        (out / "report.md").write_text(f"# edgekit run: {board.target} on {board.name}\n\n"
                                       f"No window streamed: the device never answered ({reasons}).\n")
        return RunOutcome(rec, None, {"json": out / "run.json", "markdown": out / "report.md"})
    hello = hello_info(runlog.hello)
    n = runlog.next_window
    recs = [runlog.windows[i] for i in range(n)]
    sessions = runlog.sessions
    result = EvalResult(hello, [window_result(r) for r in recs],
                        wall_s=sum(s.get("stream_wall_s") or 0.0 for s in sessions),
                        retried=sum(s.get("retried") or 0 for s in sessions),
                        device_errors=sum(s.get("device_errors") or 0 for s in sessions))
    complete = n == n_total
    scores = None
    if workload is not None and complete:
        from .scoring import onnx_dequant, score
        shape = workload.windows.noisy.shape[1:]
        result.outputs = [device_output(r, expected[r["index"]], shape) for r in recs]
        dq = onnx_dequant(model.int_model)
        scores = {"device": score(workload, np.stack([o[0] for o in result.outputs]),
                                  np.stack([o[1] for o in result.outputs]), dq),
                  "reference": score(workload, np.stack([e[0] for e in expected]),
                                     np.stack([e[1] for e in expected]), dq)}
    record = build_record(runlog.run, board, model, result, workload, scores, complete, n_total)
    record["session"] = session_record(sessions, result)
    example = _example(workload, result, model) if scores is not None else None
    from .report import write_run_report
    paths = write_run_report(record, result, out, example=example)
    return RunOutcome(record, result, paths)


def session_record(sessions: list[dict], result: EvalResult) -> dict:
    """Wall-clock facts, kept apart from the results (they differ between identical runs)."""
    secs = {}
    for s in sessions:
        for k, v in (s.get("seconds") or {}).items():
            secs[k] = round(secs.get(k, 0.0) + v, 3)
    secs["total"] = round(sum(secs.values()), 3)
    return {"seconds": secs, "windows_per_s": result.windows_per_s, "stream_wall_s": round(result.wall_s, 3),
            "retried": result.retried, "device_errors": result.device_errors,
            "sessions": [{k: s.get(k) for k in ("started", "stopped", "first_window", "windows", "stop_reason",
                                                "retry_reasons", "command")} for s in sessions],
            "command": sessions[-1].get("command") if sessions else None}  # the latest session's


def _example(workload, result: EvalResult, model: _Model) -> dict:
    """The first window at the lowest input SNR: noisy / clean / device output, in mV."""
    from ..metrics import MITDB_GAIN
    from .scoring import onnx_dequant

    ws = workload.windows
    i = int(np.argmin(np.where(np.isfinite(ws.snr_db), ws.snr_db, np.inf))) if len(ws) else 0
    scale = (2.0 ** ws.shift[i].astype(np.float64))[:, None] / MITDB_GAIN
    den = onnx_dequant(model.int_model)("denoised", result.outputs[i][0]).reshape(ws.target[i].shape)
    return {"index": i, "record": str(ws.record[i]), "start": int(ws.start[i]),
            "snr_db": float(ws.snr_db[i]), "noise": str(ws.noise[i]),
            "noisy": ws.noisy[i] * scale, "clean": ws.target[i] * scale, "device": den * scale}


def _layers(result: EvalResult, compile_rep: dict | None) -> list[dict]:
    rows = {l["index"]: l for l in compile_rep["layers"]} if compile_rep else {}
    return [{"index": l["index"], "name": l["name"], "op": rows.get(l["index"], {}).get("op"), "macs": l["macs"],
             "kernel": rows.get(l["index"], {}).get("kernel"),
             "count": l["count_p50"], "share": l["share"], "count_per_mac": l["count_per_mac"]}
            for l in result.layers()]


def build_record(logged: dict, board, model, result: EvalResult, workload, scores, complete: bool,
                 n_total: int) -> dict:
    """run.json without its ``session`` key: results only, the same for the same windows."""
    h = result.hello
    lat = result.latency()
    build = logged["build"]
    cfg = logged["config"]
    latency = {"unit": lat.get("unit", h.counter_kind), "p50": lat.get("p50"), "p99": lat.get("p99"),
               "max": lat.get("max"), "min": lat.get("min"), "mean": lat.get("mean"),
               "p50_us": lat.get("p50_us"), "p99_us": lat.get("p99_us"), "max_us": lat.get("max_us"),
               "clock_hz": h.clock_hz, "per_mac": lat.get("per_mac_p50"), "total_macs": h.total_macs,
               "distinct_counts": len(set(result.counts))}
    compile_rep = build.get("compile")
    rec = {
        "target": board.target, "board": board.name, "board_kind": board.kind,
        "model": cfg["model"], "model_sha256": logged["model_sha256"],
        "model_name": h.model_name, "model_hash": h.model_hash,
        "reference": logged["reference"],
        "complete": complete, "windows_planned": n_total,
        "windows": result.n, "bit_exact": result.n_bit_exact, "all_bit_exact": complete and result.bit_exact,
        "mismatched_windows": [w.index for w in result.windows if not w.bit_exact],
        "latency": latency,
        "layers": _layers(result, compile_rep),
        "flash_bytes": build.get("flash_bytes"),
        "ram_bytes": build.get("ram_bytes"),
        "elf": build["elf"],
        "serial": cfg.get("serial") if board.kind == "qemu" else ("port" if board.kind == "hardware" else "pipe"),
        "counts": result.counts,
        "timing": real_time(latency, board, h.input_length / _fs()),
        "versions": tool_versions(board),
    }
    if compile_rep is not None:
        rec["compile"] = {k: v for k, v in compile_rep.items() if k != "layers"}
        rec["model_flash_bytes"] = compile_rep.get("flash_needed_bytes")
        rec["model_ram_bytes"] = compile_rep.get("ram_needed_bytes")
        rec["fits_target"] = compile_rep.get("fits_target")
    if workload is not None:
        ws = workload.windows
        rec["data"] = {"records": workload.records, "noise": workload.noise,
                       "snrs": [float(s) for s in workload.snrs], "seed": workload.seed,
                       "segments": workload.segment is not None,
                       "windows_per_snr": {k: int(v) for k, v in zip(*np.unique(workload.snr_keys, return_counts=True))},
                       "af_windows": int(np.sum(ws.af == 1)), "excluded_windows": int(np.sum(ws.af < 0))}
        if scores is not None:
            rec["denoise"] = scores["device"]["denoise"]
            rec["af"] = scores["device"]["af"]
            rec["reference_metrics"] = scores["reference"]
            rec["metrics_equal_reference"] = _equal(scores["device"], scores["reference"])
    return rec


def _fs() -> int:
    from ..data import FS  # the sampling rate: a window of input_length samples lasts input_length / FS s
    return FS


def tool_versions(board: Board) -> dict:
    """edgekit, TVM and the target's C compiler, for the report."""
    import subprocess
    from importlib import metadata

    from .. import __version__
    out = {"edgekit": __version__}
    try:
        out["TVM"] = metadata.version("apache-tvm")
    except metadata.PackageNotFoundError:
        out["TVM"] = "not installed"
    gcc = load_target(board.target).tool("gcc")
    try:
        out["gcc"] = subprocess.run([gcc, "--version"], capture_output=True, text=True,
                                    timeout=20).stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        out["gcc"] = f"{gcc}: not found"
    return out


def _equal(a, b) -> bool:
    """Exact equality of nested metric dicts (NaN equals NaN)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b

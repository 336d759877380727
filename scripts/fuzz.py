#!/usr/bin/env python3
"""Fuzz the device protocol's parsers, briefly (the tests) or long (by hand, before a release).

Targets:
  firmware      libFuzzer + ASan + UBSan (clang) on the firmware's frame parser and request
                handling: firmware_templates/common/main.c built for the host around the stub
                model, fed one input as the UART's bytes (fuzz/firmware_parser.c)
  host          libFuzzer (atheris) on the host parser, edgekit.harness.protocol.FrameParser,
                checked against a reference model of the protocol (fuzz/host_parser.py)
  differential  random streams into the firmware's host build (ASan + UBSan, the stub model)
                over its stdin, every reply byte checked against a Python model of the
                firmware's receive loop (fuzz/differential.py)

  scripts/fuzz.py --seconds 25                        # each target for 25 s
  scripts/fuzz.py --runs 1000000 --target firmware    # a long run: 10^6 inputs
  nice -n 10 scripts/fuzz.py --runs 1000000 --out build/fuzz   # all three, 10^6 inputs each

Prints, per target: inputs run, crashes, sanitizer reports, hangs (an input running longer than
--input-timeout), and the command; the last line is a JSON summary. Exit 0 if every target ran
clean, 1 if any found something (its reproducer is under OUT/<target>/artifacts), 2 on a setup
error (clang or libclang-rt-14-dev or atheris missing: the error names the package).
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgekit.cli import EXIT_USAGE, fail, main_guard  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FUZZ = REPO / "fuzz"
TEMPLATES = REPO / "firmware_templates"
TARGETS = ("firmware", "host", "differential")
FUZZ_FLAGS = ("-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
              "-g", "-O1", "-Wall", "-Wextra", "-Werror")


def build_firmware_fuzzer(out: Path) -> Path:
    """clang the firmware's main.c (as edgekit_firmware_main) + the stub model + the harness."""
    from edgekit.firmware.build import STUB_MODEL_DIR, board_header
    from edgekit.firmware.targets import load_board

    clang = shutil.which("clang")
    if clang is None:
        fail("clang not found; install it with: sudo apt-get install --no-install-recommends clang libclang-rt-14-dev")
    out.mkdir(parents=True, exist_ok=True)
    (out / "edgekit_board.h").write_text(board_header(load_board("host")))
    exe = out / "firmware_parser"
    cmd = [clang, *FUZZ_FLAGS, "-Dmain=edgekit_firmware_main", f"-I{out}", f"-I{TEMPLATES / 'common'}",
           f"-I{STUB_MODEL_DIR}", str(TEMPLATES / "common" / "main.c"), str(STUB_MODEL_DIR / "model.c"),
           str(FUZZ / "firmware_parser.c"), "-o", str(exe)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        hint = (" (libFuzzer's runtime is missing: sudo apt-get install libclang-rt-14-dev)"
                if "libclang_rt.fuzzer" in p.stderr or "fuzzer" in p.stderr else "")
        fail(f"building the firmware fuzzer failed{hint}: {shlex.join(cmd)}\n{p.stderr}", 3)
    return exe


def firmware_seeds(out: Path) -> Path:
    """A few well-formed and malformed requests to start from."""
    from edgekit.harness import protocol as P

    seeds = out / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    good = P.encode_frame(P.INFER, 1, bytes(range(256)) * 4)
    for name, data in {"hello": P.encode_frame(P.HELLO, 1), "infer": good,
                       "hello_then_infer": P.encode_frame(P.HELLO, 2) + good,
                       "bad_crc": good[:-1] + bytes([good[-1] ^ 1]),
                       "too_long": P.SYNC + P.HEADER.pack(P.INFER, 3, 1025),
                       "too_long_with_payload": P.encode_frame(P.INFER, 5, bytes(range(256)) * 4 + b"!"),
                       "unknown": P.encode_frame(0x55, 4, b"abc")}.items():
        (seeds / name).write_bytes(data)
    return seeds


def parse_libfuzzer(text: str, artifacts: Path) -> dict:
    stat = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    runs = re.findall(r"Done (\d+) runs in", text)
    last = re.findall(r"#(\d+)\s+(?:pulse|NEW|REDUCE|DONE|INITED|RELOAD)", text)
    n = int((stat or runs or last or [0])[-1])
    files = sorted(p.name for p in artifacts.glob("*")) if artifacts.exists() else []
    return {"inputs": n,
            "crashes": sum(f.startswith(("crash-", "oom-", "leak-")) for f in files),
            "sanitizer_reports": len(re.findall(r"ERROR: (?:AddressSanitizer|UndefinedBehaviorSanitizer|"
                                                r"LeakSanitizer)|runtime error:", text)),
            "hangs": sum(f.startswith(("timeout-", "slow-unit-")) for f in files),
            "uncaught_exceptions": text.count("Uncaught Python exception"),
            "artifacts": [str(artifacts / f) for f in files]}


def run_libfuzzer(name: str, cmd: list[str], out: Path, runs: int | None, seconds: float | None,
                  input_timeout: int, corpus_seed: Path | None = None) -> dict:
    corpus, artifacts = out / "corpus", out / "artifacts"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    args = [*cmd, f"-timeout={input_timeout}", f"-artifact_prefix={artifacts}/", "-print_final_stats=1",
            "-max_len=4096", f"-dict={FUZZ / 'protocol.dict'}"]
    if runs:
        args.append(f"-runs={runs}")
    if seconds:
        args.append(f"-max_total_time={int(seconds)}")
    args += [str(corpus)] + ([str(corpus_seed)] if corpus_seed else [])
    t = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, cwd=out)
    (out / "log.txt").write_text(p.stdout + p.stderr)
    res = parse_libfuzzer(p.stdout + p.stderr, artifacts)
    res.update({"target": name, "exit_code": p.returncode, "seconds": round(time.monotonic() - t, 1),
                "command": shlex.join(args)})
    return res


def run_target(name: str, out: Path, runs: int | None, seconds: float | None, input_timeout: int) -> dict:
    out = out / name
    out.mkdir(parents=True, exist_ok=True)
    if name == "firmware":
        exe = build_firmware_fuzzer(out / "build")
        return run_libfuzzer(name, [str(exe)], out, runs, seconds, input_timeout, firmware_seeds(out))
    if name == "host":
        try:
            import atheris  # noqa: F401
        except ImportError:
            fail("atheris not found; install it with: pip install atheris (scripts/setup.sh does)")
        return run_libfuzzer(name, [sys.executable, str(FUZZ / "host_parser.py")], out, runs, seconds, input_timeout)
    cmd = [sys.executable, str(FUZZ / "differential.py"), "--out", str(out)]
    if runs:
        cmd += ["--frames", str(runs)]
    if seconds:
        cmd += ["--seconds", str(seconds)]
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    (out / "log.txt").write_text(p.stdout + p.stderr)
    try:
        res = json.loads(p.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        res = {"inputs": 0, "crashes": 1, "sanitizer_reports": 0, "hangs": 0, "error": (p.stdout + p.stderr)[-2000:]}
    res.update({"target": name, "exit_code": p.returncode, "seconds": round(time.monotonic() - t, 1),
                "command": shlex.join(cmd)})
    return res


def clean(res: dict) -> bool:
    return (res["exit_code"] == 0 and res["inputs"] > 0 and not res["crashes"] and not res["sanitizer_reports"]
            and not res["hangs"] and not res.get("uncaught_exceptions"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=(*TARGETS, "all"), default="all")
    ap.add_argument("--seconds", type=float, help="run each target this long")
    ap.add_argument("--runs", type=int, help="inputs per target (differential: frames)")
    ap.add_argument("--input-timeout", type=int, default=10, help="seconds before one input counts as a hang")
    ap.add_argument("--out", default=str(REPO / "build" / "fuzz"), help="work folder (default build/fuzz)")
    a = ap.parse_args()
    if not a.seconds and not a.runs:
        fail("give --seconds or --runs (or both: whichever ends first)", EXIT_USAGE)
    out = Path(a.out).resolve()
    results = []
    for name in TARGETS if a.target == "all" else (a.target,):
        res = run_target(name, out, a.runs, a.seconds, a.input_timeout)
        results.append(res)
        print(f"{name:<13} inputs {res['inputs']:>10,}  crashes {res['crashes']}  sanitizer reports "
              f"{res['sanitizer_reports']}  hangs {res['hangs']}  {res['seconds']:.0f} s  "
              f"{'clean' if clean(res) else 'FOUND SOMETHING: see ' + str(out / name)}\n"
              f"              command: {res['command']}", flush=True)
    print(json.dumps(results))
    return 0 if all(clean(r) for r in results) else 1


if __name__ == "__main__":
    main_guard(main)

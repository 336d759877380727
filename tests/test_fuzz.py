"""The fuzz targets run in CI, briefly (scripts/fuzz.py runs them long): libFuzzer with ASan +
UBSan on the firmware's frame parser, libFuzzer (atheris) on the host parser against a reference
model of the protocol, and the differential fuzzer (firmware host build vs a Python model of its
receive loop). Each must run clean: no crash, no sanitizer report, no hang, no mismatch.
Missing clang / libclang-rt-14-dev / atheris make these FAIL naming the package."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SECONDS = 20
MIN_INPUTS = {"firmware": 20_000, "host": 2_000, "differential": 2_000}


@pytest.mark.slow
@pytest.mark.parametrize("target", ["firmware", "host", "differential"])
def test_fuzz_target_runs_clean(target, tmp_path):
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "fuzz.py"), "--target", target,
                        "--seconds", str(SECONDS), "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=REPO, timeout=SECONDS + 240)
    assert p.returncode in (0, 1), p.stderr[-3000:]  # 2: setup error (the message names the package)
    (res,) = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"\n{target}: {res['inputs']:,} inputs in {res['seconds']} s")
    assert (res["crashes"], res["sanitizer_reports"], res["hangs"], res.get("mismatches", 0)) == (0, 0, 0, 0), \
        (res, (tmp_path / target / "log.txt").read_text()[-3000:])
    assert p.returncode == 0 and res["inputs"] >= MIN_INPUTS[target], res

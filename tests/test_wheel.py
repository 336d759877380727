"""A built wheel works outside the repository: it is installed into a fresh virtual environment in
a temporary folder, and from there `edgekit compile --target cortex-m7` and a 5-window
`edgekit run --target cortex-m7 --qemu` work with the targets, board files, firmware templates,
stand-in headers and shipped model found as package data; torch is never imported (the environment has none: a blocker makes it
unimportable, as in a base install, and the import log shows it was never loaded); `edgekit
--help` answers in under a second.

The wheel is installed with --no-deps and without the network: the fresh environment sees the
dependencies already installed for the test run through a .pth line naming this interpreter's
site-packages (not --system-site-packages: that would be the base Python's, not .venv's). A plain
path line does not run that folder's own .pth files, so the checkout's editable install stays
invisible and `import edgekit` is the wheel's, which the test checks. Installing the dependencies
from the network instead would take minutes and fail offline.
"""
import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

pytestmark = [pytest.mark.qemu, pytest.mark.cortex_m7, pytest.mark.slow]


def _ok(cmd, **kw):
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=1200, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # no checkout on the path
    _ok([sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist"],
        cwd=root, env=clean)
    wheel = next((root / "dist").glob("edgekit-*.whl"))
    env_dir = root / "venv"
    _ok([sys.executable, "-m", "venv", "--without-pip", env_dir], env=clean)
    py = env_dir / "bin" / "python"
    _ok([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", wheel], cwd=root, env=clean)
    # after the install: pip would otherwise take the checkout's editable edgekit for already installed
    purelib = Path(_ok([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=clean).stdout.strip())
    (purelib / "_edgekit_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # the base install has no torch: make it unimportable, as if absent (TVM's FFI imports it when it
    # can, optionally; edgekit must never need it on the deploy path)
    (purelib / "_edgekit_no_torch.py").write_text(NO_TORCH)
    (purelib / "_edgekit_no_torch.pth").write_text("import _edgekit_no_torch\n")
    work = root / "work"
    work.mkdir()
    env = dict(clean)
    env.update({"PATH": f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}", "EDGEKIT_DATA": str(DATA)})
    return {"py": py, "edgekit": env_dir / "bin" / "edgekit", "work": work, "env": env}


NO_TORCH = """\
import atexit
import sys


class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith(("torch.", "torch_")):
            raise ImportError(f"{name} is not installed (edgekit's base install)")
        return None


sys.meta_path.insert(0, _NoTorch())
atexit.register(lambda: print("torch modules loaded:", sorted(m for m in sys.modules if m.split(".")[0] == "torch"),
                              file=sys.stderr))
"""


def _no_torch(stderr: str) -> bool:
    return "torch modules loaded: []" in stderr


def test_installed_edgekit_is_the_wheel(venv):
    r = _ok([venv["py"], "-c", "import edgekit, edgekit.resources as r; print(edgekit.__file__); "
                               "print(r.targets_dir()); print(r.default_model())"], cwd=venv["work"], env=venv["env"])
    where, targets, model = r.stdout.split()
    for p in (where, targets, model):
        assert not Path(p).resolve().is_relative_to(REPO), p
    assert Path(model).is_file() and (Path(targets) / "cortex-m7.toml").is_file()


def test_compile_and_run_from_the_wheel_without_torch(venv):
    r = _ok([venv["edgekit"], "compile", "--target", "cortex-m7"], cwd=venv["work"], env=venv["env"])
    assert _no_torch(r.stderr), r.stderr[-2000:]
    out = venv["work"] / "build" / "cortex-m7"
    assert (out / "lib" / "model.h").is_file() and (out / "firmware" / "firmware.elf").is_file()
    assert json.loads((out / "lib" / "compile.json").read_text())["layers_count"] == 45

    r = _ok([venv["edgekit"], "run", "--target", "cortex-m7", "--qemu", "--windows", "5", "--out", "run",
             "--no-progress"], cwd=venv["work"], env=venv["env"])
    assert _no_torch(r.stderr), r.stderr[-2000:]
    run = json.loads((venv["work"] / "run" / "run.json").read_text())
    assert run["windows"] == 5 and run["bit_exact"] == 5 and run["all_bit_exact"] and run["metrics_equal_reference"]
    report = (venv["work"] / "run" / "report.md").read_text()
    for words in ("latency (ms, estimate)", "nucleo-f746zg", "real-time factor", "| command | edgekit run --target cortex-m7 --qemu --windows 5",
                  "| versions | edgekit ", "## Instructions per layer", "![arena plan](arena.png)"):
        assert words in report, words
    for png in ("layers.png", "arena.png", "denoise_example.png"):
        assert (venv["work"] / "run" / png).read_bytes()[:4] == b"\x89PNG", png


def test_help_is_fast(venv):
    best = min(_timed([venv["edgekit"], "--help"], venv["work"], venv["env"]) for _ in range(3))
    assert best < 1.0, f"edgekit --help took {best:.2f} s"


def _timed(cmd, cwd, env) -> float:
    t = time.perf_counter()
    _ok(cmd, cwd=cwd, env=env)
    return time.perf_counter() - t

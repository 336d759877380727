"""No unpickling of files a user did not write: a planted pickle in OUT/checkpoint.pt or passed as
--init-float is refused with one clear line, and the code in it never runs."""
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edgekit.model.checkpoint import CheckpointError, load_torch_file
from edgekit.model.train import TrainConfig, train

from test_model import SMALL, _draw

REPO = Path(__file__).resolve().parents[1]


class _Planted:
    """Unpickling this creates the file `marker` (a stand-in for any code)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(path: Path, marker: Path, how: str) -> Path:
    payload = {"model": _Planted(marker), "opt": {}, "epoch": 0, "qat": False, "history_json": "[]",
               "plan_len": 2, "torch_rng": torch.get_rng_state()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "torch":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    return path


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_the_planted_pickle_is_real(tmp_path, how):
    """Control: loading the planted file the unsafe way does run its code."""
    marker = tmp_path / "ran"
    path = _plant(tmp_path / "checkpoint.pt", marker, how)
    if how == "torch":
        torch.load(path, weights_only=False)
    else:
        pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_resume_refuses_a_planted_checkpoint(tmp_path, how):
    marker = tmp_path / "ran"
    _plant(tmp_path / "out" / "checkpoint.pt", marker, how)
    cfg = TrainConfig(float_epochs=1, qat_epochs=1, windows_per_epoch=64, batch=32, model=SMALL.to_dict())
    with pytest.raises(CheckpointError, match=r"checkpoint .*checkpoint\.pt was refused.*never unpickles"):
        train(cfg, _draw, tmp_path / "out", resume=True, log=lambda _m: None)
    assert not marker.exists()


def test_init_float_refuses_a_planted_file_in_one_line(tmp_path):
    marker = tmp_path / "ran"
    evil = _plant(tmp_path / "float.pt", marker, "torch")
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "train.py"), "--out", str(tmp_path / "o"),
                        "--init-float", str(evil)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: --init-float weights") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr and not marker.exists()


def test_a_checkpoint_holds_only_plain_data(tmp_path):
    """What train() writes loads with weights_only=True (and the resume test in test_model.py
    shows it resumes bit for bit)."""
    cfg = TrainConfig(float_epochs=1, qat_epochs=1, windows_per_epoch=64, batch=32, model=SMALL.to_dict())

    class Stop(Exception):
        pass

    def stop(msg):
        if msg.startswith('{"epoch": 2'):
            raise Stop

    with pytest.raises(Stop):
        train(cfg, _draw, tmp_path, log=stop)
    state = load_torch_file(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 0 and isinstance(state["history_json"], str)
    assert state["torch_rng"].dtype == torch.uint8
    with pytest.raises(CheckpointError, match="does not exist"):
        load_torch_file(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00not a torch file")
    with pytest.raises(CheckpointError, match="junk.pt was refused"):
        load_torch_file(tmp_path / "junk.pt")

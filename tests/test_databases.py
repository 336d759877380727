"""qtdb, svdb and vfdb records in mitdb's form (360 Hz, 200 adu/mV) and the cross-database patient split."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import wfdb
from scipy.signal import resample_poly

from edgekit.data import (FS, af_mask, cross_database_split, database_records, evaluation_windows, load_record,
                          resolve_data_dir, rhythm_share_weights, sample_training_windows, source_of, split_records)
from edgekit.data.baseline import clean_adc
from edgekit.data.splits import XDB_HELD_OUT, edb_groups

MODEL_JSON = Path(__file__).resolve().parents[1] / "models" / "acdae" / "model.json"


@pytest.mark.parametrize("name, fs, n_in", [("qtdb/sele0104", 250, 225000), ("svdb/800", 128, 230400),
                                            ("vfdb/609", 250, 525000)])
def test_records_are_resampled_to_360_hz_in_mitdb_units(name, fs, n_in):
    d = resolve_data_dir()
    rec = load_record(d, name)
    raw = wfdb.rdrecord(str(d / name))
    assert raw.fs == fs and raw.sig_len == n_in
    assert rec.fs == FS and rec.adc.dtype == np.int16 and rec.adc.shape == (2, round(n_in * FS / fs))
    assert rec.gain == [200.0, 200.0] and rec.baseline == [0, 0]
    # the same signal in mV: wfdb's physical units resampled by the polyphase filter, at 200 adu/mV
    up, down = {250: (36, 25), 128: (45, 16)}[fs]
    mv = resample_poly(raw.p_signal.T, up, down, axis=1)
    assert np.max(np.abs(rec.adc / 200.0 - mv)) <= 0.5 / 200.0 + 1e-6
    # a typical ECG amplitude after the baseline is removed (mitdb's leads: 25-40 adu rms)
    rms = clean_adc(d, name).std(axis=1)
    assert np.all((rms > 5) & (rms < 300)), rms


def test_annotations_are_rescaled_to_360_hz():
    d = resolve_data_dir()
    rec = load_record(d, "svdb/800")
    ann = wfdb.rdann(str(d / "svdb/800"), "atr")
    assert len(rec.beat_samples) > 1000
    assert rec.beat_samples[0] == round(ann.sample[np.flatnonzero([s == "N" for s in ann.symbol])[0]] * 360 / 128)


def test_af_labels_come_from_vfdb_rhythm_notes_only():
    d = resolve_data_dir()
    af609, af615 = af_mask(load_record(d, "vfdb/609")), af_mask(load_record(d, "vfdb/615"))
    # SOURCE.md: about 17.0 of 35 min and 34.4 of 35 min of AFIB
    assert (af609 == 1).sum() / FS / 60 == pytest.approx(17.0, abs=0.3)
    assert (af615 == 1).sum() / FS / 60 == pytest.approx(34.4, abs=0.3)
    for name in ("svdb/800", "qtdb/sel30", "qtdb/sele0121"):  # sele0121 has a stray (VT note: still -1
        rec = load_record(d, name)
        assert not rec.has_rhythm and np.all(af_mask(rec) == -1)
    ws = evaluation_windows(d, ["vfdb/615", "qtdb/sel30"], "mixed", 6, per_record=8)
    assert set(ws.af[ws.record == "qtdb/sel30"]) == {-1}
    assert (ws.af[ws.record == "vfdb/615"] == 1).mean() >= 0.75


def test_database_listings_leave_out_mitdb_duplicates():
    d = resolve_data_dir()
    qt = database_records(d, "qtdb")
    assert len(qt) == 90 and "qtdb/sel100" not in qt and "qtdb/sel30" in qt
    assert len(database_records(d, "svdb")) == 20 and database_records(d, "vfdb") == ["vfdb/609", "vfdb/615"]


def test_cross_database_split_is_disjoint_and_holds_out_every_source():
    d = resolve_data_dir()
    split = cross_database_split(d)
    assert split == cross_database_split(d)  # deterministic
    names = [n for s in split.values() for n in s]
    everything = database_records(d, "qtdb") + database_records(d, "svdb") + database_records(d, "vfdb")
    assert len(names) == len(set(names)) and sorted(names) == sorted(everything)
    assert len(split["test"]) >= 15 and len(split["val"]) >= 15
    for s in ("val", "test"):
        assert set(Counter(map(source_of, split[s]))) == set(XDB_HELD_OUT)  # every source database
    assert {"vfdb/609", "vfdb/615"} <= set(split["train"])
    # records that may share a European ST-T subject stay on one side
    side = {n: s for s, v in split.items() for n in v}
    edb = [n for n in everything if source_of(n) == "edb"]
    for group in edb_groups(d, edb):
        assert len({side[n] for n in group}) == 1, group
    # no mitdb patient anywhere in the cross-database split
    assert not set(names) & {f"qtdb/sel{r}" for r in split_records(d)["test"]}


def test_edb_groups_link_same_sex_and_age_within_a_year():
    d = resolve_data_dir()
    groups = edb_groups(d, ["qtdb/sele0121", "qtdb/sele0122", "qtdb/sele0203", "qtdb/sele0107"])
    # 0121 and 0122: M 51; 0107: M 52 (within a year); 0203: F 64
    assert groups == [["qtdb/sele0107", "qtdb/sele0121", "qtdb/sele0122"], ["qtdb/sele0203"]]


def test_mitdb_split_is_unchanged():
    shipped = json.loads(MODEL_JSON.read_text())["training"]["split"]
    assert split_records(resolve_data_dir()) == shipped


def test_rhythm_share_weights_and_weighted_draws():
    recs = ["100", "vfdb/609", "qtdb/sel30", "svdb/800", "svdb/801"]
    w = rhythm_share_weights(recs, 0.5)
    assert w.sum() == pytest.approx(1.0)
    assert w[:2].sum() == pytest.approx(0.5) and w[2] == pytest.approx(0.5 / 3)
    assert rhythm_share_weights(recs, None) is None and rhythm_share_weights(["100", "101"], 0.5) is None
    ws = sample_training_windows(resolve_data_dir(), recs, 600, seed=1, weights=w)
    frac = np.isin(ws.record, ["100", "vfdb/609"]).mean()
    assert 0.42 < frac < 0.58
    assert set(ws.af[np.isin(ws.record, ["qtdb/sel30", "svdb/800", "svdb/801"])]) == {-1}
    with pytest.raises(ValueError, match="one non-negative value per record"):
        sample_training_windows(resolve_data_dir(), recs, 10, seed=1, weights=[1.0, 2.0])


@pytest.mark.parametrize("args, says", [(["--databases", "qtdb,nsrdb"], "unknown nsrdb"),
                                        (["--databases", "qtdb", "--rhythm-share", "1.5"], "fraction in (0, 1)")])
def test_bad_database_options_are_usage_errors(capsys, args, says):
    import runpy
    import sys

    argv, sys.argv = sys.argv, ["train.py", "--out", "unused"] + args
    try:
        with pytest.raises(SystemExit) as e:
            runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "train.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert e.value.code == 2 and says in capsys.readouterr().err


def test_export_checkpoint_without_a_checkpoint_is_a_usage_error(tmp_path, capsys):
    import runpy
    import sys

    argv, sys.argv = sys.argv, ["train.py", "--out", str(tmp_path), "--export-checkpoint", "--tiny"]
    try:
        with pytest.raises(SystemExit) as e:
            runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "train.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert e.value.code == 2 and "checkpoint.pt does not exist" in capsys.readouterr().err

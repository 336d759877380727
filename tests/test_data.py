"""edgekit.data on the real PhysioNet data (resolve_data_dir()): records, labels, noise, mixing,
device scaling, splits, window sets, CinC 2017 and the error messages.

The data directory is resolved inside each test body, so missing data FAILS with the
download instructions instead of skipping (see tests/conftest.py).
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import wfdb

from edgekit.data import (
    AF_RECORDS, FS, NOISE_KINDS, SEGMENT, WINDOW, DataError, af_mask, evaluation_windows, load_cinc2017,
    load_noise, load_record, measure_snr_db, mitdb_records, mix, noise_part, normalize,
    resolve_data_dir, sample_training_windows, segment_windows, split_records, target, to_adc,
)
from edgekit.data.mixing import combined_noise
from edgekit.data.windows import WindowSet, _gather, af_label, segment_label

SNR_RECORDS = ("100", "119", "203", "221")


def data():
    return resolve_data_dir()


def clean_and_noise(records=SNR_RECORDS, per_record=16, seed=0):
    """Clean windows evenly spaced through `records` and random test-part noise for each."""
    d = data()
    starts = np.linspace(0, 650000 - WINDOW, per_record).astype(np.int64)
    clean = np.concatenate([_gather(load_record(d, r).adc, starts) for r in records])
    rng = np.random.default_rng(seed)
    segs = {}
    for k in ("bw", "ma", "em"):
        part = noise_part(load_noise(d, k), "test")
        segs[k] = _gather(part, rng.integers(0, part.shape[1] - WINDOW, len(clean)))
    return clean, segs


# ---------------------------------------------------------------- records and labels

def test_record_100_matches_physionet():
    rec = load_record(data(), "100")
    assert rec.adc.shape == (2, 650000) and rec.adc.dtype == np.int16
    assert rec.fs == FS == 360
    assert rec.lead_names == ["MLII", "V5"]
    assert rec.gain == [200.0, 200.0] and rec.baseline == [1024, 1024]
    assert rec.adc[:, 0].tolist() == [995, 1011]  # first samples, as in the header checksum line
    assert len(rec.beat_samples) == len(rec.beat_symbols) == 2273  # PhysioNet: 2273 beats
    assert set(rec.beat_symbols) == {"N", "A", "V"}
    assert rec.beat_samples.dtype == np.int64 and np.all(np.diff(rec.beat_samples) > 0)
    assert rec.rhythm_labels == ["(N"] and load_record(data(), "100") is rec  # cached


def test_mitdb_has_48_records():
    names = mitdb_records(data())
    assert len(names) == 48 and names[0] == "100" and names[-1] == "234"


def test_af_mask_labels():
    d = data()
    m201, m100 = af_mask(load_record(d, "201")), af_mask(load_record(d, "100"))
    assert m201.dtype == np.int8 and m201.shape == (650000,)
    assert (m201 == 1).sum() / FS / 60 == pytest.approx(10.10, abs=0.01)
    assert not (m201 == -1).any()
    assert not m100.any()
    for name, afl_minutes in (("202", 0.80), ("203", 5.24)):
        m = af_mask(load_record(d, name))
        assert (m == -1).sum() / FS / 60 == pytest.approx(afl_minutes, abs=0.01)
        assert (m == 1).any()


def test_af_episodes_only_in_af_records_and_total_matches_readme():
    d = data()
    minutes = {r: (af_mask(load_record(d, r)) == 1).sum() / FS / 60 for r in mitdb_records(d)}
    assert {r for r, m in minutes.items() if m > 0} == set(AF_RECORDS)
    assert sum(minutes.values()) == pytest.approx(132.6, abs=0.05)  # data README: 132.6 min


def test_af_mask_holds_each_rhythm_until_the_next():
    rec = load_record(data(), "202")
    mask = af_mask(rec)
    for s, e, label in zip(rec.rhythm_samples, list(rec.rhythm_samples[1:]) + [rec.n_samples],
                           rec.rhythm_labels):
        expected = {"(AFIB": 1, "(AFL": -1}.get(label, 0)
        assert np.all(mask[s:e] == expected), (s, label)


# ---------------------------------------------------------------- noise

def test_noise_records():
    d = data()
    for kind, n in (("bw", 650000), ("ma", 650000), ("em", 282800)):
        x = load_noise(d, kind)
        assert x.shape == (2, n) and x.dtype == np.float64
        assert np.abs(x.mean(axis=1)).max() < 1e-6
    assert load_noise(d, "em").std(axis=1) == pytest.approx([914.2, 411.4], abs=0.1)  # derived em
    with pytest.raises(ValueError, match="mixed"):
        load_noise(d, "mixed")  # built by mixing, not a record


def test_train_and_test_noise_do_not_overlap():
    x = load_noise(data(), "ma")
    train, test = noise_part(x, "train"), noise_part(x, "test")
    assert train.shape[1] == int(0.7 * 650000) and train.shape[1] + test.shape[1] == 650000
    assert np.array_equal(np.concatenate([train, test], axis=1), x)  # contiguous, disjoint
    # views into different halves of one buffer: the last train sample sits before the first test one
    assert train[:, -1:].ctypes.data < test[:, :1].ctypes.data
    with pytest.raises(ValueError, match="train"):
        noise_part(x, "val")


# ---------------------------------------------------------------- mixing

@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_mix_hits_requested_snr(kind):
    clean, segs = clean_and_noise()
    for snr in (-6, 0, 12, 24):
        noisy = mix(clean, segs, kind, snr)
        assert noisy.dtype == np.int16 and noisy.shape == clean.shape
        err = measure_snr_db(clean, noisy) - snr
        assert np.abs(err).max() < 0.1, (kind, snr, np.abs(err).max())
        # the added noise is mean-free per window (up to rounding)
        assert np.abs((noisy.astype(float) - clean).mean(axis=-1)).max() < 1.0


def test_mix_per_window_snr_and_single_window():
    clean, segs = clean_and_noise(("100",), per_record=8)
    snr = np.linspace(-6, 24, 8)
    err = measure_snr_db(clean, mix(clean, segs, "ma", snr)) - snr[:, None]
    assert np.abs(err).max() < 0.1
    one = mix(clean[3], {k: v[3] for k, v in segs.items()}, "bw", 6.0)
    assert one.shape == (2, WINDOW) and np.abs(measure_snr_db(clean[3], one) - 6).max() < 0.1
    assert np.array_equal(one, mix(clean[3], {k: v[3] for k, v in segs.items()}, "bw", 6.0))


def test_mixed_noise_is_three_noises_at_equal_power():
    _, segs = clean_and_noise(("100",), per_record=4)
    total = combined_noise(segs, "mixed").astype(np.float64)
    parts = []
    for k in ("bw", "ma", "em"):
        p = segs[k] - segs[k].mean(axis=-1, keepdims=True)
        parts.append(p / np.sqrt((p ** 2).sum(axis=-1, keepdims=True)))
    np.testing.assert_allclose(total, sum(parts), atol=1e-5)


def test_mix_rejects_bad_snr_and_kind():
    clean, segs = clean_and_noise(("100",), per_record=2)
    for bad in (-21, 61, np.nan):
        with pytest.raises(ValueError, match=r"-20, 60"):
            mix(clean, segs, "bw", bad)
    with pytest.raises(ValueError, match="'bw', 'ma', 'em', 'mixed'"):
        mix(clean, segs, "white", 0)
    with pytest.raises(ValueError, match="missing"):
        mix(clean, {"bw": segs["bw"]}, "mixed", 0)


# ---------------------------------------------------------------- device scaling

def test_normalize_is_minimal_and_matches_float_reference():
    rng = np.random.default_rng(1)
    clean, segs = clean_and_noise(("100", "203"), per_record=16)
    amp = 2.0 ** rng.integers(0, 15, (64, 2, 1))  # amplitudes that need every shift 0..14
    synthetic = np.clip(np.rint(rng.standard_normal((64, 2, WINDOW)) * amp), -32768, 32767)
    windows = [clean, mix(clean, segs, "mixed", 0), synthetic.astype(np.int16),
               np.full((1, 2, WINDOW), 1024, np.int16)]
    for adc in windows:
        q, mean, shift = normalize(adc)
        assert q.dtype == np.int8 and mean.dtype == np.int32 and shift.dtype == np.int32
        assert mean.shape == shift.shape == adc.shape[:-1]
        x = adc.astype(np.float64)
        assert np.array_equal(mean, np.floor(x.sum(axis=-1) / WINDOW))
        v = x - mean[..., None]
        scaled = np.floor(v / 2.0 ** shift[..., None] + 0.5)  # float round-half-up
        assert scaled.min() >= -128 and scaled.max() <= 127
        assert np.array_equal(q, scaled)
        s1 = np.maximum(shift - 1, 0)[..., None]
        finer = np.floor(v / 2.0 ** s1 + 0.5)
        overflow = (finer.max(axis=-1) > 127) | (finer.min(axis=-1) < -128)
        assert np.all(overflow | (shift == 0))  # one shift less would not fit int8
    assert set(np.unique(normalize(windows[2])[2])) >= set(range(0, 9))
    with pytest.raises(ValueError, match="power of two"):
        normalize(np.zeros((2, 500), np.int16))


def test_target_and_to_adc_invert_the_scaling():
    clean, _ = clean_and_noise(("119",), per_record=8)
    q, mean, shift = normalize(clean)
    t = target(clean, shift)
    assert t.dtype == np.float32 and t.shape == clean.shape
    back = to_adc(t, clean.mean(axis=-1), shift)
    np.testing.assert_allclose(back, clean, atol=1e-3 * 2.0 ** shift.max())
    # q is the same signal, rounded: within half a step plus the floor of the integer mean
    assert np.abs(q - t).max() <= 1.5
    np.testing.assert_allclose(to_adc(q, mean, shift), clean, atol=2.0 ** (shift.max() - 1) + 1e-9)


# ---------------------------------------------------------------- splits

def test_split_by_record_stratified_and_deterministic():
    d = data()
    split = split_records(d, seed=0)
    assert set(split) == {"train", "val", "test"}
    names = [n for s in split.values() for n in s]
    assert len(names) == len(set(names)) == 48 and set(names) == set(mitdb_records(d))
    af = {s: [n for n in split[s] if n in AF_RECORDS] for s in split}
    assert [len(af[s]) for s in ("train", "val", "test")] == [5, 1, 2]
    others = {s: len(split[s]) - len(af[s]) for s in split}
    assert (others["train"], others["val"], others["test"]) == (28, 4, 8)
    assert split_records(d, seed=0) == split
    seeds = [split_records(d, seed=s) for s in range(1, 9)]
    assert any(s != split for s in seeds)
    for s in seeds + [split]:  # same patient (201, 202) never in two splits
        assert any({"201", "202"} <= set(v) for v in s.values())


# ---------------------------------------------------------------- windows

def check_windowset(ws: WindowSet, n: int):
    assert len(ws) == n
    assert ws.noisy.dtype == np.int8 and ws.noisy.shape == (n, 2, WINDOW)
    assert ws.target.dtype == np.float32 and ws.target.shape == (n, 2, WINDOW)
    assert ws.af.dtype == np.int8 and set(np.unique(ws.af)) <= {-1, 0, 1}
    assert ws.start.dtype == np.int64 and ws.snr_db.dtype == np.float32
    assert ws.shift.dtype == ws.mean.dtype == np.int32 and ws.shift.shape == ws.mean.shape == (n, 2)
    assert ws.record.shape == ws.noise.shape == (n,)


def test_training_windows_shapes_labels_and_determinism():
    d = data()
    recs = ["100", "201", "203", "222"]
    ws = sample_training_windows(d, recs, 3000, seed=5)
    check_windowset(ws, 3000)
    assert set(ws.record) == set(recs) and set(ws.noise) == set(NOISE_KINDS)
    assert ws.snr_db.min() >= -6 and ws.snr_db.max() <= 24
    assert ws.start.min() >= 0 and ws.start.max() <= 650000 - WINDOW
    for field in ("noisy", "target", "af", "start", "snr_db", "noise", "shift", "mean", "record"):
        assert np.array_equal(getattr(ws, field), getattr(sample_training_windows(d, recs, 3000, 5), field))
    assert not np.array_equal(ws.start, sample_training_windows(d, recs, 3000, seed=6).start)
    # labels agree with the per-sample mask: >= half AF -> 1, else >= half AF or flutter -> -1
    for i in range(0, 3000, 7):
        m = af_mask(load_record(d, ws.record[i]))[ws.start[i]:ws.start[i] + WINDOW]
        n_af, n_afl = (m == 1).sum(), (m == -1).sum()
        assert ws.af[i] == (1 if 2 * n_af >= WINDOW else -1 if 2 * (n_af + n_afl) >= WINDOW else 0)
    assert (ws.af == 1).sum() > 100 and (ws.af == -1).sum() > 10 and not ws.af[ws.record == "100"].any()


def test_label_rules():
    n_af = [0, 255, 256, 512, 100, 0, 200, 0]
    n_afl = [0, 0, 0, 0, 200, 256, 0, 1]
    assert af_label(n_af, n_afl, 512).tolist() == [0, 0, 1, 1, -1, -1, 0, 0]
    assert segment_label(n_af, n_afl, 512).tolist() == [0, 0, 1, 1, -1, -1, 0, -1]


def test_training_windows_deterministic_and_in_range(capsys):
    """The training sampler repeats itself for a seed and draws SNRs inside the range. (Its
    speed is printed for information only: timing is no test on a shared machine.)"""
    d = data()
    recs = split_records(d)["train"]
    a = sample_training_windows(d, recs, 500, seed=1)
    t = time.perf_counter()
    b = sample_training_windows(d, recs, 20000, seed=1)
    rate = 20000 / (time.perf_counter() - t)
    with capsys.disabled():
        print(f"\n  sample_training_windows: {rate:,.0f} windows/s")
    assert b.noisy.shape == (20000, 2, a.noisy.shape[2]) and b.noisy.dtype == np.int8
    again = sample_training_windows(d, recs, 500, seed=1)
    assert np.array_equal(a.noisy, again.noisy) and np.array_equal(a.start, again.start)
    assert not np.array_equal(a.noisy, sample_training_windows(d, recs, 500, seed=2).noisy)
    assert np.isfinite(b.snr_db).all() and b.snr_db.min() >= -6 - 0.1 and b.snr_db.max() <= 24 + 0.1
    assert set(np.unique(b.record)) <= set(map(str, recs))


def test_evaluation_windows_come_from_given_records_evenly_spaced():
    d = data()
    ws = evaluation_windows(d, ["101", "210"], "em", 6, per_record=32, seed=0)
    check_windowset(ws, 64)
    assert list(ws.record[:32]) == ["101"] * 32 and list(ws.record[32:]) == ["210"] * 32
    steps = np.diff(ws.start[:32])
    assert steps.min() >= WINDOW and steps.max() - steps.min() <= 1  # non-overlapping, even
    assert ws.start[0] == 0 and ws.start[31] == 650000 - WINDOW
    assert set(ws.noise) == {"em"} and np.all(ws.snr_db == 6)
    again = evaluation_windows(d, ["101", "210"], "em", 6, per_record=32, seed=0)
    assert np.array_equal(ws.noisy, again.noisy)
    assert (ws.af[32:] == 1).sum() > 20  # 210 is mostly AF
    clean = evaluation_windows(d, ["101"], None, None, per_record=4)
    assert set(clean.noise) == {"none"} and np.all(np.isinf(clean.snr_db))


def test_windowset_save_load_subset(tmp_path):
    ws = evaluation_windows(data(), ["100"], "bw", 0, per_record=8)
    ws.save(tmp_path / "w.npz")
    back = WindowSet.load(tmp_path / "w.npz")
    for field in ("noisy", "target", "af", "record", "start", "snr_db", "noise", "shift", "mean"):
        assert np.array_equal(getattr(back, field), getattr(ws, field))
    sub = ws.subset([1, 3])
    assert len(sub) == 2 and np.array_equal(sub.start, ws.start[[1, 3]])


def test_segment_windows():
    d = data()
    ws, segment, label = segment_windows(d, ["100", "202"])
    n = SEGMENT // WINDOW  # windows per segment
    per_record = 650000 // SEGMENT  # 158 segments of 11.4 s
    assert SEGMENT / FS >= 10 and SEGMENT % WINDOW == 0
    assert len(label) == 2 * per_record and len(ws) == n * len(label)
    assert np.array_equal(segment, np.repeat(np.arange(len(label)), n))
    assert np.all(np.diff(ws.start[:n]) == WINDOW)  # consecutive within a segment
    assert set(ws.noise) == {"none"}
    assert not label[:per_record].any()  # record 100: no AF
    lab202 = label[per_record:]
    assert (lab202 == 1).sum() >= 30 and (lab202 == -1).sum() >= 2
    # -1 as soon as a segment holds flutter, else 1 when at least half of it is AF
    ws3, _, label3 = segment_windows(d, ["202", "203", "222"])
    for i, name in enumerate(["202", "203", "222"]):
        m = af_mask(load_record(d, name))[: per_record * SEGMENT].reshape(per_record, -1)
        expect = np.where((m == -1).any(axis=1), -1, np.where((m == 1).sum(axis=1) >= 2048, 1, 0))
        assert np.array_equal(label3[i * per_record:(i + 1) * per_record], expect), name
    noisy = segment_windows(d, ["100"], noise_kind="ma", snr_db=0)
    assert set(noisy.windows.noise) == {"ma"} and not np.array_equal(noisy.windows.noisy, ws.noisy[:len(noisy.windows)])


# ---------------------------------------------------------------- CinC 2017

def test_cinc2017_resampled_rescaled_two_channels():
    d = data()
    items = load_cinc2017(d, labels=("N", "A"), limit=6)
    assert len(items) == 6 and {lab for _, _, lab in items} <= {"N", "A"}
    name, adc, label = items[0]
    assert (name, label) == ("A00003", "N")
    rec = wfdb.rdrecord(str(d / "cinc2017" / "training2017" / name))
    assert adc.dtype == np.int16 and adc.shape == (2, rec.sig_len * 6 // 5)
    assert np.array_equal(adc[0], adc[1])
    # 200 adu/mV: the same amplitude in mV as the original (gain 1000 adu/mV)
    assert np.percentile(adc[0], 99) / 200 == pytest.approx(np.percentile(rec.p_signal[:, 0], 99), rel=0.05)


def test_cinc_clean_pool_holds_the_other_rhythm_records_cleaned_like_mitdb():
    import csv

    from edgekit.data.cinc2017 import cinc_clean_pool

    d = data()
    with (d / "cinc2017" / "training2017" / "REFERENCE-v3.csv").open() as f:
        n_other = sum(1 for row in csv.reader(f) if row[1].strip() == "O")
    pool = cinc_clean_pool(d)
    assert len(pool) == n_other == 780  # 'O' only: none of the N/A records of the external AF check
    for c in pool[:20]:
        assert c.dtype == np.int16 and c.shape[0] == 2 and c.shape[1] >= WINDOW and not c.flags.writeable
        assert np.array_equal(c[0], c[1])
        assert abs(c[0].mean()) < 5  # baseline removed (0.5 Hz high-pass), as for mitdb


def test_pool_windows_are_mixed_at_the_requested_snr_without_af_labels():
    from edgekit.data import WindowSet, sample_pool_windows

    t = np.arange(5000)
    beat = (400 * np.exp(-0.5 * ((t % 300) - 150) ** 2 / 16)).astype(np.int16)  # spiky 1.2 Hz "ECG"
    pool = (np.stack([beat, beat // 2]), np.stack([beat // 3, -beat]))
    a = sample_pool_windows(data(), pool, 64, seed=3, source="synthetic", snr_range=(0, 0))
    b = sample_pool_windows(data(), pool, 64, seed=3, source="synthetic", snr_range=(0, 0))
    assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("noisy", "target", "start", "noise"))
    assert set(a.af) == {-1} and set(a.record) == {"synthetic"} and len(set(a.noise)) > 1
    # SNR of the int8 input against the clean target, both leads pooled (int8 rounding costs < 0.1 dB)
    snr = 10 * np.log10((a.target ** 2).sum(axis=(1, 2)) / ((a.noisy - a.target) ** 2).sum(axis=(1, 2)))
    assert abs(snr.mean()) < 0.1, snr.mean()
    both = WindowSet.concat(a, b)
    assert len(both) == 128 and np.array_equal(both.noisy[64:], b.noisy)
    with pytest.raises(ValueError, match=f"at least {WINDOW} samples"):
        sample_pool_windows(data(), (np.zeros((2, 100), np.int16),), 4, seed=0, source="short")


# ---------------------------------------------------------------- errors

def test_missing_data_dir_says_how_to_get_it(tmp_path, monkeypatch):
    real = data()
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as e:
        resolve_data_dir(missing)
    msg = str(e.value)
    assert str(missing) in msg and "wfdb.dl_database('mitdb'" in msg and "EDGEKIT_DATA" in msg
    monkeypatch.setenv("EDGEKIT_DATA", str(missing))
    with pytest.raises(DataError, match="EDGEKIT_DATA"):
        resolve_data_dir()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="mitdb"):
        resolve_data_dir(tmp_path / "empty")
    monkeypatch.setenv("EDGEKIT_DATA", str(real))
    assert resolve_data_dir() == real


def fake_record(folder, name, fs, n_sig, annotations=True):
    folder.mkdir(parents=True, exist_ok=True)
    sig = np.random.default_rng(0).standard_normal((1000, n_sig))
    wfdb.wrsamp(name, fs=fs, units=["mV"] * n_sig, sig_name=[f"l{i}" for i in range(n_sig)],
                p_signal=sig, fmt=["16"] * n_sig, write_dir=str(folder))
    if annotations:
        wfdb.wrann(name, "atr", np.array([10, 500]), ["N", "N"], write_dir=str(folder))


def test_bad_records_are_named(tmp_path):
    fake_record(tmp_path / "mitdb", "r250", fs=250, n_sig=2)
    fake_record(tmp_path / "mitdb", "one", fs=360, n_sig=1)
    fake_record(tmp_path / "mitdb", "noatr", fs=360, n_sig=2, annotations=False)
    with pytest.raises(DataError, match=r"r250 is sampled at 250 Hz.*resample it to 360 Hz"):
        load_record(tmp_path, "r250")
    with pytest.raises(DataError, match="one has 1 lead"):
        load_record(tmp_path, "one")
    with pytest.raises(DataError, match=r"noatr.*noatr\.atr is missing"):
        load_record(tmp_path, "noatr")
    with pytest.raises(DataError, match=r"record 999.*999\.hea is missing"):
        load_record(tmp_path, "999")
    with pytest.raises(DataError, match=r"bw.*missing"):
        load_noise(tmp_path, "bw")
    with pytest.raises(DataError, match="challenge-2017"):
        load_cinc2017(tmp_path)
    assert sorted(mitdb_records(tmp_path)) == ["noatr", "one", "r250"]  # no RECORDS: .hea files

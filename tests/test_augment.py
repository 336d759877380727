"""edgekit.data.augment: the clean-ECG augmentation used in training (stretch, flip, swap)."""
import numpy as np
import pytest

from edgekit.data import WINDOW, resolve_data_dir, sample_training_windows
from edgekit.data.augment import Augment, gather_augmented, read_span
from edgekit.data.baseline import clean_adc
from edgekit.data.mixing import measure_snr_db


def test_identity_augmentation_is_a_plain_gather():
    sig = np.arange(2 * (3001 + WINDOW), dtype=np.int16).reshape(2, 3001 + WINDOW)  # reads one past
    starts = np.array([0, 17, 3000])
    out = gather_augmented(sig, starts, WINDOW, np.ones(3), np.ones((3, 2), np.int16), np.zeros(3, bool))
    want = np.stack([sig[:, s:s + WINDOW] for s in starts])
    assert out.dtype == np.int16 and np.array_equal(out, want)


def test_stretch_flip_and_swap_semantics():
    ramp = np.stack([np.arange(3000) * 2, -np.arange(3000) * 4]).astype(np.int16)
    starts = np.array([10, 10])
    out = gather_augmented(ramp, starts, 8, np.array([1.5, 0.5]), np.array([[1, -1], [-1, 1]], np.int16),
                           np.array([False, True]))
    pos = 10 + 1.5 * np.arange(8)
    assert out[0, 0].tolist() == np.rint(2 * pos).tolist()      # a ramp stays a ramp, 1.5x steeper
    assert out[0, 1].tolist() == np.rint(4 * pos).tolist()      # lead 1 inverted
    pos = 10 + 0.5 * np.arange(8)
    assert out[1, 0].tolist() == np.rint(-4 * pos).tolist()     # swapped: lead 1 first (sign then swap)
    assert out[1, 1].tolist() == np.rint(-2 * pos).tolist()
    assert read_span(np.array([1.0, 1.25]), 512).tolist() == [513, 641]


def test_bad_augmentation_names_the_field():
    with pytest.raises(ValueError, match="stretch range"):
        Augment(stretch=(1.2, 0.9))
    with pytest.raises(ValueError, match="flip probability"):
        Augment(flip=1.5)
    assert not Augment().active and Augment(swap=0.1).active
    assert Augment.from_dict(Augment(stretch=(0.8, 1.25)).to_dict()) == Augment(stretch=(0.8, 1.25))


def test_augmented_training_windows_hit_the_snr_and_stay_in_the_record():
    d = resolve_data_dir(None)
    recs = ["100", "201"]
    aug = Augment(stretch=(0.8, 1.25), flip=0.5, swap=0.5)
    ws = sample_training_windows(d, recs, 2000, seed=3, augment=aug)
    again = sample_training_windows(d, recs, 2000, seed=3, augment=aug)
    assert np.array_equal(ws.noisy, again.noisy) and np.array_equal(ws.target, again.target)
    plain = sample_training_windows(d, recs, 2000, seed=3)
    assert np.array_equal(ws.record, plain.record) and np.array_equal(ws.snr_db, plain.snr_db)
    assert not np.array_equal(ws.target, plain.target)
    assert ws.start.max() <= 650000 - read_span(1.25, WINDOW)
    # the SNR is set after augmentation: measured on the int8 input against the target
    noisy = ws.noisy.astype(np.float64)
    err = np.abs(measure_snr_db(ws.target, noisy).mean(axis=-1) - ws.snr_db)
    assert np.median(err) < 0.05, np.median(err)
    # flip=1 and no stretch: the window is the record with both leads inverted
    one = sample_training_windows(d, ["100"], 50, seed=4, augment=Augment(flip=1.0))
    sig = clean_adc(d, "100")
    w = -sig[:, one.start[0]:one.start[0] + WINDOW].astype(np.float64)
    t = one.target[0] * 2.0 ** one.shift[0][:, None]
    assert np.allclose(t - t.mean(-1, keepdims=True), w - w.mean(-1, keepdims=True), atol=1e-2)

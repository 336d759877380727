"""denoise_v2: per window and lead, mean-removed, in ADC counts, input SNR before the int8 scaling."""
import numpy as np
import pytest

from edgekit import metrics
from edgekit.data import evaluation_windows, measure_snr_db, normalize, resolve_data_dir, to_adc


def test_improvement_is_per_lead_mean_removed_and_pooled_beside_it():
    rng = np.random.default_rng(0)
    t = np.arange(1024)
    clean = np.stack([100 * np.sin(t / 20), 10 * np.sin(t / 7)])[None].repeat(3, 0)  # leads 20 dB apart
    noise = rng.standard_normal(clean.shape)
    noise *= np.sqrt((clean**2).sum(-1, keepdims=True) / (noise**2).sum(-1, keepdims=True))  # 0 dB per lead
    out = clean + 0.5 * noise + 37.0  # half the noise left, plus a DC offset the metric must ignore
    terms = metrics.denoise_v2_terms(clean, clean + noise, out)
    assert terms["snr_in"] == pytest.approx(np.zeros((3, 2)), abs=0.05)  # 0 dB before mean removal
    s = metrics.denoise_v2_summary(terms)
    assert s["snr_imp_db"] == pytest.approx(20 * np.log10(2), abs=0.01)
    assert s["snr_imp_pooled_db"] == pytest.approx(20 * np.log10(2), abs=0.01)
    assert s["windows"] == 3 and s["leads"] == 2
    # one lead left untouched: the mean over leads halves the improvement, the pooled figure does not
    out2 = out.copy()
    out2[:, 1] = clean[:, 1] + noise[:, 1]
    s2 = metrics.denoise_v2_summary(metrics.denoise_v2_terms(clean, clean + noise, out2))
    assert s2["snr_imp_db"] == pytest.approx(10 * np.log10(2), abs=0.01)
    assert s2["snr_imp_pooled_db"] > 5.5  # dominated by the loud lead


def test_evaluation_windows_hand_out_the_adc_windows_before_scaling():
    d = resolve_data_dir()
    adc = {}
    ws = evaluation_windows(d, ["100", "qtdb/sel30"], "mixed", 6, per_record=4, adc=adc)
    q, mean, shift = normalize(adc["noisy"])
    assert np.array_equal(q, ws.noisy) and np.array_equal(shift, ws.shift) and np.array_equal(mean, ws.mean)
    # the input SNR is the mixing SNR, measured on the noisy ADC signal
    assert measure_snr_db(adc["clean"], adc["noisy"]) == pytest.approx(np.full((8, 2), 6.0), abs=0.1)
    # the identity "model" (output = int8 input) scores about 0 dB: only the int8 rounding differs
    s = metrics.denoise_v2_summary(metrics.denoise_v2_terms(adc["clean"], adc["noisy"],
                                                            to_adc(ws.noisy, ws.mean, ws.shift)))
    assert -0.5 < s["snr_imp_db"] <= 0.05

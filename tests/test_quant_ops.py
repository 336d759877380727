"""Each integer op against a direct float computation rounded once at the end.

The integer op approximates the real multiplier by M0 * 2**-n (relative error < 2**-30) and
rounds half up where the float path rounds half to even, so the two may differ by 1 LSB in a
tiny fraction of values; anything more is a bug."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edgekit.ir import reference as ref
from edgekit.ir.arithmetic import add_multipliers, quantize_multiplier, quantize_multipliers, requantize
from edgekit.ir.intgraph import Op

rng = np.random.default_rng(1)


def float_then_round(y_real, s_out, zp_out):
    return np.clip(np.rint(y_real / s_out) + zp_out, -128, 127).astype(np.int64)


def assert_close(got, want, min_identical=0.999):
    diff = np.abs(got.astype(np.int64) - want)
    assert diff.max() <= 1, f"max difference {diff.max()} LSB"
    assert (diff == 0).mean() >= min_identical, f"only {(diff == 0).mean():.5f} identical"


def test_quantize_multiplier_range_and_accuracy():
    for real in [1e-6, 3.3e-4, 0.0123, 0.5, 0.99999, 1.0, 7.5]:
        m0, n = quantize_multiplier(real)
        assert 2**30 <= m0 < 2**31
        assert abs(m0 * 2.0**-n - real) / real < 2**-30
    with pytest.raises(ValueError, match="positive"):
        quantize_multiplier(0.0)


def test_requantize_rounds_half_up_and_saturates():
    m0, n = 2**30, 31  # multiplier 0.5
    acc = np.array([1, 3, -1, -3, 1000, -1000])
    assert requantize(acc, m0, n, 0).tolist() == [1, 2, 0, -1, 127, -128]


def _conv_case(transposed, ci, co, k, stride, pad, out_pad=0, length=40, leaky=None):
    x = rng.integers(-128, 128, (5, ci, length)).astype(np.int8)
    w = rng.integers(-127, 128, (ci, co, k) if transposed else (co, ci, k)).astype(np.int8)
    s_x, x_zp, s_y, y_zp = 0.02, 7, 0.05, -3
    s_w = rng.uniform(0.002, 0.01, co)
    bias = rng.integers(-5000, 5000, co)
    real = s_x * s_w / s_y
    m_pos, n_pos = quantize_multipliers(real)
    m_neg, n_neg = quantize_multipliers(real * (leaky or 1.0))
    op = Op("conv_transpose1d" if transposed else "conv1d", "t", ["x"], ["y"],
            attrs={"stride": stride, "pad": pad, "x_zp": x_zp, "y_zp": y_zp, "output_padding": out_pad},
            params={"w": w, "bias": bias.astype(np.int32), "m_pos": m_pos, "n_pos": n_pos,
                    "m_neg": m_neg, "n_neg": n_neg})
    xr = torch.from_numpy((x.astype(np.float64) - x_zp) * s_x)
    axis_shape = (1, -1, 1) if transposed else (-1, 1, 1)
    wr = torch.from_numpy(w * s_w.reshape(axis_shape))
    br = torch.from_numpy(bias * s_x * s_w)
    if transposed:
        assert pad[0] == pad[1]
        yr = F.conv_transpose1d(xr, wr, br, stride, pad[0], out_pad)
    else:
        yr = F.conv1d(F.pad(xr, pad), wr, br, stride)
    if leaky is not None:
        yr = F.leaky_relu(yr, leaky)
    got = ref.conv_transpose1d(x, op) if transposed else ref.conv1d(x, op)
    assert got.shape == tuple(yr.shape)
    assert_close(got, float_then_round(yr.numpy(), s_y, y_zp))


@pytest.mark.parametrize("k,stride,pad", [(9, 2, (4, 4)), (5, 1, (2, 2)), (7, 4, (3, 3)), (3, 2, (0, 1))])
def test_conv1d(k, stride, pad):
    _conv_case(False, 3, 6, k, stride, pad)
    _conv_case(False, 3, 6, k, stride, pad, leaky=0.125)


# (kernel, stride, pad, output_padding): pad % stride != 0 cases included (they broke CMSIS-NN)
@pytest.mark.parametrize("k,stride,pad,op", [(8, 2, 3, 0), (4, 2, 1, 0), (9, 2, 4, 1), (8, 4, 2, 0), (6, 3, 1, 2)])
def test_conv_transpose1d(k, stride, pad, op):
    _conv_case(True, 4, 3, k, stride, (pad, pad), op)
    _conv_case(True, 4, 3, k, stride, (pad, pad), op, leaky=0.125)


def test_global_sum_dense_folds_mean():
    x = rng.integers(-128, 128, (6, 8, 64)).astype(np.int8)
    s_x, x_zp, s_y, y_zp, L = 0.03, -5, 0.01, 4, 64
    w = rng.integers(-127, 128, (5, 8)).astype(np.int8)
    s_w = rng.uniform(0.001, 0.01, 5)
    b = rng.integers(-300, 300, 5)
    sums = ref.global_sum(x, Op("global_sum", "p", ["x"], ["s"], attrs={"x_zp": x_zp}))
    m, n = quantize_multipliers(s_x * s_w / (s_y * L))
    op = Op("dense", "d", ["s"], ["y"], attrs={"x_zp": 0, "y_zp": y_zp},
            params={"w": w, "bias": (b * L).astype(np.int32), "m_pos": m, "n_pos": n, "m_neg": m, "n_neg": n})
    got = ref.dense(sums, op, (5,))
    mean = ((x.astype(np.float64) - x_zp) * s_x).mean(axis=2)
    yr = mean @ (w * s_w[:, None]).T + b * s_x * s_w
    assert_close(got, float_then_round(yr, s_y, y_zp))


def test_mul_and_add():
    a = rng.integers(-128, 128, (4, 8, 50)).astype(np.int8)
    g = rng.integers(-128, 128, (4, 8, 1)).astype(np.int8)
    b = rng.integers(-128, 128, (4, 8, 50)).astype(np.int8)
    a64, g64 = a.astype(np.float64), g.astype(np.float64)
    # scales with no small common denominator, so exact .5 ties (half up vs half even) stay rare
    sa, za, sg, zg, sb, zb, sy, zy = 0.0513, 3, 1 / 256, -128, 0.0817, -10, 0.0391, 2
    m, n = quantize_multiplier(sa * sg / sy)
    got = ref.mul(a, g, Op("mul", "m", [], [], attrs={"a_zp": za, "b_zp": zg, "y_zp": zy, "m": m, "n": n}))
    want = float_then_round(((a64 - za) * sa) * ((g64 - zg) * sg), sy, zy)
    assert_close(got, want)
    ma, mb, n = add_multipliers(sa / sy, sb / sy)
    got = ref.add(a, b, Op("add", "a", [], [], attrs={"a_zp": za, "b_zp": zb, "y_zp": zy, "ma": ma, "mb": mb, "n": n}))
    want = float_then_round((a.astype(np.float64) - za) * sa + (b.astype(np.float64) - zb) * sb, sy, zy)
    assert_close(got, want)


def test_lut_is_a_table_lookup():
    table = np.arange(-128, 128)[::-1].astype(np.int8)
    x = np.array([[-128, 0, 127]], dtype=np.int8)
    assert ref.lut(x, Op("lut", "l", [], [], params={"table": table})).tolist() == [[127, -1, -128]]

"""Quantizer (docs/quantization.md#scales): hand-computed percentiles, scales, rounding,
clipping and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.deploy.quantize import (
    OUTPUT_VTH_MANT,
    decay_mantissa,
    percentile_magnitude,
    quantize,
    quantize_matrix,
    scale_exponent,
    weight_fold_factor,
)
from neurokws.model.network import Weights
from neurokws.utils.errors import ModelFormatError

CONFIG = default_network(n_hidden=2, n_out=2, n_in=3)
C = weight_fold_factor(CONFIG)

# Folded (already multiplied by c) weights, (pre, post) layout.
W_IN_F = np.array([[0.05, 0.02], [-0.03, 0.01], [0.005, -0.01]])
W_REC_F = np.array([[0.04, 0.0], [0.0, 0.0]])
W_OUT_F = np.array([[0.1, -0.2], [0.3, 0.05]])


def unfolded(w_in_f=W_IN_F, w_rec_f=W_REC_F, w_out_f=W_OUT_F) -> Weights:
    """Float weights whose folded values are the given ones."""
    return Weights(*(np.asarray(w / C, dtype=np.float32) for w in (w_in_f, w_rec_f, w_out_f)))


def test_fold_factor_and_decays_match_spec():
    assert C == pytest.approx(0.0442030, abs=5e-8)
    assert decay_mantissa(5.0, 1.0) == 742
    assert decay_mantissa(20.0, 1.0) == 200


def test_percentile_uses_linear_interpolation_and_ignores_zeros():
    assert percentile_magnitude(np.array([1.0, 2, 3, 4, 5]), 90) == pytest.approx(4.6)
    # |negatives| [1, 10]: 1 + 0.9 * 9 = 9.1 beats the positives' 4.6
    assert percentile_magnitude(np.array([1.0, 2, 3, 4, 5, -1, -10]), 90) == pytest.approx(9.1)
    assert percentile_magnitude(np.array([0.0, 0, 0, 1, 2]), 50) == pytest.approx(1.5)
    assert percentile_magnitude(np.array([-0.5, -0.25]), 100) == 0.5   # single-signed is fine
    assert percentile_magnitude(np.zeros(4), 99) is None


@pytest.mark.parametrize(("m", "bits", "exponent"), [
    (0.05, 8, -11),          # the paper's hidden scale 2^-11: floor(log2 0.05) = -5, -5 - 6
    (0.0625, 8, -10),        # exact power of two: h = -4
    (0.0624999, 8, -11),
    (9.1, 8, -3),
    (0.05, 6, -9),           # h - 4
    (0.05, 4, -7),           # h - 2
])
def test_scale_exponent(m, bits, exponent):
    assert scale_exponent(np.array([m, -m / 2]), bits, 100.0, "x") == exponent


def test_round_half_even_ties():
    values = np.ldexp(np.array([2.5, 3.5, -2.5, -3.5, 0.5, 1.5]), -3)
    q, clipped = quantize_matrix(values, -3, 8)
    assert q.tolist() == [2, 4, -2, -4, 0, 2]
    assert clipped == 0.0
    assert q.dtype == np.int32


def test_clipping_and_clipped_fraction():
    q, clipped = quantize_matrix(np.array([127.4, 127.5, 128.0, -128.5, -129.0, 1000.0]), 0, 8)
    # 127.5 rounds to 128 (even) and clips; -128.5 rounds to -128 (even) and does not.
    assert q.tolist() == [127, 127, 127, -128, -128, 127]
    assert clipped == pytest.approx(4 / 6)
    q4, clipped4 = quantize_matrix(np.array([7.4, 7.5, -8.5, -9.0]), 0, 4)
    assert q4.tolist() == [7, 7, -8, -8] and clipped4 == pytest.approx(2 / 4)


def test_quantize_hand_computed_8bit():
    q = quantize(CONFIG, unfolded(), bits=8, percentile=99.0)
    # hidden pool: positives [.005 .01 .02 .04 .05] -> p99 0.0496; |neg| [.01 .03] -> 0.0298
    assert (q.hidden_exponent, q.hidden_scale) == (-11, 2.0 ** -11)
    assert q.w_in.tolist() == [[102, -61, 10], [41, 20, -20]]      # (targets, sources)
    assert q.w_rec.tolist() == [[82, 0], [0, 0]]
    # output: positives [.05 .1 .3] -> p99 0.296; |neg| [.2] -> m = 0.296, h = -2
    assert q.output_exponent == -8
    assert q.w_out.tolist() == [[26, 77], [-51, 13]]
    assert q.v_th_mant == 2048
    assert (q.i_decay, q.v_decay, q.out_v_th_mant) == (742, 200, OUTPUT_VTH_MANT)
    assert (q.bits, q.percentile, q.weight_fold) == (8, 99.0, pytest.approx(C))
    assert q.clipped_fraction == {"w_in": 0.0, "w_rec": 0.0, "w_out": 0.0, "hidden": 0.0}


def test_large_recurrent_weight_changes_input_scale():
    q = quantize(CONFIG, unfolded(w_rec_f=np.array([[0.2, 0.0], [0.0, 0.0]])), bits=8,
                 percentile=99.0)
    # positives [.005 .01 .02 .05 .2] -> p99 0.194 -> h = -3 -> s = 2^-9 for w_in too
    assert q.hidden_exponent == -9
    assert q.w_in.tolist() == [[26, -15, 3], [10, 5, -5]]
    assert q.w_rec.tolist() == [[102, 0], [0, 0]]
    assert q.v_th_mant == 512
    assert q.output_exponent == -8     # the output layer keeps its own scale


def test_quantize_6_and_4_bits():
    q6 = quantize(CONFIG, unfolded(), bits=6, percentile=99.0)
    assert q6.hidden_exponent == -9 and q6.output_exponent == -6
    assert q6.w_in.tolist() == [[26, -15, 3], [10, 5, -5]]
    assert q6.w_rec.tolist() == [[20, 0], [0, 0]]
    assert q6.w_out.tolist() == [[6, 19], [-13, 3]]    # 0.1*64=6.4, 0.3*64=19.2, ...
    assert q6.v_th_mant == 512
    q4 = quantize(CONFIG, unfolded(), bits=4, percentile=99.0)
    assert q4.hidden_exponent == -7
    assert q4.w_in.tolist() == [[6, -4, 1], [3, 1, -1]]
    assert q4.w_rec.tolist() == [[5, 0], [0, 0]]
    assert q4.v_th_mant == 128
    for q, bits in ((q6, 6), (q4, 4)):
        for array in q.arrays().values():
            assert -(2 ** (bits - 1)) <= array.min() and array.max() <= 2 ** (bits - 1) - 1


def test_outlier_is_clipped_and_counted():
    config = default_network(n_hidden=10, n_out=2, n_in=10)
    w_in_f = np.full((10, 10), 0.01)
    w_in_f[3, 7] = 1.0
    w_rec_f = np.full((10, 10), -0.005)
    weights = Weights(*(np.asarray(w / weight_fold_factor(config), dtype=np.float32)
                        for w in (w_in_f, w_rec_f, np.tile(W_OUT_F, (5, 1)))))
    q = quantize(config, weights, bits=8, percentile=99.0)
    # positives: 99 x 0.01 and one 1.0 -> p99 = 0.01 + 0.99 * 0.01 = 0.0199 -> h = -6 -> 2^-12
    assert q.hidden_exponent == -12
    assert q.w_in[7, 3] == 127 and q.w_in[0, 0] == 41 and q.w_rec[0, 0] == -20
    assert q.clipped_fraction["w_in"] == pytest.approx(0.01)
    assert q.clipped_fraction["w_rec"] == 0.0
    assert q.clipped_fraction["hidden"] == pytest.approx(1 / 200)


def test_layouts_and_dequantize():
    rng = np.random.default_rng(3)
    config = default_network(n_hidden=16, n_out=4, n_in=12)
    weights = Weights(rng.normal(0, 1, (12, 16)).astype(np.float32),
                      rng.normal(0, 0.5, (16, 16)).astype(np.float32),
                      rng.normal(0, 1, (16, 4)).astype(np.float32))
    q = quantize(config, weights, bits=8, percentile=99.0)
    assert q.w_in.shape == (16, 12) and q.w_rec.shape == (16, 16) and q.w_out.shape == (4, 16)
    pre_post = q.to_pre_post()
    assert pre_post.w_in.shape == (12, 16) and pre_post.w_in.dtype == np.float32
    np.testing.assert_array_equal(pre_post.w_in, q.w_in.T)
    back = q.dequantize()
    for name, scale in (("w_in", q.hidden_scale), ("w_rec", q.hidden_scale),
                        ("w_out", q.output_scale)):
        original, restored = getattr(weights, name), getattr(back, name)
        inside = np.abs(original * C) <= 127 * scale
        step = scale / C
        assert np.all(np.abs(restored - original)[inside] <= step / 2 * (1 + 1e-6))


def test_errors_name_the_source():
    base = unfolded()
    bad = base.copy()
    bad.w_rec[0, 1] = np.nan
    with pytest.raises(ModelFormatError, match=r"ckpt\.npz.*w_rec.*NaN"):
        quantize(CONFIG, bad, source="ckpt.npz", bits=8, percentile=99.0)
    bad = base.copy()
    bad.w_out[1, 1] = np.inf
    with pytest.raises(ModelFormatError, match=r"ckpt\.npz: w_out.*NaN/inf"):
        quantize(CONFIG, bad, source="ckpt.npz", bits=8, percentile=99.0)
    zero_hidden = Weights(np.zeros((3, 2), np.float32), np.zeros((2, 2), np.float32), base.w_out)
    with pytest.raises(ModelFormatError, match=r"ckpt\.npz: hidden layer.*no non-zero"):
        quantize(CONFIG, zero_hidden, source="ckpt.npz", bits=8, percentile=99.0)
    zero_out = Weights(base.w_in, base.w_rec, np.zeros((2, 2), np.float32))
    with pytest.raises(ModelFormatError, match="output layer"):
        quantize(CONFIG, zero_out, source="ckpt.npz", bits=8, percentile=99.0)
    wrong = Weights(base.w_in.T.copy(), base.w_rec, base.w_out)
    with pytest.raises(ModelFormatError, match=r"ckpt\.npz: w_in has shape \(2, 3\)"):
        quantize(CONFIG, wrong, source="ckpt.npz", bits=8, percentile=99.0)


@pytest.mark.parametrize("bits", [1, 17, 8.5])
def test_rejects_bad_bits(bits):
    with pytest.raises(ValueError, match="bits"):
        quantize(CONFIG, unfolded(), bits=bits, percentile=99.0)


@pytest.mark.parametrize("percentile", [0.0, -1.0, 100.5])
def test_rejects_bad_percentile(percentile):
    with pytest.raises(ValueError, match="percentile"):
        quantize(CONFIG, unfolded(), percentile=percentile, bits=8)


def test_percentile_100_uses_the_maximum():
    q = quantize(CONFIG, unfolded(), percentile=100.0, bits=8)
    assert q.hidden_exponent == math.floor(math.log2(0.05)) - 6


def _ml_genn_netx(matrices: list[np.ndarray], fold: float, bits: int = 8, p: float = 99.0):
    """The paper converter's procedure (ml_genn_netx), re-implemented: zeros count as negative."""
    scaled = [m * fold for m in matrices]
    pooled = np.concatenate([m.ravel() for m in scaled])
    positive = pooled > 0
    m = max(np.percentile(pooled[positive], p), np.percentile(-pooled[~positive], p))
    high = math.floor(math.log(m, 2))
    scale = 2.0 ** (high - (bits - 2))
    lo, hi = -(2.0 ** (high + 1)), 2.0 ** (high + 1) - scale
    return scale, [np.clip(scale * np.round(w.T / scale), lo, hi) / scale for w in scaled]


@pytest.mark.parametrize("bits", [8, 6, 4])
def test_matches_the_papers_converter(bits):
    rng = np.random.default_rng(11)
    config = default_network(n_hidden=64, n_out=20, n_in=100)
    weights = Weights(rng.normal(0.3, 0.4, (100, 64)).astype(np.float32),
                      rng.normal(0.0, 0.6, (64, 64)).astype(np.float32),
                      rng.normal(0.0, 5.0, (64, 20)).astype(np.float32))
    q = quantize(config, weights, bits=bits, percentile=99.0)
    scale, (rec, ff) = _ml_genn_netx([weights.w_rec, weights.w_in], C, bits)
    out_scale, (out,) = _ml_genn_netx([weights.w_out], C, bits)
    assert (q.hidden_scale, q.output_scale) == (scale, out_scale)
    np.testing.assert_array_equal(q.w_in, ff)
    np.testing.assert_array_equal(q.w_rec, rec)
    np.testing.assert_array_equal(q.w_out, out)
    assert q.v_th_mant == round(CONFIG.v_th / scale)

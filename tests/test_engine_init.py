"""Paper weight initialisation: shapes, dtype, moments and reproducibility."""

from __future__ import annotations

import numpy as np

from neurokws.config import default_network
from neurokws.model.init import init_weights


def test_init_weights_moments_and_reproducibility() -> None:
    config = default_network(n_hidden=256, n_out=20)
    w = init_weights(config, np.random.default_rng(3))
    w.check(config)
    assert w.w_in.dtype == np.float32
    for array, mean, sd in ((w.w_in, 0.03, 0.01), (w.w_rec, 0.0, 0.02), (w.w_out, 0.0, 0.03)):
        assert abs(array.mean() - mean) < 5 * sd / np.sqrt(array.size)
        assert abs(array.std() / sd - 1.0) < 0.05
    again = init_weights(config, np.random.default_rng(3))
    np.testing.assert_array_equal(again.w_rec, w.w_rec)
    assert init_weights(config, np.random.default_rng(3), np.float64).w_out.dtype == np.float64

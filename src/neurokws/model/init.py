"""Paper weight initialisation: in->hid N(0.03, 0.01), hid->hid N(0, 0.02), hid->out N(0, 0.03)."""

from __future__ import annotations

import numpy as np

from neurokws.model.network import NetworkConfig, Weights

IN_MEAN, IN_SD = 0.03, 0.01
REC_SD = 0.02
OUT_SD = 0.03


def init_weights(config: NetworkConfig, rng: np.random.Generator,
                 dtype: np.dtype | type = np.float32) -> Weights:
    """Draw the three matrices (in the order w_in, w_rec, w_out) from `rng`."""
    w_in = rng.normal(IN_MEAN, IN_SD, size=(config.n_in, config.n_hidden))
    w_rec = rng.normal(0.0, REC_SD, size=(config.n_hidden, config.n_hidden))
    w_out = rng.normal(0.0, OUT_SD, size=(config.n_hidden, config.n_out))
    return Weights(w_in.astype(dtype), w_rec.astype(dtype), w_out.astype(dtype))

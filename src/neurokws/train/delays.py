"""Learned synaptic delays: the training side (float delays, rounding, init, clamping).

Delays are learned jointly with the weights as in mlGeNN's EventPropCompiler
(`delay_learn_conns`, `delay_optimiser`; Meszaros et al. 2025, arXiv 2501.07331): each
synapse of a connection with delays has a float delay d in steps, updated by its own Adam
(its own learning rate, in steps per update; deventprop's SHD recipe uses 0.1) from the
engine's exact gradient dL/dd (model/delay_kernels.py), and clamped to [0, max] after every
update. Each connection's maximum is a model fact (NetworkConfig.max_delay_in/_rec, in the
model file); a connection whose maximum is 0 has no delays. The forward pass uses
``clip(floor(d + 0.5), 0, max)``: halves round up, as C's ``round`` in mlGeNN's forward pass
does for d >= 0 (numpy's ``rint`` rounds halves to even; one rounding everywhere keeps
trained and deployed delays equal).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from neurokws.config import DelayTraining
from neurokws.model.network import Delays, NetworkConfig

DELAY_INIT_STREAM = 0xDE1A7   # SeedSequence purpose of the delays' initial draw

__all__ = ["DelayTraining", "check_learnable", "clamp_delays", "init_delays", "round_delays"]


def check_learnable(net: NetworkConfig) -> None:
    """Raise unless `net` has delays to learn."""
    if not net.has_delays:
        raise ValueError("learning delays needs a model with delays: max_delay_in or "
                         "max_delay_rec > 0 (config model.delays)")


def init_delays(net: NetworkConfig, spec: DelayTraining, seed: int) -> Delays:
    """Float delays drawn uniformly from [0, init] per connection (clipped to its maximum),
    from their own stream of `seed` (the weights' initial draw is unchanged)."""
    check_learnable(net)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), DELAY_INIT_STREAM]))
    shapes = {"d_in": (net.n_in, net.n_hidden), "d_rec": (net.n_hidden, net.n_hidden)}
    tops = {"d_in": spec.init_in, "d_rec": spec.init_rec}
    return Delays(*(np.minimum(rng.uniform(0.0, tops[k], shapes[k]),
                               net.delay_maxima[k]).astype(np.float32) for k in Delays.NAMES))


def clamp_delays(delays: Delays, net: NetworkConfig) -> None:
    """Keep every float delay in [0, its connection's maximum], in place."""
    for name, top in net.delay_maxima.items():
        np.clip(getattr(delays, name), 0.0, float(top), out=getattr(delays, name))


def round_delays(delays: Delays, net: NetworkConfig) -> Delays:
    """The integer delays the forward pass uses: clip(floor(d + 0.5), 0, max), int32 (d in
    float64, one pass per connection: at batch size 1 this runs every update)."""
    out = []
    for name in Delays.NAMES:
        floats = np.ascontiguousarray(getattr(delays, name))
        rounded = np.empty(floats.shape, np.int32)
        _round_into(floats.reshape(-1), rounded.reshape(-1), int(net.delay_maxima[name]))
        out.append(rounded)
    return Delays(*out)


@njit(cache=True, nogil=True)
def _round_into(floats, out, top):
    for k in range(floats.shape[0]):
        r = math.floor(np.float64(floats[k]) + 0.5)
        out[k] = 0 if r < 0 else (top if r > top else np.int32(r))

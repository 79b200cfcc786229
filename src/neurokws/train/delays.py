"""Learned synaptic delays: the training side (float delays, rounding, init, clamping).

Delays are learned jointly with the weights as in mlGeNN's EventPropCompiler
(`delay_learn_conns`, `delay_optimiser`; Meszaros et al. 2025, arXiv 2501.07331): each
synapse of a connection with delays has a float delay d in steps, updated by its own Adam
(its own learning rate, in steps per update; deventprop's SHD recipe uses 0.1) from the
engine's exact gradient dL/dd (model/delay_kernels.py), and clamped to [0, max] after every
update. The forward pass uses ``clip(floor(d + 0.5), 0, max)``: halves round up, as C's
``round`` in mlGeNN's forward pass does for d >= 0 (numpy's ``rint`` rounds halves to even;
one rounding everywhere keeps trained and deployed delays equal). A connection whose
maximum is 0 has no delays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from neurokws.model.network import Delays, NetworkConfig

DELAY_INIT_STREAM = 0xDE1A7   # SeedSequence purpose of the delays' initial draw


@dataclass(frozen=True)
class DelayTraining:
    """What is learned: the largest delay (steps) per connection (0 = none), Adam's rate
    for the delays (steps per update), and the upper ends of the uniform initial delays."""

    max_in: int
    max_rec: int
    lr: float
    init_in: float
    init_rec: float

    def __post_init__(self) -> None:
        if min(self.max_in, self.max_rec) < 0 or max(self.max_in, self.max_rec) == 0:
            raise ValueError(f"delays: max_in and max_rec must be >= 0 and not both 0 "
                             f"(got {self.max_in}, {self.max_rec})")
        if not self.lr >= 0 or min(self.init_in, self.init_rec) < 0:
            raise ValueError("delays: lr and the initial ranges must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def maxima(self) -> dict[str, int]:
        return {"d_in": self.max_in, "d_rec": self.max_rec}


def init_delays(net: NetworkConfig, spec: DelayTraining, seed: int) -> Delays:
    """Float delays drawn uniformly from [0, init] per connection (clipped to its maximum),
    from their own stream of `seed` (the weights' initial draw is unchanged)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), DELAY_INIT_STREAM]))
    shapes = {"d_in": (net.n_in, net.n_hidden), "d_rec": (net.n_hidden, net.n_hidden)}
    tops = {"d_in": spec.init_in, "d_rec": spec.init_rec}
    return Delays(*(np.minimum(rng.uniform(0.0, tops[k], shapes[k]),
                               spec.maxima[k]).astype(np.float32) for k in Delays.NAMES))


def clamp_delays(delays: Delays, spec: DelayTraining) -> None:
    """Keep every float delay in [0, its connection's maximum], in place."""
    for name, top in spec.maxima.items():
        np.clip(getattr(delays, name), 0.0, float(top), out=getattr(delays, name))


def round_delays(delays: Delays, spec: DelayTraining) -> Delays:
    """The integer delays the forward pass uses: clip(floor(d + 0.5), 0, max), int32."""
    return Delays(*(np.clip(np.floor(np.asarray(getattr(delays, name), np.float64) + 0.5),
                            0, spec.maxima[name]).astype(np.int32) for name in Delays.NAMES))

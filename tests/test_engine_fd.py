"""Eventprop gradients (both adjoint schemes) vs finite differences of the loss at a fine dt.

At dt = 0.0025 ms spike-time quantisation is small, so the discrete Eventprop gradient must
match the derivative of the (smoothed) loss. The loss is a fine staircase in each weight, so
the finite difference is the least-squares slope of 11 loss values on [w - h, w + h],
h = 0.05 (weights ~0.3): this averages over the staircase while curvature stays small.

Thresholds (per weight matrix): cosine > 0.995 and relative L2 error < 0.10 for w_in and
w_rec; w_out (the loss is smooth in it): cosine > 0.999999, rel < 1e-3. Measured on these
cases (both schemes): w_in cos >= 0.9998, rel <= 0.024; w_rec cos >= 0.9993, rel <= 0.036;
w_out rel <= 1.3e-4 (mlgenn: O(dt) from its constant-drive output update), <= 1e-5
(discrete). Mutations fail (both schemes): no recurrent feedback in the jump cos 0.991-0.993
/ rel 0.12-0.13, no own (threshold) term rel 0.24-0.27, tau_mem / tau_syn -> 1 rel 1.26, no
output feedback -> zero hidden gradients.
Preconditions (asserted): every hidden neuron fires several times, no near-grazing spike
(x - V_pre >= 1 at every spike), the recurrent weights matter.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import bin_times, cosine, cross_entropy, poisson_times, random_weights
from neurokws.config import default_network
from neurokws.model import engine, kernels
from neurokws.model.engine import infer, loss_and_grad
from neurokws.model.network import Weights

DT = 0.0025
DURATION = 30.0
H = 0.05
N_POINTS = 11


@pytest.mark.parametrize("adjoint", ["mlgenn", "discrete"])
@pytest.mark.parametrize("seed", [0, 2])
def test_gradient_matches_finite_differences(seed: int, adjoint: str) -> None:
    rng = np.random.default_rng(seed)
    n_hid, n_out, n_in, n_batch = 8, 3, 10, 2
    times = poisson_times(rng, n_batch, n_in, DURATION, 600.0)
    labels = rng.integers(0, n_out, n_batch).astype(np.int32)
    config = default_network(n_hidden=n_hid, n_out=n_out, n_in=n_in,
                           n_steps=round(DURATION / DT), dt=DT)
    weights = random_weights(rng, config, 0.3, 0.15, 0.3, 1.0)
    steps, channels, offsets = bin_times(times, DT)
    batch = np.arange(n_batch, dtype=np.int64)

    res = loss_and_grad(config, weights, steps, channels, offsets, labels, batch, None,
                        adjoint=adjoint)
    tape = kernels.forward_chunk(weights.w_in, weights.w_rec, weights.w_out,
                                 engine._constants(config, np.float64, "mlgenn"), config.n_steps,
                                 config.dt / config.duration_ms, steps, channels, offsets,
                                 batch, True, 1)
    assert res.hidden_spike_counts.min() >= 4
    assert tape[4].min() >= 1.0, "a near-grazing spike makes finite differences unreliable"

    def loss(w: Weights) -> float:
        return cross_entropy(infer(config, w, steps, channels, offsets, batch)[0], labels)

    offsets_h = np.linspace(-H, H, N_POINTS)
    fd = {}
    for name in Weights.NAMES:
        grad = getattr(res.grads, name)
        fd[name] = np.zeros_like(grad)
        for idx in np.ndindex(grad.shape):
            values = []
            for u in offsets_h:
                trial = weights.copy()
                getattr(trial, name)[idx] += u
                values.append(loss(trial))
            fd[name][idx] = np.polyfit(offsets_h, values, 1)[0]
    assert np.linalg.norm(fd["w_rec"]) > 0.2 * np.linalg.norm(fd["w_in"])
    for name, (min_cos, max_rel) in {"w_in": (0.995, 0.10), "w_rec": (0.995, 0.10),
                                     "w_out": (0.999999, 1e-3)}.items():
        grad = getattr(res.grads, name)
        rel = np.linalg.norm(grad - fd[name]) / np.linalg.norm(fd[name])
        assert cosine(grad, fd[name]) > min_cos, (name, cosine(grad, fd[name]))
        assert rel < max_rel, (name, rel)

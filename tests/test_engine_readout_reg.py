"""Readout and regulariser contributions checked separately against their definitions.

1. dL/dw_out: with the hidden spikes fixed, R is linear in w_out, R_k = sum_i w_out[i, k]
   phi_i with phi_i the exp-weighted time average of the output response to neuron i's spike
   train, so dL/dw_out[i, k] = sum_b phi_b,i dL/dR_b,k exactly, at dt = 1 ms. The "discrete"
   scheme reproduces it to rounding (this pins the timing: a hidden spike at step s uses
   dL/dx at step s + 1); "mlgenn" integrates the output adjoint with a constant drive per
   step, which is within 2 % at dt = 1 ms.
2. Regulariser: its gradient is that of
       L_reg = sum_b sum_i r_i sum_{spikes s of i in b} V_i(n_s'),  r_i = tau_mem^2 k_i,
       k_i = (lambda / B^2)(C_i - nu_upper B)  (held fixed; mlGeNN's lambda_V -= k_i),
   the membrane potential at the spike's step before reset (n_s' = n_s, "discrete") or at
   the end of the step before (n_s' = n_s - 1, "mlgenn", which applies it after the decay).
   Checked by central differences where no Eventprop jump can mix in: no recurrent weights
   and at most one spike per neuron and sample. "discrete" is then the exact discrete
   derivative (< 1e-8); "mlgenn" integrates the decay in continuous form (< 1e-2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine_helpers import random_weights, raster_events, rel_err
from neurokws.config import default_network
from neurokws.model import reference
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.network import Weights


@pytest.mark.parametrize(("adjoint", "tol"), [("discrete", 1e-10), ("mlgenn", 0.02)])
def test_output_weight_gradient_is_exact(adjoint: str, tol: float) -> None:
    rng = np.random.default_rng(5)
    config = default_network(n_hidden=12, n_out=4, n_in=16, n_steps=120)
    steps, channels, offsets = raster_events(rng, 4, 16, 120, 0.12)
    weights = random_weights(rng, config, 0.25, 0.15, 0.3, 1.0)
    labels = rng.integers(0, 4, 4).astype(np.int32)
    batch = np.arange(4, dtype=np.int64)
    res = loss_and_grad(config, weights, steps, channels, offsets, labels, batch, None,
                        adjoint=adjoint)
    assert res.hidden_spike_counts.sum() > 50

    alpha, beta, c_i = config.alpha, config.beta, config.current_scale
    phi = np.zeros((4, config.n_hidden))
    for b in batch:
        traj = reference.simulate(config, weights, steps[offsets[b]:offsets[b + 1]],
                                  channels[offsets[b]:offsets[b + 1]])
        x, v = np.zeros(config.n_hidden), np.zeros(config.n_hidden)
        for n in range(config.n_steps):
            v = alpha * v + (1.0 - alpha) * c_i * x
            x = beta * x + traj.spikes[n]
            phi[b] += math.exp(-n * config.dt / config.duration_ms) * v / config.n_steps
    assert rel_err(phi @ weights.w_out, res.readout) < 1e-12  # R is linear in w_out

    probs = np.exp(res.readout) / np.exp(res.readout).sum(axis=1, keepdims=True)
    dl_dr = (probs - np.eye(4)[labels]) / 4
    expected = phi.T @ dl_dr
    assert rel_err(res.grads.w_out, expected) < tol


def _reg_case():
    """No recurrence, a short input burst: every hidden neuron fires at most once."""
    rng = np.random.default_rng(2)
    config = default_network(n_hidden=10, n_out=3, n_in=12, n_steps=60)
    steps, channels, offsets = raster_events(rng, 3, 12, 15, 0.3)
    weights = random_weights(rng, config, 0.12, 0.08, 0.0, 1.0)
    weights.w_rec[:] = 0.0
    labels = rng.integers(0, 3, 3).astype(np.int32)
    return config, weights, steps, channels, offsets, labels


@pytest.mark.parametrize(("adjoint", "shift", "tol"), [("discrete", 0, 1e-8), ("mlgenn", 1, 1e-2)])
def test_regulariser_gradient_is_gradient_of_pre_spike_potential(adjoint: str, shift: int,
                                                                 tol: float) -> None:
    config, weights, steps, channels, offsets, labels = _reg_case()
    batch = np.arange(3, dtype=np.int64)
    nu, lam_up, lam_low = 0.5, 3e-3, 7e-3
    reg = RegConfig(nu_upper=nu, lambda_upper=lam_up, lambda_lower=lam_low)
    with_reg = loss_and_grad(config, weights, steps, channels, offsets, labels, batch, reg,
                             adjoint=adjoint)
    without = loss_and_grad(config, weights, steps, channels, offsets, labels, batch, None,
                            adjoint=adjoint)
    counts = with_reg.hidden_spike_counts
    total = counts.sum(axis=0)
    assert counts.max() == 1, "case must have at most one spike per neuron and sample"
    assert (total > nu * 3).sum() >= 2 and (total < nu * 3).sum() >= 2

    lam = np.where(total > nu * 3, lam_up, lam_low)
    r = config.tau_mem ** 2 * lam * (total - nu * 3) / 9.0
    ref_spikes = [reference.simulate(config, weights, steps[offsets[b]:offsets[b + 1]],
                                     channels[offsets[b]:offsets[b + 1]]).spikes for b in batch]

    def surrogate(w: Weights) -> float:
        value = 0.0
        for b in batch:
            traj = reference.simulate(config, w, steps[offsets[b]:offsets[b + 1]],
                                      channels[offsets[b]:offsets[b + 1]])
            np.testing.assert_array_equal(traj.spikes, ref_spikes[b])  # spike steps fixed
            potential = traj.v_pre if shift == 0 else traj.v_prev  # V at n_s or n_s - 1
            value += float((potential * ref_spikes[b] * r).sum())
        return value

    eps = 1e-4
    for name in ("w_in", "w_rec"):
        got = getattr(with_reg.grads, name) - getattr(without.grads, name)
        fd = np.zeros_like(got)
        for idx in np.ndindex(got.shape):
            plus, minus = weights.copy(), weights.copy()
            getattr(plus, name)[idx] += eps
            getattr(minus, name)[idx] -= eps
            fd[idx] = (surrogate(plus) - surrogate(minus)) / (2 * eps)
        assert np.abs(fd).max() > 0, name
        assert rel_err(got, fd) < tol, (name, rel_err(got, fd))
    reg_out = with_reg.grads.w_out - without.grads.w_out
    assert np.abs(reg_out).max() <= 1e-12 * np.abs(without.grads.w_out).max()

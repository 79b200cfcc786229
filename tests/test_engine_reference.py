"""Fast engine vs the slow plain-numpy reference (same discrete equations, float64).

The reference writes the "mlgenn" scheme in mlGeNN's own lambdas, so agreement also checks
the engine's change of units (sign, tau_mem factors, regulariser scale).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import random_weights, raster_events, rel_err
from neurokws.config import default_network
from neurokws.model import engine, kernels, reference
from neurokws.model.engine import RegConfig, infer, loss_and_grad
from neurokws.model.network import Weights

CASES = [  # seed, n_hidden, n_in, n_steps
    (0, 8, 10, 50),
    (1, 13, 20, 80),
    (2, 20, 30, 100),
    # dW_in + dW_rec above kernels.DIRECT_BYTES: rows summed after the sweep from its history
    (3, 300, 200, 60),
]
TOL = 1e-10


def _case(seed: int, n_hidden: int, n_in: int, n_steps: int):
    """Random network + 5 samples; strong enough input that hidden neurons fire repeatedly."""
    rng = np.random.default_rng(seed)
    config = default_network(n_hidden=n_hidden, n_out=3, n_in=n_in, n_steps=n_steps)
    steps, channels, offsets = raster_events(rng, 5, n_in, n_steps, 8.0 / n_in / 5.0)
    weights = random_weights(rng, config, 0.25, 0.15, 0.3, 1.0)
    labels = rng.integers(0, 3, 5).astype(np.int32)
    return config, weights, steps, channels, offsets, labels


@pytest.mark.parametrize("adjoint", ["mlgenn", "discrete"])
@pytest.mark.parametrize(("seed", "n_hidden", "n_in", "n_steps"), CASES)
def test_engine_matches_reference(seed: int, n_hidden: int, n_in: int, n_steps: int,
                                  adjoint: str) -> None:
    config, weights, steps, channels, offsets, labels = _case(seed, n_hidden, n_in, n_steps)
    batch_idx = np.array([3, 0, 4], dtype=np.int64)  # out of order, skips samples
    counts_ref = reference.loss_and_grad(config, weights, steps, channels, offsets, labels,
                                         batch_idx)[2]
    nu = float(np.median(counts_ref.sum(axis=0))) / 3.0  # neurons on both sides of nu * B
    reg = RegConfig(nu_upper=nu, lambda_upper=2e-3, lambda_lower=5e-3)
    loss, readout, counts, grads = reference.loss_and_grad(
        config, weights, steps, channels, offsets, labels, batch_idx, nu, 2e-3, 5e-3, adjoint)
    assert counts.max() >= 3 and (counts.sum(axis=0) > nu * 3).any() \
        and (counts.sum(axis=0) < nu * 3).any(), "test case lacks spikes / regimes"
    res = loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx, reg,
                        adjoint=adjoint)
    direct = (n_in + n_hidden) * n_hidden * weights.w_rec.itemsize <= kernels.DIRECT_BYTES
    assert direct == (n_hidden < 300), "the cases cover both backward paths"
    np.testing.assert_array_equal(res.hidden_spike_counts, counts)
    assert rel_err(res.readout, readout) < TOL
    assert abs(res.loss - loss) < TOL * abs(loss)
    for name, ref in zip(("w_in", "w_rec", "w_out"), grads, strict=True):
        got = getattr(res.grads, name)
        assert np.abs(ref).max() > 0, name
        assert rel_err(got, ref) < TOL, (name, rel_err(got, ref))


def test_regulariser_changes_gradient_and_schemes_differ() -> None:
    """Without the regulariser the engine still matches; the regulariser and scheme matter."""
    config, weights, steps, channels, offsets, labels = _case(*CASES[1])
    batch_idx = np.arange(5, dtype=np.int64)
    ref = reference.loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx)
    plain = loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx, None)
    reg = loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx,
                        RegConfig(nu_upper=1.0, lambda_upper=1e-3, lambda_lower=1e-3))
    disc = loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx, None,
                         adjoint="discrete")
    assert rel_err(plain.grads.w_in, ref[3][0]) < TOL
    assert rel_err(reg.grads.w_in, plain.grads.w_in) > 1e-3
    assert rel_err(disc.grads.w_in, plain.grads.w_in) > 1e-3
    with pytest.raises(ValueError, match="adjoint"):
        loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx, None,
                      adjoint="bptt")


def test_infer_matches_training_forward_and_is_batch_size_independent() -> None:
    config, weights, steps, channels, offsets, labels = _case(*CASES[2])
    batch_idx = np.array([1, 2, 4], dtype=np.int64)
    res = loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx, None)
    r1, c1 = infer(config, weights, steps, channels, offsets, batch_idx, batch_size=1)
    r2, c2 = infer(config, weights, steps, channels, offsets, batch_idx, batch_size=256)
    for r, c in ((r1, c1), (r2, c2)):
        np.testing.assert_array_equal(r, res.readout)
        np.testing.assert_array_equal(c, res.hidden_spike_counts)
    r_all, _ = infer(config, weights, steps, channels, offsets)
    np.testing.assert_array_equal(r_all[batch_idx], res.readout)


def test_tape_growth_gives_identical_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """A too-small initial spike tape is grown (sample re-run) without changing anything."""
    config, weights, steps, channels, offsets, labels = _case(*CASES[2])
    batch_idx = np.arange(5, dtype=np.int64)
    normal = loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx, None)
    monkeypatch.setattr(engine, "_tape_per_sample", {config.n_hidden: 0.0})
    monkeypatch.setattr(engine, "MIN_TAPE", 1)
    grown = loss_and_grad(config, weights, steps, channels, offsets, labels, batch_idx, None)
    for name in ("w_in", "w_rec", "w_out"):
        np.testing.assert_array_equal(getattr(grown.grads, name), getattr(normal.grads, name))


def test_rejects_bad_events() -> None:
    config, weights, steps, channels, offsets, labels = _case(*CASES[0])
    bad = channels.copy()
    bad[offsets[2]] = config.n_in
    with pytest.raises(ValueError, match="sample 2"):
        loss_and_grad(config, weights, steps, bad, offsets, labels, np.arange(5), None)
    unsorted = steps.copy()
    unsorted[offsets[1]:offsets[2]] = unsorted[offsets[1]:offsets[2]][::-1]
    with pytest.raises(ValueError, match="sample 1"):
        infer(config, weights, unsorted, channels, offsets)
    with pytest.raises(ValueError, match="labels"):
        loss_and_grad(config, weights, steps, channels, offsets, labels + 3, np.arange(5), None)


def test_event_timing() -> None:
    """Input bin k moves hidden V at step k + 1; that spike moves output V at step k + 2."""
    config = default_network(n_hidden=1, n_out=1, n_in=1, n_steps=6)
    k_in = (1.0 - config.alpha) * config.current_scale
    weights = Weights(np.array([[1.1 / k_in]]), np.zeros((1, 1)), np.array([[2.0]]))
    steps, channels = np.array([3], np.int32), np.array([0], np.int32)
    offsets = np.array([0, 1], np.int64)
    tape = kernels.forward_chunk(weights.w_in, weights.w_rec, weights.w_out,
                                 engine._constants(config, np.float64, "mlgenn"), config.n_steps,
                                 config.dt / config.duration_ms, steps, channels, offsets,
                                 np.array([0]), True, 4)
    assert tape[2].tolist() == [4]  # hidden spike at step 4
    readout, _ = infer(config, weights, steps, channels, offsets)
    expected = np.exp(-5 / config.n_steps) * k_in * 2.0 / config.n_steps  # V_out[5] only
    assert readout[0, 0] == pytest.approx(expected, rel=1e-12)
    short = default_network(n_hidden=1, n_out=1, n_in=1, n_steps=5)
    assert infer(short, weights, steps, channels, offsets)[0][0, 0] == 0.0

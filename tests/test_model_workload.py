"""Random engine input and rate-scaled paper weights (neurokws.model.workload)."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.model.engine import infer
from neurokws.model.init import init_weights
from neurokws.model.workload import random_events, synthetic_setup

N_SAMPLES, EVENTS, RATE, SEED = 8, 1700, 2.0, 3


@pytest.fixture(scope="module")
def config():
    return default_network(n_hidden=32, n_out=5, n_steps=200)


@pytest.fixture(scope="module")
def setup(config):
    return synthetic_setup(config, np.random.default_rng(SEED), N_SAMPLES, EVENTS, RATE)


def _rate(config, weights, setup) -> float:
    """Mean hidden spikes per neuron per sample over every sample (forward pass)."""
    return float(infer(config, weights, setup.steps, setup.channels, setup.offsets)[1].mean())


def test_shapes_dtypes_and_labels(config, setup):
    assert setup.steps.shape == setup.channels.shape == (N_SAMPLES * EVENTS,)
    assert setup.steps.dtype == setup.channels.dtype == np.int32
    np.testing.assert_array_equal(setup.offsets, np.arange(N_SAMPLES + 1) * EVENTS)
    assert setup.offsets.dtype == np.int64
    assert 0 <= setup.steps.min() and setup.steps.max() < config.n_steps
    assert 0 <= setup.channels.min() and setup.channels.max() < config.n_in
    assert setup.labels.shape == (N_SAMPLES,) and setup.labels.dtype == np.int32
    assert 0 <= setup.labels.min() and setup.labels.max() < config.n_out
    assert setup.weights.w_in.shape == (config.n_in, config.n_hidden)
    assert setup.weights.w_rec.shape == (config.n_hidden, config.n_hidden)
    assert setup.weights.w_out.shape == (config.n_hidden, config.n_out)
    for w in (setup.weights.w_in, setup.weights.w_rec, setup.weights.w_out):
        assert w.dtype == np.float32
    assert setup.factor > 0


def test_same_seed_same_arrays(config, setup):
    again = synthetic_setup(config, np.random.default_rng(SEED), N_SAMPLES, EVENTS, RATE)
    for name in ("steps", "channels", "offsets", "labels"):
        np.testing.assert_array_equal(getattr(again, name), getattr(setup, name))
    for name in ("w_in", "w_rec", "w_out"):
        np.testing.assert_array_equal(getattr(again.weights, name),
                                      getattr(setup.weights, name))
    assert again.factor == setup.factor
    other = synthetic_setup(config, np.random.default_rng(SEED + 1), N_SAMPLES, EVENTS, RATE)
    assert not np.array_equal(other.channels, setup.channels)


def test_draw_order_and_without_labels(config, setup):
    """Events, then labels, then the paper's init, all from the one generator; only w_in is
    scaled. Without labels, the init follows the events directly."""
    rng = np.random.default_rng(SEED)
    steps, channels, _ = random_events(rng, N_SAMPLES, config.n_in, config.n_steps, EVENTS)
    labels = rng.integers(0, config.n_out, N_SAMPLES).astype(np.int32)
    init = init_weights(config, rng, np.float32)
    np.testing.assert_array_equal(setup.steps, steps)
    np.testing.assert_array_equal(setup.channels, channels)
    np.testing.assert_array_equal(setup.labels, labels)
    np.testing.assert_array_equal(setup.weights.w_in, init.w_in * np.float32(setup.factor))
    np.testing.assert_array_equal(setup.weights.w_rec, init.w_rec)
    np.testing.assert_array_equal(setup.weights.w_out, init.w_out)
    bare = synthetic_setup(config, np.random.default_rng(SEED), N_SAMPLES, EVENTS, RATE,
                           labels=False, dtype=np.float64)
    rng = np.random.default_rng(SEED)
    random_events(rng, N_SAMPLES, config.n_in, config.n_steps, EVENTS)
    np.testing.assert_array_equal(bare.weights.w_rec, init_weights(config, rng, np.float64).w_rec)
    assert bare.labels is None and bare.weights.w_in.dtype == np.float64


def test_rate_scaled_to_target(config, setup):
    """Hidden neurons fire close to the target rate, and the paper's unscaled init does not."""
    assert abs(_rate(config, setup.weights, setup) - RATE) < 0.1 * RATE
    rng = np.random.default_rng(SEED)
    random_events(rng, N_SAMPLES, config.n_in, config.n_steps, EVENTS)
    rng.integers(0, config.n_out, N_SAMPLES)
    unscaled = _rate(config, init_weights(config, rng, np.float32), setup)
    assert unscaled > 2 * RATE   # so the first assertion needs the scaling

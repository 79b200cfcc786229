"""Synaptic delays in the engine (model/delay_kernels.py): timing, the plain-numpy reference,
the delay-free engine, and the delay gradients against finite differences.

The finite-difference test works in the continuous-time limit, as the weight test does
(tests/test_engine_fd.py): at dt = 0.0025 ms a delay of d steps is d * dt ms, and moving all
delays of one matrix along a random direction u (entries -1, 0, +1) by s steps,
s = -60..60 (+-0.15 ms; +-0.05 ms is too short to average the loss's staircase over), gives a
loss whose least-squares slope per step must equal sum(dL/dd * u). Thresholds over 8
directions per matrix: cosine > 0.995, relative L2 error < 0.10, as for the weights.
The weight gradients of the delayed network are checked the same way (random directions,
+-0.05). Measured (seed 4, both schemes): d_in cos 0.9997, rel 0.024; d_rec cos 0.9977,
rel 0.067; w_in, w_rec cos >= 0.9996, rel <= 0.030. Broken versions of delay_kernels.py
fail: the delay gradient's sign flipped (FD and reference tests), every synapse read at the
spike's step instead of its arrival (FD, reference and shifted-input tests), the jump
feedback read at the spike's step (the reference test; FD only at delays of 2-5 ms, where
it gives d_rec cos 0.9937, rel 0.145).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine_helpers import (
    bin_times,
    cosine,
    cross_entropy,
    poisson_times,
    random_weights,
    raster_events,
    rel_err,
)
from neurokws.config import default_network
from neurokws.model import delay_kernels, engine, reference
from neurokws.model.engine import infer, loss_and_grad
from neurokws.model.network import Delays, Weights
from neurokws.utils.errors import ModelFormatError

TOL = 1e-10


def _case(seed: int, n_hidden: int = 10, n_in: int = 12, n_steps: int = 80, max_delay: int = 9):
    rng = np.random.default_rng(seed)
    config = default_network(n_hidden=n_hidden, n_out=3, n_in=n_in, n_steps=n_steps)
    steps, channels, offsets = raster_events(rng, 5, n_in, n_steps, 8.0 / n_in / 5.0)
    weights = random_weights(rng, config, 0.25, 0.15, 0.3, 1.0)
    labels = rng.integers(0, 3, 5).astype(np.int32)
    delays = Delays(rng.integers(0, max_delay + 1, (n_in, n_hidden)).astype(np.int32),
                    rng.integers(0, max_delay + 1, (n_hidden, n_hidden)).astype(np.int32))
    return config, weights, steps, channels, offsets, labels, delays


def test_delay_timing() -> None:
    """Input bin 2 through a delay of 3 arrives at the end of step 5, so the hidden neuron
    spikes at step 6; arrivals at or after the last step change nothing."""
    config = default_network(n_hidden=1, n_out=1, n_in=1, n_steps=9)
    k_in = (1.0 - config.alpha) * config.current_scale
    weights = Weights(np.array([[1.1 / k_in]]), np.zeros((1, 1)), np.array([[2.0]]))
    steps, channels = np.array([2], np.int32), np.array([0], np.int32)
    offsets = np.array([0, 1], np.int64)
    consts = engine._constants(config, np.float64, "mlgenn")

    def spike_steps(d: int, n_steps: int) -> list[int]:
        off_in, off_rec = delay_kernels.ring_offsets(np.array([[d]]), np.zeros((1, 1), int))
        tape = delay_kernels.forward_chunk(
            weights.w_in, weights.w_rec, weights.w_out, off_in, off_rec, d + 1, True, consts,
            n_steps, config.dt / config.duration_ms, steps, channels, offsets, np.array([0]),
            True, 4)
        return tape[2].tolist()

    assert spike_steps(0, 9)[0] == 3        # the first spike: x stays large, it refires
    assert spike_steps(3, 9)[0] == 6
    assert spike_steps(6, 9) == []          # arrives at the end of step 8, the last
    assert spike_steps(7, 9) == []          # after the end: dropped
    delayed = Delays(np.array([[3]], np.int32), np.zeros((1, 1), np.int32))
    short = default_network(n_hidden=1, n_out=1, n_in=1, n_steps=8)   # spike 6 -> V_out[7]
    expected = np.exp(-7 / short.n_steps) * k_in * 2.0 / short.n_steps
    assert infer(short, weights, steps, channels, offsets, delays=delayed)[0][0, 0] == \
        pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("adjoint", ["mlgenn", "discrete"])
def test_zero_delays_are_the_delay_free_engine(adjoint: str) -> None:
    config, weights, steps, channels, offsets, labels, _ = _case(0)
    batch = np.arange(5, dtype=np.int64)
    plain = loss_and_grad(config, weights, steps, channels, offsets, labels, batch,
                          adjoint=adjoint)
    zero = loss_and_grad(config, weights, steps, channels, offsets, labels, batch,
                         adjoint=adjoint, delays=Delays.zeros(config))
    np.testing.assert_array_equal(zero.hidden_spike_counts, plain.hidden_spike_counts)
    assert rel_err(zero.readout, plain.readout) < 1e-12
    for name in Weights.NAMES:
        assert rel_err(getattr(zero.grads, name), getattr(plain.grads, name)) < 1e-12, name
    assert plain.delay_grads is None
    assert all(np.abs(g).max() > 0 for g in zero.delay_grads.arrays().values())


@pytest.mark.parametrize("input_delays", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engine_with_delays_matches_reference(seed: int, input_delays: bool) -> None:
    """Forward (both schemes share it) and the 'discrete' backward with weight and delay
    gradients, against the reference's whole-trial arrival and adjoint tables; also a
    model whose input connection has no delays (max_delay_in 0: its rows go straight into
    x, engine._delay_arrays), where dL/dd_in is 0."""
    config, weights, steps, channels, offsets, labels, delays = _case(seed)
    if not input_delays:
        config = dataclasses.replace(config, max_delay_in=0, max_delay_rec=9)
        delays = Delays(np.zeros_like(delays.d_in), delays.d_rec)
    assert engine._delay_arrays(config, delays)[-1] is input_delays   # the ring or not
    batch = np.array([3, 0, 4], dtype=np.int64)
    loss, readout, counts, grads = reference.loss_and_grad(
        config, weights, steps, channels, offsets, labels, batch, adjoint="discrete",
        delays=delays)
    assert counts.max() >= 3, "test case lacks spikes"
    res = loss_and_grad(config, weights, steps, channels, offsets, labels, batch,
                        adjoint="discrete", delays=delays)
    np.testing.assert_array_equal(res.hidden_spike_counts, counts)
    assert rel_err(res.readout, readout) < TOL
    assert abs(res.loss - loss) < TOL * abs(loss)
    got = [*res.grads.arrays().values(), *res.delay_grads.arrays().values()]
    for name, mine, ref in zip(("w_in", "w_rec", "w_out", "d_in", "d_rec"), got, grads,
                               strict=True):
        if name == "d_in" and not input_delays:
            assert not mine.any()
            continue
        assert np.abs(ref).max() > 0, name
        assert rel_err(mine, ref) < TOL, (name, rel_err(mine, ref))
    # Delays change the network: the delay-free reference differs.
    plain = reference.loss_and_grad(config, weights, steps, channels, offsets, labels, batch,
                                    adjoint="discrete")
    assert rel_err(res.readout, plain[1]) > 1e-3


def test_uniform_input_delay_is_a_shifted_input() -> None:
    """d_in = k everywhere (d_rec = 0) is the delay-free network on inputs k steps later."""
    config, weights, steps, channels, offsets, labels, _ = _case(1, n_steps=90)
    k = 7
    batch = np.arange(5, dtype=np.int64)
    delays = Delays(np.full((config.n_in, config.n_hidden), k, np.int32),
                    np.zeros((config.n_hidden, config.n_hidden), np.int32))
    delayed = loss_and_grad(config, weights, steps, channels, offsets, labels, batch,
                            delays=delays)
    shifted = loss_and_grad(config, weights, steps + k, channels, offsets, labels, batch)
    np.testing.assert_array_equal(delayed.hidden_spike_counts, shifted.hidden_spike_counts)
    assert rel_err(delayed.readout, shifted.readout) < 1e-12
    for name in Weights.NAMES:
        assert rel_err(getattr(delayed.grads, name), getattr(shifted.grads, name)) < 1e-12


def test_bad_delays_are_refused() -> None:
    config, weights, steps, channels, offsets, labels, delays = _case(0)
    batch = np.arange(2, dtype=np.int64)
    bad = [(Delays(delays.d_in[:, :-1], delays.d_rec), "d_in has shape"),
           (Delays(delays.d_in.astype(float), delays.d_rec), "whole steps"),
           (Delays(delays.d_in, -delays.d_rec - 1), "negative delays")]
    for wrong, message in bad:
        with pytest.raises(ModelFormatError, match=message):
            loss_and_grad(config, weights, steps, channels, offsets, labels, batch,
                          delays=wrong)


DT = 0.0025
DURATION = 30.0
SHIFTS = np.arange(-60, 61, 12)  # steps of 0.0025 ms: +-0.15 ms
N_DIRECTIONS = 8


@pytest.mark.parametrize("adjoint", ["mlgenn", "discrete"])
@pytest.mark.parametrize("seed", [4, 5])
def test_delay_gradient_matches_finite_differences(seed: int, adjoint: str) -> None:
    """Delays 0.25-0.75 ms (100-300 steps) on both connections; see the module docstring."""
    rng = np.random.default_rng(seed)
    n_hid, n_out, n_in, n_batch = 8, 3, 10, 2
    times = poisson_times(rng, n_batch, n_in, DURATION, 600.0)
    labels = rng.integers(0, n_out, n_batch).astype(np.int32)
    config = default_network(n_hidden=n_hid, n_out=n_out, n_in=n_in,
                             n_steps=round(DURATION / DT), dt=DT)
    weights = random_weights(rng, config, 0.3, 0.15, 0.3, 1.0)
    steps, channels, offsets = bin_times(times, DT)
    batch = np.arange(n_batch, dtype=np.int64)
    base = Delays(rng.integers(100, 301, (n_in, n_hid)).astype(np.int32),
                  rng.integers(100, 301, (n_hid, n_hid)).astype(np.int32))
    res = loss_and_grad(config, weights, steps, channels, offsets, labels, batch,
                        adjoint=adjoint, delays=base)
    assert res.hidden_spike_counts.min() >= 4

    def loss(delays: Delays) -> float:
        readout = infer(config, weights, steps, channels, offsets, batch, delays=delays)[0]
        return cross_entropy(readout, labels)

    for name in Delays.NAMES:
        grad = getattr(res.delay_grads, name)
        predicted, measured = [], []
        for _ in range(N_DIRECTIONS):
            u = rng.integers(-1, 2, grad.shape)
            values = []
            for s in SHIFTS:
                trial = Delays(base.d_in.copy(), base.d_rec.copy())
                getattr(trial, name)[...] += (s * u).astype(np.int32)
                values.append(loss(trial))
            measured.append(np.polyfit(SHIFTS, values, 1)[0])
            predicted.append(float(np.sum(grad * u)))
        predicted, measured = np.array(predicted), np.array(measured)
        rel = np.linalg.norm(predicted - measured) / np.linalg.norm(measured)
        assert cosine(predicted, measured) > 0.995, (name, cosine(predicted, measured))
        assert rel < 0.10, (name, rel, predicted, measured)
    # The weight gradients of the delayed network, along random directions (+-0.05).
    scales = np.linspace(-0.05, 0.05, 11)
    for name in Weights.NAMES:
        grad = getattr(res.grads, name)
        predicted, measured = [], []
        for _ in range(N_DIRECTIONS):
            u = rng.normal(size=grad.shape)
            u /= np.abs(u).max()
            values = []
            for h in scales:
                trial = weights.copy()
                getattr(trial, name)[...] += h * u
                readout = infer(config, trial, steps, channels, offsets, batch, delays=base)[0]
                values.append(cross_entropy(readout, labels))
            measured.append(np.polyfit(scales, values, 1)[0])
            predicted.append(float(np.sum(grad * u)))
        predicted, measured = np.array(predicted), np.array(measured)
        rel = np.linalg.norm(predicted - measured) / np.linalg.norm(measured)
        assert cosine(predicted, measured) > 0.995, (name, cosine(predicted, measured))
        assert rel < 0.10, (name, rel)


@pytest.mark.parametrize("input_delays", [True, False])
def test_delay_gradients_do_not_depend_on_the_thread_count(input_delays, monkeypatch):
    """The delay kernels' per-sample leaves join the same tree: 1 and 8 threads (1 and 5
    tasks over 5 samples) give the same bits for dL/dw and dL/dd."""
    config, weights, steps, channels, offsets, labels, delays = _case(5)
    if not input_delays:
        delays = Delays(np.zeros_like(delays.d_in), delays.d_rec)
    batch = np.arange(len(offsets) - 1)
    results = []
    for n in (1, 8):
        monkeypatch.setattr(engine, "_threads", lambda n=n: n)
        results.append(engine.loss_and_grad(config, weights, steps, channels, offsets, labels,
                                            batch, delays=delays))
    one, eight = results
    assert len(engine._tasks(len(batch), 8)) == len(batch) > 1
    for a, b in ((one.grads, eight.grads), (one.delay_grads, eight.delay_grads)):
        for x, y in zip(a.arrays().values(), b.arrays().values(), strict=True):
            np.testing.assert_array_equal(x, y)

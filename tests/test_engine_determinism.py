"""Float32 training path: bit-identical gradients on repeated calls and on any number of
threads, close to float64."""

from __future__ import annotations

import contextlib
import itertools

import numba
import numpy as np
import pytest

from engine_helpers import cosine, random_weights, raster_events
from neurokws.config import default_network
from neurokws.model import engine, kernels
from neurokws.model.engine import RegConfig, loss_and_grad
from neurokws.model.network import Weights


def _case(n_hidden: int = 48, n_in: int = 40):
    rng = np.random.default_rng(11)
    config = default_network(n_hidden=n_hidden, n_out=5, n_in=n_in, n_steps=150)
    steps, channels, offsets = raster_events(rng, 12, n_in, 150, 0.05 * 40 / n_in)
    weights = random_weights(rng, config, 0.12, 0.05, 0.05, 0.3, dtype=np.float32)
    labels = rng.integers(0, 5, 12).astype(np.int32)
    batch = rng.permutation(12)[:10].astype(np.int64)
    return config, weights, steps, channels, offsets, labels, batch


@pytest.mark.parametrize("adjoint", ["mlgenn", "discrete"])
def test_repeated_calls_are_bit_identical(adjoint: str) -> None:
    config, weights, steps, channels, offsets, labels, batch = _case()
    reg = RegConfig(nu_upper=2.0, lambda_upper=1e-4, lambda_lower=1e-4)
    first = loss_and_grad(config, weights, steps, channels, offsets, labels, batch, reg,
                          adjoint=adjoint)
    assert first.hidden_spike_counts.mean() > 2
    loss_and_grad(config, weights, steps, channels, offsets, labels, batch[::-1].copy(), reg,
                  adjoint=adjoint)
    for _ in range(3):
        again = loss_and_grad(config, weights, steps, channels, offsets, labels, batch, reg,
                              adjoint=adjoint)
        assert again.loss == first.loss
        np.testing.assert_array_equal(again.readout, first.readout)
        for name in Weights.NAMES:
            a, b = getattr(again.grads, name), getattr(first.grads, name)
            assert a.dtype == np.float32
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("adjoint", ["mlgenn", "discrete"])
def test_float32_close_to_float64(adjoint: str) -> None:
    config, weights, steps, channels, offsets, labels, batch = _case()
    r32 = loss_and_grad(config, weights, steps, channels, offsets, labels, batch, None,
                        adjoint=adjoint)
    r64 = loss_and_grad(config, weights.astype(np.float64), steps, channels, offsets, labels,
                        batch, None, adjoint=adjoint)
    assert abs(r32.loss - r64.loss) < 1e-4 * r64.loss
    for name in Weights.NAMES:
        assert cosine(getattr(r32.grads, name), getattr(r64.grads, name)) > 0.999, name


@contextlib.contextmanager
def threads(n: int):
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@pytest.mark.parametrize(("adjoint", "n_hidden", "n_in"), [
    ("mlgenn", 48, 40), ("discrete", 48, 40),
    # dW_in + dW_rec above kernels.DIRECT_BYTES: leaves summed from the history and merged
    # row by row down the stack (kernels._rows_of, _cascade_row)
    ("mlgenn", 400, 300)])
def test_gradients_do_not_depend_on_the_thread_count(adjoint: str, n_hidden: int, n_in: int,
                                                     monkeypatch) -> None:
    """1, 2, 3 and 8 threads cut the 10-sample tree into 1, 4, 6 and 10 tasks (pool threads
    beyond the cores just wait their turn): the same bits."""
    direct = (n_in + n_hidden) * n_hidden * 4 <= kernels.DIRECT_BYTES
    assert direct == (n_hidden < 400), "the cases cover both backward paths"
    config, weights, steps, channels, offsets, labels, batch = _case(n_hidden, n_in)
    reg = RegConfig(nu_upper=2.0, lambda_upper=1e-4, lambda_lower=1e-4)
    results = []
    for n, n_tasks in ((1, 1), (2, 4), (3, 6), (8, 10)):
        monkeypatch.setattr(engine, "_threads", lambda n=n: n)
        assert len(engine._tasks(len(batch), n)) == n_tasks
        results.append(loss_and_grad(config, weights, steps, channels, offsets, labels,
                                     batch, reg, adjoint=adjoint))
    one = results[0]
    for other in results[1:]:
        assert other.loss == one.loss
        np.testing.assert_array_equal(other.readout, one.readout)
        for name in Weights.NAMES:
            np.testing.assert_array_equal(getattr(other.grads, name), getattr(one.grads, name))
    monkeypatch.setattr(engine, "_threads", lambda: 2)
    np.testing.assert_array_equal(
        engine.infer(config, weights, steps, channels, offsets, batch, batch_size=3)[0],
        one.readout)


def test_tasks_are_nodes_of_the_tree_and_cover_the_batch() -> None:
    for n in (1, 2, 7, 10, 32, 33):
        for threads_ in (1, 2, 3, 16, 64):
            tasks = engine._tasks(n, threads_)
            assert tasks[0][0] == 0 and tasks[-1][1] == n
            assert all(a[1] == b[0] for a, b in itertools.pairwise(tasks))
            levels = engine._merge_levels(tasks)
            assert sum(len(level) for level in levels) == len(tasks) - 1
    assert engine._tasks(32, 2) == [(i, i + 8) for i in range(0, 32, 8)]
    assert engine._tasks(32, 64) == [(i, i + 1) for i in range(32)]


def test_tree_sum_joins_tasks_in_the_trees_order() -> None:
    # 7 samples: the tree is (0..3) + ((4, 5) + 6); in float32 -1e8 + 1 rounds to -1e8, so
    # the tree's order gives 1e8 + -1e8 = 0, where a left-to-right sum would give 1.
    tasks = [(0, 4), (4, 6), (6, 7)]
    parts = [(np.array([x], np.float32),) for x in (1e8, -1e8, 1.0)]
    assert engine._tree_sum(tasks, parts)[0][0] == np.float32(0.0)

"""Optimiser, learning-rate schedule and checkpoint mechanics of the training loop."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.config import default_config, train_settings
from neurokws.model.network import Weights
from neurokws.train.checkpoint import TrainState, load_checkpoint, resume_or_none, save_checkpoint
from neurokws.train.optimizer import Adam
from neurokws.train.schedule import LearningRateSchedule

ADAM = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}   # Kingma & Ba's values, used below
SCHEDULE = LearningRateSchedule.from_settings(
    train_settings(default_config(), "default", 1)).state()


def small_weights(value: float = 0.0) -> Weights:
    return Weights(np.full((3, 2), value, np.float32), np.full((2, 2), value, np.float32),
                   np.full((2, 4), value, np.float32))


def test_adam_matches_textbook_update():
    weights, grads = small_weights(1.0), small_weights(0.0)
    grads.w_in[0, 0] = 2.0
    grads.w_rec[1, 1] = -0.5
    adam = Adam(**ADAM)
    adam.step(weights, grads, lr=0.1)
    # First step of bias-corrected Adam moves every non-zero-gradient weight by lr * sign(g).
    assert weights.w_in[0, 0] == pytest.approx(0.9, abs=1e-6)
    assert weights.w_rec[1, 1] == pytest.approx(1.1, abs=1e-6)
    assert weights.w_out[0, 0] == 1.0
    # Second step with a different gradient: compare with an independent float64 computation.
    grads.w_in[0, 0] = 1.0
    adam.step(weights, grads, lr=0.1)
    m = 0.9 * (0.1 * 2.0) + 0.1 * 1.0
    v = 0.999 * (0.001 * 4.0) + 0.001 * 1.0
    expected = 0.9 - 0.1 * (m / (1 - 0.9**2)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8)
    assert weights.w_in[0, 0] == pytest.approx(expected, rel=1e-6)


def test_adam_fused_update_has_numpy_bits():
    """The compiled update (float32, contiguous) equals the textbook numpy expression with
    numpy's float32 arithmetic bit for bit, moments included, over several steps; a
    non-contiguous view takes the numpy path and agrees too."""
    rng = np.random.default_rng(3)
    shapes = [(70, 32), (32, 32), (32, 5)]
    ours = Weights(*(rng.standard_normal(s).astype(np.float32) for s in shapes))
    ref = ours.copy()
    adam = Adam(**ADAM)
    m = {k: np.zeros_like(a) for k, a in ref.arrays().items()}
    v = {k: np.zeros_like(a) for k, a in ref.arrays().items()}
    b1, b2, eps = ADAM["beta1"], ADAM["beta2"], ADAM["eps"]
    for t in range(1, 5):
        grads = Weights(*(rng.standard_normal(s).astype(np.float32) for s in shapes))
        adam.step(ours, grads, 1e-2)
        first, second = 1.0 / (1.0 - b1 ** t), 1.0 / (1.0 - b2 ** t)
        for k, w in ref.arrays().items():
            g = getattr(grads, k)
            m[k] = b1 * m[k] + (1.0 - b1) * g
            v[k] = b2 * v[k] + (1.0 - b2) * (g * g)
            w -= (1e-2 * first) * m[k] / (np.sqrt(v[k] * second) + eps)
    for k in Weights.NAMES:
        np.testing.assert_array_equal(getattr(ours, k), getattr(ref, k))
        np.testing.assert_array_equal(adam.m[k], m[k])
        np.testing.assert_array_equal(adam.v[k], v[k])
    strided = Weights(*(np.asfortranarray(a) for a in ref.arrays().values()))
    again = ref.copy()
    g = Weights(*(rng.standard_normal(s).astype(np.float32) for s in shapes))
    Adam(**ADAM).step(strided, g, 1e-2)
    Adam(**ADAM).step(again, g, 1e-2)
    for k in Weights.NAMES:
        np.testing.assert_array_equal(getattr(strided, k), getattr(again, k))


def test_adam_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    a, b = small_weights(0.5), small_weights(0.5)
    adam_a = Adam(**ADAM)
    grads = [Weights(*(rng.normal(size=x.shape).astype(np.float32)
                       for x in small_weights().arrays().values())) for _ in range(4)]
    for g in grads[:2]:
        adam_a.step(a, g, 1e-2)
    adam_b = Adam(**ADAM)
    adam_b.load_state(adam_a.state())
    b = a.copy()
    for g in grads[2:]:
        adam_a.step(a, g, 1e-2)
        adam_b.step(b, g, 1e-2)
    for name in Weights.NAMES:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_ease_in_reaches_target_after_about_142_batches():
    schedule = LearningRateSchedule(**SCHEDULE)   # the schema's defaults = the paper's
    rates = [schedule.lr_for_next_batch() for _ in range(200)]
    assert rates[0] == pytest.approx(1e-6)
    assert rates[1] == pytest.approx(1.05e-6)
    first_full = next(i for i, r in enumerate(rates) if r == 1e-3)
    assert first_full == int(np.ceil(np.log(1e3) / np.log(1.05)))  # 142
    assert all(np.diff(rates) >= 0)


def test_ease_in_counter_survives_long_runs():
    """1.05 ** n overflows a float after ~14,500 batches (SSC at batch 32: epoch 7)."""
    schedule = LearningRateSchedule(**{**SCHEDULE, "batches_seen": 20_000})
    assert schedule.current_lr == 1e-3
    assert schedule.lr_for_next_batch() == 1e-3


def test_plateau_halves_only_after_patience_and_when_fast_below_slow():
    schedule = LearningRateSchedule(**{**SCHEDULE, "start_lr": 1e-3})
    accuracies = [0.5 + 0.005 * e for e in range(60)] + [0.2] * 10
    changes = [e for e, acc in enumerate(accuracies) if schedule.end_epoch(e, acc)]
    # Rising accuracy keeps fast above slow; the drop at epoch 60 triggers one halving
    # (more than 50 epochs since epoch 0), and none again within the next 50 epochs.
    assert changes == [60]
    assert schedule.target_lr == pytest.approx(5e-4)


def test_cosine_annealing_follows_its_formula_per_epoch_and_on_top_of_ease_in():
    """lr of epoch e = min(target, eased) (1 + cos(pi e / E)) / 2; the schema's default
    (none) leaves the paper's schedule unchanged."""
    assert SCHEDULE["anneal"] == "none"
    epochs, per_epoch = 10, 4
    schedule = LearningRateSchedule(**{**SCHEDULE, "anneal": "cosine", "epochs": epochs,
                                       "start_lr": 1e-4, "factor": 2.0})
    plain = LearningRateSchedule(**{**SCHEDULE, "start_lr": 1e-4, "factor": 2.0})
    for epoch in range(epochs):
        factor = 0.5 * (1 + np.cos(np.pi * epoch / epochs))
        for _ in range(per_epoch):
            assert schedule.lr_for_next_batch() == pytest.approx(
                plain.lr_for_next_batch() * factor, rel=1e-12)
        schedule.end_epoch(epoch, 0.5)
        plain.end_epoch(epoch, 0.5)
    assert schedule.current_lr == 0.0       # after the last epoch: (1 + cos(pi)) / 2
    # A resumed schedule continues where it stopped.
    resumed = LearningRateSchedule.from_state({**schedule.state(), "epochs_done": 3})
    assert resumed.current_lr == pytest.approx(1e-3 * 0.5 * (1 + np.cos(0.3 * np.pi)))


def test_plateau_ewma_formula():
    schedule = LearningRateSchedule(**SCHEDULE)
    schedule.end_epoch(0, 1.0)
    assert (schedule.fast, schedule.slow) == pytest.approx((0.2, 0.15))


def test_checkpoint_round_trip_and_stale_checkpoint_is_kept(tmp_path):
    adam = Adam(**ADAM)
    weights = small_weights(0.25)
    adam.step(weights, small_weights(1.0), 1e-3)
    state = TrainState(epoch=3, weights=weights, optimizer=adam.state(),
                       schedule=LearningRateSchedule(**SCHEDULE).state(),
                       log_rows=[{"epoch": 0, "loss": 1.5}], best_metric=0.5, best_epoch=2,
                       run_hash="abc")
    path = tmp_path / "last.npz"
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert (loaded.epoch, loaded.best_epoch, loaded.run_hash) == (3, 2, "abc")
    assert loaded.log_rows == state.log_rows
    np.testing.assert_array_equal(loaded.weights.w_in, weights.w_in)
    assert resume_or_none(path, "abc") is not None
    assert resume_or_none(path, "other") is None
    assert not path.exists()
    assert (tmp_path / "last.stale-abc.npz").exists()  # set aside, never deleted


def test_unreadable_checkpoint_names_file(tmp_path):
    path = tmp_path / "last.npz"
    path.write_bytes(b"not an npz")
    with pytest.raises(Exception, match=r"last\.npz"):
        load_checkpoint(path)

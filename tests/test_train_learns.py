"""Training learns: on a small generated task the loss falls and held-out test accuracy ends
far above chance; the same run with a sign-flipped gradient does not, so the thresholds
separate a working gradient from a broken one (a few seconds each)."""

from __future__ import annotations

import numpy as np
import pytest

from neurokws.backends import numba
from neurokws.config import default_config, network_config, train_settings
from neurokws.data.formats.binning import bin_events
from neurokws.data.sources.synthetic import generate_split
from neurokws.model.network import Weights
from neurokws.train.evaluate import evaluate

N_CLASSES, N_HIDDEN, T_MS = 4, 32, 200
CONFIG = default_config(
    datasets={"task": {"source": "synthetic", "epochs": 25, "augmentations": ["shift"]}},
    hidden_sizes=[N_HIDDEN], seeds=[1], model={"n_steps": T_MS},
    training={"batch_size": 16, "lr": 3e-3, "ease_in_start_lr": 3e-3, "progress_bar": False})
TEST_ACCURACY_MIN = 0.8    # chance is 1 / N_CLASSES = 0.25
LOSS_DROP_MIN = 0.5        # final epoch loss <= half the first epoch's


def train_and_test(tmp_path, monkeypatch, flip_gradient: bool) -> tuple[list[float], float]:
    """Epoch losses and test accuracy (other speakers) of one short training run."""
    if flip_gradient:
        real = numba.loss_and_grad

        def flipped(*args, **kwargs):
            result = real(*args, **kwargs)
            result.grads = Weights(*(-g for g in result.grads.arrays().values()))
            return result

        monkeypatch.setattr(numba, "loss_and_grad", flipped)
    train = generate_split(160, N_CLASSES, seed=3, difficulty=0.1, duration_ms=T_MS,
                           speakers=range(8))
    test = generate_split(80, N_CLASSES, seed=3, difficulty=0.1, duration_ms=T_MS,
                          speakers=range(8, 10), split="test")
    net = network_config(CONFIG, N_HIDDEN, n_out=N_CLASSES, n_in=train.n_channels)
    result = numba.train(net, train_settings(CONFIG, "task", N_HIDDEN), 1, train, tmp_path)
    losses = [row["loss"] for row in result.log_rows]
    return losses, evaluate(net, result.weights, bin_events(test, net.dt, net.n_steps)).accuracy


def test_loss_falls_and_test_accuracy_ends_far_above_chance(tmp_path, monkeypatch):
    losses, accuracy = train_and_test(tmp_path, monkeypatch, flip_gradient=False)
    assert losses[-1] <= LOSS_DROP_MIN * losses[0], losses
    assert accuracy >= TEST_ACCURACY_MIN, accuracy


def test_a_sign_flipped_gradient_fails_those_thresholds(tmp_path, monkeypatch):
    losses, accuracy = train_and_test(tmp_path, monkeypatch, flip_gradient=True)
    assert losses[-1] > LOSS_DROP_MIN * losses[0]
    assert accuracy < TEST_ACCURACY_MIN
    assert accuracy == pytest.approx(1 / N_CLASSES, abs=0.15)
    assert np.isfinite(losses[0])

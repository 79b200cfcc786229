"""Quantization-aware training (train/qat.py): the forward model, the straight-through
gradient, and training with it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neurokws.config import (
    QuantTraining,
    default_config,
    default_network,
    network_config,
    train_settings,
)
from neurokws.data.binning import bin_events
from neurokws.data.synthetic import generate_split
from neurokws.deploy.quantize import DECAY_ONE, quantize
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.inputs import aligned_inputs
from neurokws.model.engine import loss_and_grad
from neurokws.model.network import Weights
from neurokws.model.reference import simulate
from neurokws.train.loop import accuracy, train
from neurokws.train.qat import fake_quantize


def _network(rng, n_hidden=32, n_out=5, n_steps=80):
    config = default_network(n_hidden=n_hidden, n_out=n_out, n_in=700, n_steps=n_steps)
    weights = Weights(rng.normal(0.09, 0.03, (700, n_hidden)).astype(np.float32),
                      rng.normal(0.0, 0.06, (n_hidden, n_hidden)).astype(np.float32),
                      rng.normal(0.0, 0.09, (n_hidden, n_out)).astype(np.float32))
    return config, weights


@pytest.mark.parametrize("bits", [8, 4])
def test_forward_model_is_the_deployed_integers(bits):
    """W_q k_q / s gives back deployment's integers exactly; decays are Loihi's 12-bit ones
    and the threshold vThMant s."""
    config, weights = _network(np.random.default_rng(1))
    fq = fake_quantize(config, weights, QuantTraining(bits, 99.0))
    deployed = quantize(config, weights, bits=bits, percentile=99.0)
    assert fq.quantized.same_integers(deployed)
    q = fq.config
    assert q.alpha == pytest.approx(1 - deployed.v_decay / DECAY_ONE, abs=1e-14)
    assert q.beta == pytest.approx(1 - deployed.i_decay / DECAY_ONE, abs=1e-14)
    assert q.v_th == math.ldexp(deployed.v_th_mant, deployed.hidden_exponent)
    k_q = (1 - q.alpha) * q.current_scale
    for w, ints, s in zip(fq.weights.arrays().values(), deployed.arrays().values(),
                          (deployed.hidden_scale,) * 2 + (deployed.output_scale,), strict=True):
        np.testing.assert_allclose(w.T * k_q / s, ints, atol=2e-4)
        np.testing.assert_array_equal(np.rint(w.T * k_q / s), ints)
    assert fq.grad_scale == pytest.approx(deployed.weight_fold / k_q, rel=1e-12)
    assert (q.n_hidden, q.n_steps, q.dt, q.max_delay_in) == \
        (config.n_hidden, config.n_steps, config.dt, config.max_delay_in)


@pytest.mark.parametrize("bits", [8, 6, 4])
def test_forward_pass_spikes_as_the_emulator(bits):
    """On aligned input the QAT forward model's hidden spikes are the emulator's (the
    deployed integers in Lava's arithmetic) but for a few (truncating decays, 24-bit state,
    strict threshold: docs/fixedpoint.md); the plain dequantized float model, with float
    decays, differs several times as often."""
    rng = np.random.default_rng(5)
    config, weights = _network(rng)
    n_s, per = 4, 1500
    inputs = aligned_inputs(rng.integers(0, 80, per * n_s), rng.integers(0, 700, per * n_s),
                            np.arange(n_s + 1) * per, n_steps=80)
    fq = fake_quantize(config, weights, QuantTraining(bits, 99.0))
    emulated = FixedPointNetwork.from_quantized(fq.quantized).run(
        inputs, stream_len=1, record=("hidden",)).traces["hidden_s"].astype(bool)

    def mismatches(cfg, w):
        total = 0
        for s in range(n_s):
            sel = slice(inputs.offsets[s], inputs.offsets[s + 1])
            total += int(np.sum(simulate(cfg, w, inputs.steps[sel],
                                         inputs.channels[sel]).spikes != emulated[s]))
        return total

    n_spikes = int(emulated.sum())
    qat, plain = mismatches(fq.config, fq.weights), mismatches(config,
                                                               fq.quantized.dequantize())
    assert n_spikes > 2000
    assert qat <= 0.015 * n_spikes, (qat, n_spikes)
    assert plain >= 2 * max(qat, 10), (qat, plain)


def test_straight_through_gradient_is_the_slope_of_the_quantizer():
    """dL/dW = (c / k_q) dL/dW_q: the engine's gradient at W_q times the slope of W -> W_q
    with rounding and clipping taken out. At 16 bits the rounding is fine enough to measure
    that slope by differences (weights below the percentile moved, so the scales stay),
    to 1e-5: the factor differs from 1 by 4e-4 (12-bit decays), so dropping it fails."""
    rng = np.random.default_rng(2)
    config, weights = _network(rng)
    spec = QuantTraining(16, 99.0)
    fq = fake_quantize(config, weights, spec)
    small = np.abs(weights.w_in) < np.percentile(np.abs(weights.w_in), 50)
    direction = np.where(small, rng.choice([-1.0, 1.0], weights.w_in.shape), 0.0)
    h = 2e-3
    moved = Weights(weights.w_in + (h * direction).astype(np.float32), weights.w_rec,
                    weights.w_out)
    fq2 = fake_quantize(config, moved, spec)
    assert fq2.quantized.hidden_exponent == fq.quantized.hidden_exponent
    step = (moved.w_in.astype(np.float64) - weights.w_in)[small]
    slope = np.sum((fq2.weights.w_in - fq.weights.w_in.astype(np.float64))[small] * step) \
        / np.sum(step * step)
    assert abs(fq.grad_scale - 1) > 3e-4
    assert slope == pytest.approx(fq.grad_scale, abs=1e-5)
    # ... and shadow_grads applies it to the engine's gradient at W_q
    split = generate_split(8, 2, seed=3, duration_ms=80.0)
    binned = bin_events(split, config.dt, config.n_steps)
    net2 = dataclasses.replace(config, n_out=2)
    w2 = Weights(weights.w_in, weights.w_rec, weights.w_out[:, :2])
    fq3 = fake_quantize(net2, w2, QuantTraining(4, 99.0))
    res = loss_and_grad(fq3.config, fq3.weights, binned.steps, binned.channels, binned.offsets,
                        binned.labels, np.arange(8))
    for g, sg in zip(res.grads.arrays().values(), fq3.shadow_grads(res.grads).arrays().values(),
                     strict=True):
        np.testing.assert_allclose(sg, g * fq3.grad_scale, rtol=1e-6)
        assert np.abs(g).max() > 0


def test_qat_fine_tuning_lowers_the_loss_of_the_deployed_model(tmp_path):
    """Fine-tuning a float model with QAT at 2 bits lowers the training loss of the 2-bit
    model (the integers deployment makes from the returned weights, run as Loihi would)
    well below post-training quantization of the float model, and below the same
    fine-tuning without QAT, and keeps its test accuracy at least as high. The run is
    deterministic (two runs, same bits) and resumes to the same bits."""
    t_ms = 200
    config = default_config(
        datasets={"task": {"source": "synthetic", "epochs": 25, "augmentations": ["shift"]}},
        hidden_sizes=[32], seeds=[1], model={"n_steps": t_ms},
        training={"batch_size": 16, "lr": 3e-3, "ease_in_start_lr": 3e-3,
                  "progress_bar": False})
    split = generate_split(160, 4, seed=3, difficulty=0.1, duration_ms=t_ms,
                           speakers=range(8))
    test = generate_split(80, 4, seed=3, difficulty=0.1, duration_ms=t_ms,
                          speakers=range(8, 10), split="test")
    net = network_config(config, 32, n_out=4, n_in=split.n_channels)
    settings = train_settings(config, "task", 32)
    float_w = train(net, settings, 1, split, tmp_path / "float").weights
    spec = QuantTraining(2, 99.0)
    binned = bin_events(split, net.dt, net.n_steps)

    def deployed(w):   # (training loss, test accuracy) of the 2-bit model
        fq = fake_quantize(net, w, spec)
        loss = loss_and_grad(fq.config, fq.weights, binned.steps, binned.channels,
                             binned.offsets, binned.labels, np.arange(len(split)),
                             compute_grad=False).loss
        return loss, accuracy(fq.config, fq.weights, test)

    tune = dataclasses.replace(settings, epochs=4, lr=1e-3, ease_in_start_lr=1e-3)
    qat_w = train(net, tune, 1, split, tmp_path / "qat", qat=spec, init=float_w).weights
    again = train(net, tune, 1, split, tmp_path / "qat2", qat=spec, init=float_w).weights
    for a, b in zip(qat_w.arrays().values(), again.arrays().values(), strict=True):
        np.testing.assert_array_equal(a, b)
    # resuming: one epoch, then the same run extended to all four, gives the same bits
    train(net, dataclasses.replace(tune, epochs=1), 1, split, tmp_path / "resumed", qat=spec,
          init=float_w)
    resumed = train(net, tune, 1, split, tmp_path / "resumed", qat=spec, init=float_w)
    assert [r["epoch"] for r in resumed.log_rows] == [0, 1, 2, 3]
    for a, b in zip(qat_w.arrays().values(), resumed.weights.arrays().values(), strict=True):
        np.testing.assert_array_equal(a, b)
    plain_w = train(net, tune, 1, split, tmp_path / "plain", init=float_w).weights
    (ptq_loss, ptq_acc), (qat_loss, qat_acc) = deployed(float_w), deployed(qat_w)
    plain_loss, _ = deployed(plain_w)
    assert qat_loss <= 0.8 * min(ptq_loss, plain_loss), (ptq_loss, plain_loss, qat_loss)
    assert qat_acc >= ptq_acc, (ptq_acc, qat_acc)


def test_qat_refusals(tmp_path):
    config, weights = _network(np.random.default_rng(0), n_hidden=8)
    settings = train_settings(default_config(), "default", 8)
    split = generate_split(4, 2, seed=1, duration_ms=80.0)
    net = dataclasses.replace(config, n_out=2)
    with pytest.raises(ValueError, match="numba engine only"):
        train(net, settings, 1, split, tmp_path, backend=object(), qat=QuantTraining(4, 99.0))
    with pytest.raises(ValueError, match="with delays is not supported"):
        train(dataclasses.replace(net, max_delay_in=3), settings, 1, split, tmp_path,
              qat=QuantTraining(4, 99.0))
    with pytest.raises(ValueError, match="bits must be an integer"):
        fake_quantize(config, weights, QuantTraining(1, 99.0))

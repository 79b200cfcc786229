"""Quantization-aware training (train/qat.py): the forward model, the straight-through
gradient, and training with it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neurokws.backends.numba import train
from neurokws.config import (
    QuantTraining,
    default_config,
    default_network,
    delay_training,
    network_config,
    qat_settings,
    train_settings,
)
from neurokws.data.formats.binning import bin_events
from neurokws.data.formats.events import hold_out
from neurokws.data.sources.synthetic import generate_split
from neurokws.deploy.quantize import quantize, trained_exponents
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.inputs import aligned_inputs
from neurokws.model.engine import loss_and_grad
from neurokws.model.network import Delays, Weights, with_delay_bits
from neurokws.model.reference import simulate
from neurokws.train import loop
from neurokws.train.evaluate import evaluate
from neurokws.train.loop import selected_row
from neurokws.train.optimizer import Adam
from neurokws.train.qat import fake_quantize, fix_scale, quanta
from neurokws.utils.errors import ConfigError, ModelFormatError
from neurokws.utils.loihi import DECAY_ONE


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


T_MS = 200


def _float_model(tmp_path, epochs: int, n_samples: int):
    """A float model trained on a small synthetic task (4 classes, 8 speakers): config,
    network, weights and its training split."""
    config = default_config(
        datasets={"task": {"source": "synthetic", "epochs": epochs,
                           "augmentations": ["shift"]}},
        hidden_sizes=[32], seeds=[1], model={"n_steps": T_MS},
        training={"batch_size": 16, "lr": 3e-3, "ease_in_start_lr": 3e-3,
                  "progress_bar": False})
    split = generate_split(n_samples, 4, seed=3, difficulty=0.1, duration_ms=T_MS,
                           speakers=range(8))
    net = network_config(config, 32, n_out=4, n_in=split.n_channels)
    float_w = train(net, train_settings(config, "task", 32), 1, split,
                    tmp_path / "float").weights
    return config, net, float_w, split


def test_qat_fine_tuning_lowers_the_loss_of_the_deployed_model(tmp_path):
    """Fine-tuning a float model with QAT at 2 bits lowers the training loss of the 2-bit
    model (the integers deployment makes from the returned weights, run as Loihi would)
    well below post-training quantization of the float model, and below the same
    fine-tuning without QAT, and keeps its test accuracy at least as high. The run is
    deterministic (two runs, same bits) and resumes to the same bits."""
    config, net, float_w, split = _float_model(tmp_path, epochs=25, n_samples=160)
    settings = train_settings(config, "task", 32)
    test = generate_split(80, 4, seed=3, difficulty=0.1, duration_ms=T_MS,
                          speakers=range(8, 10), split="test")
    spec = QuantTraining(2, 99.0)
    binned = bin_events(split, net.dt, net.n_steps)

    def deployed(w):   # (training loss, test accuracy) of the 2-bit model
        fq = fake_quantize(net, w, spec)
        loss = loss_and_grad(fq.config, fq.weights, binned.steps, binned.channels,
                             binned.offsets, binned.labels, np.arange(len(split)),
                             compute_grad=False).loss
        return loss, evaluate(fq.config, fq.weights, test).accuracy

    tune = dataclasses.replace(settings, epochs=4, lr=1e-3, ease_in_start_lr=1e-3)
    run = train(net, tune, 1, split, tmp_path / "qat", qat=spec, init=float_w)
    qat_w = run.weights
    # fine-tuning holds the scales of the float model's post-training quantization
    ptq = quantize(net, float_w, bits=2, percentile=99.0)
    assert run.qat.exponents == (ptq.hidden_exponent, ptq.output_exponent)
    spec = run.qat
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
    class NoQat:   # a backend without QAT, as mlGeNN's (backends/mlgenn.py)
        supports_qat = False

        def identity(self):
            return {}

    with pytest.raises(ValueError, match="numba engine only"):
        loop.train(net, settings, 1, split, tmp_path, backend=NoQat(),
                   qat=QuantTraining(4, 99.0))
    with pytest.raises(ValueError, match="with delays fine-tunes a trained one"):
        train(dataclasses.replace(net, max_delay_in=3), settings, 1, split, tmp_path,
              qat=QuantTraining(4, 99.0))
    with pytest.raises(ValueError, match="needs fixed scales"):
        train(net, settings, 1, split, tmp_path, qat=QuantTraining(4, 99.0, lr_quanta=True))
    with pytest.raises(ValueError, match="bits must be an integer"):
        fake_quantize(config, weights, QuantTraining(1, 99.0))


def _fine_tuning_case(tmp_path):
    """A float model trained on a small synthetic task, its data, and a held-out split."""
    config, net, float_w, split = _float_model(tmp_path, epochs=20, n_samples=200)
    rest, held = hold_out(split, 0.2, 1)
    return config, net, float_w, rest, held


def test_fine_tuning_never_selects_a_model_below_post_training_quantization(tmp_path):
    """The cause of the QAT collapse (docs/quantization.md), reproduced: fine-tuning whose
    steps are far larger than a 3-bit weight step wrecks the deployed model in every
    epoch. Selected on online
    training accuracy (the old default) or on the epochs alone, the result deploys below
    PTQ of the float model; with PTQ itself as the candidate before the first epoch
    (select_start), the selection on the held-out deployed integers hands on PTQ's model
    unchanged. A gentle rate in quanta improves on PTQ there instead, and deployment
    quantizes the result with the scales it was trained at, to the integers it ran."""
    config, net, float_w, rest, held = _fine_tuning_case(tmp_path)
    spec = QuantTraining(3, 99.0, lr_quanta=True)
    settings = qat_settings(config, "task", 32, 3)
    assert settings.select_checkpoint == "best_valid"
    ptq = fix_scale(net, spec, float_w)

    def held_accuracy(w, s=ptq):
        fq = fake_quantize(net, w, s)
        return evaluate(fq.config, fq.weights, held).accuracy

    start = held_accuracy(float_w)
    wild = dataclasses.replace(settings, epochs=3, lr=40.0, ease_in_start_lr=40.0)
    by_train = train(net, dataclasses.replace(wild, select_checkpoint="best_train"), 1, rest,
                     tmp_path / "wild_train", held, qat=spec, init=float_w)
    assert max(r["valid_accuracy"] for r in by_train.log_rows) < start - 0.05, \
        "every epoch's deployed model should lose to PTQ here"
    assert held_accuracy(by_train.weights, by_train.qat) < start
    guarded = train(net, wild, 1, rest, tmp_path / "wild", held, qat=spec, init=float_w)
    assert guarded.selected_epoch == -1
    for a, b in zip(guarded.weights.arrays().values(), float_w.arrays().values(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert held_accuracy(guarded.weights, guarded.qat) == start
    assert selected_row(guarded)["epoch"] == -1
    # a gentle rate in quanta at 2 bits, where PTQ loses: every batch on PTQ's scales,
    # shadow weights within half a step of the range, and better than PTQ on held-out data
    spec2 = QuantTraining(2, 99.0, lr_quanta=True)
    ptq2 = fix_scale(net, spec2, float_w)
    start2 = held_accuracy(float_w, ptq2)
    gentle = train(net, dataclasses.replace(settings, epochs=4), 1, rest, tmp_path / "tune",
                   held, qat=spec2, init=float_w)
    assert gentle.qat.exponents == ptq2.exponents
    assert gentle.selected_epoch >= 0
    assert held_accuracy(gentle.weights, ptq2) > start2
    step = quanta(net, gentle.qat)
    rescued = np.float32(settings.rescue_increment) * len(gentle.log_rows)
    for name, w in gentle.weights.arrays().items():   # 2 bits: integers -2..1
        assert w.min() >= -2.5 * step[name] - 1e-6, name
        assert w.max() <= 1.5 * step[name] + rescued + 1e-6, name
    deployed = quantize(net, gentle.weights, bits=2, percentile=99.0,
                        exponents=trained_exponents({"qat": gentle.qat.to_dict()}, 2, 99.0,
                                                    "m.npz"))
    assert deployed.same_integers(fake_quantize(net, gentle.weights, gentle.qat).quantized)
    with pytest.raises(ModelFormatError, match=r"m\.npz: trained for 2-bit"):
        trained_exponents({"qat": gentle.qat.to_dict()}, 4, 99.0, "m.npz")
    assert trained_exponents({}, 2, 99.0, "m.npz") is None


def test_scale_search_holds_a_finer_scale_only_where_it_beats_ptqs(tmp_path):
    """training.qat.scale_search: at 2 bits the percentile's step rounds most weights to 0
    and a finer step does better; search_scale tries each layer's exponent up to K powers
    of two lower on the held-out split, keeps the most accurate pair only where it beats
    PTQ's accuracy p by margin_se standard errors (else PTQ's), and fine-tuning holds it."""
    from neurokws.train.loop import fresh_state, search_scale, select_start

    config, net, float_w, rest, held = _fine_tuning_case(tmp_path)
    # margin 1 se: on 40 held-out samples PTQ's 92.5 % leaves 2 se no room below 100 %
    spec = QuantTraining(2, 99.0, lr_quanta=True, margin_se=1.0, scale_search=2)
    ptq = fix_scale(net, spec, float_w)

    def held_accuracy(s):
        fq = fake_quantize(net, float_w, s)
        return evaluate(fq.config, fq.weights, held).accuracy

    p = held_accuracy(ptq)
    candidates = {(ptq.exponents[0] - i, ptq.exponents[1] - j):
                  held_accuracy(dataclasses.replace(ptq, exponents=(ptq.exponents[0] - i,
                                                                    ptq.exponents[1] - j)))
                  for i in range(3) for j in range(3)}
    searched = search_scale(net, ptq, float_w, None, held)
    assert searched.exponents != ptq.exponents   # here a finer scale wins, as on real data
    assert searched.exponents[0] <= ptq.exponents[0] and searched.exponents[1] <= ptq.exponents[1]
    best = candidates[searched.exponents]
    assert best == max(candidates.values())
    assert best > p + 1.0 * math.sqrt(p * (1 - p) / len(held))
    # Nothing beats PTQ by a margin this wide, or nothing is tried: PTQ's scales.
    assert search_scale(net, dataclasses.replace(ptq, margin_se=1e6), float_w, None,
                        held).exponents == ptq.exponents
    assert search_scale(net, dataclasses.replace(ptq, scale_search=0), float_w, None,
                        held).exponents == ptq.exponents
    # train() searches before fine-tuning and holds the scales it found; the start cleared
    # PTQ's margin, so an epoch replaces it where it does better at all (no second margin).
    settings = dataclasses.replace(qat_settings(config, "task", 32, 2), epochs=3)
    run = train(net, settings, 1, rest, tmp_path / "search", held, qat=spec, init=float_w)
    assert run.qat.exponents == searched.exponents
    fq = fake_quantize(net, run.weights, run.qat)
    assert evaluate(fq.config, fq.weights, held).accuracy >= best
    epochs = [row["valid_accuracy"] for row in run.log_rows]
    if max(epochs) > best:
        assert run.selected_epoch == int(np.argmax(epochs))
    else:
        assert run.selected_epoch == -1
    # the bar an epoch must clear: the searched start's accuracy; PTQ's plus the margin
    state = fresh_state(net, settings, 1, "run", init=float_w)
    (tmp_path / "bar").mkdir()
    select_start(state, net, searched, held, tmp_path / "bar", beat_ptq=True)
    assert state.best_metric == best and state.best_epoch == -1
    select_start(state, net, ptq, held, tmp_path / "bar")
    assert state.best_metric == pytest.approx(p + 1.0 * math.sqrt(p * (1 - p) / len(held)))


def test_rate_in_quanta_scales_each_layers_adam_step():
    """lr_scale multiplies the rate per array: one Adam step with it equals separate steps
    at the scaled rates (the fused float32 path and numpy's give the same bits)."""
    rng = np.random.default_rng(4)
    w = Weights(*(rng.normal(0, 1, shape).astype(np.float32)
                  for shape in ((6, 4), (4, 4), (4, 3))))
    g = Weights(*(rng.normal(0, 1, a.shape).astype(np.float32) for a in w.arrays().values()))
    scale = {"w_in": 0.5, "w_rec": 0.5, "w_out": 0.125}
    together = w.copy()
    Adam(0.9, 0.999, 1e-8).step(together, g, 1e-2, scale)
    for name in Weights.NAMES:
        alone = w.copy()
        Adam(0.9, 0.999, 1e-8).step(alone, g, 1e-2 * scale[name])
        np.testing.assert_array_equal(getattr(together, name), getattr(alone, name))
    assert not np.array_equal(together.w_out, w.w_out)


def test_hold_out_is_per_label_disjoint_and_drawn_from_the_seed():
    split = generate_split(60, 3, seed=2, duration_ms=80.0)
    rest, held = hold_out(split, 0.2, 5)
    assert len(rest) + len(held) == len(split)
    for label in range(3):
        n = int(np.sum(split.labels == label))
        assert int(np.sum(held.labels == label)) == round(0.2 * n)
    _, again = hold_out(split, 0.2, 5)
    np.testing.assert_array_equal(again.times_us, held.times_us)
    _, other = hold_out(split, 0.2, 6)
    assert not np.array_equal(other.times_us, held.times_us)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        hold_out(split, 1.0, 5)


@pytest.mark.parametrize("bits", [8, 3])
def test_forward_pass_with_delays_spikes_as_the_emulator(bits):
    """A model with delays: the QAT forward model (deployed integers, rounded delays) on
    aligned input spikes as the emulator runs the same QuantizedModel, but for the few
    documented float/fixed differences (docs/fixedpoint.md)."""
    rng = np.random.default_rng(6)
    config, weights = _network(rng)
    config = dataclasses.replace(config, max_delay_in=20, max_delay_rec=12)
    delays = Delays(rng.integers(0, 21, (700, 32)).astype(np.int32),
                    rng.integers(0, 13, (32, 32)).astype(np.int32))
    n_s, per = 4, 1500
    inputs = aligned_inputs(rng.integers(0, 80, per * n_s), rng.integers(0, 700, per * n_s),
                            np.arange(n_s + 1) * per, n_steps=80)
    fq = fake_quantize(config, weights, QuantTraining(bits, 99.0), delays)
    assert fq.config.delay_maxima == config.delay_maxima
    emulated = FixedPointNetwork.from_quantized(fq.quantized).run(
        inputs, stream_len=1, record=("hidden",)).traces["hidden_s"].astype(bool)
    total = 0
    for s in range(n_s):
        sel = slice(inputs.offsets[s], inputs.offsets[s + 1])
        total += int(np.sum(simulate(fq.config, fq.weights, inputs.steps[sel],
                                     inputs.channels[sel], delays).spikes != emulated[s]))
    n_spikes = int(emulated.sum())
    assert n_spikes > 1000
    # 2 %: one spike that differs (e.g. a truncated decay) shifts the later ones it drives,
    # through delays too (here 0 of 2,672 at 8 bits, 41 of 2,664 at 3 bits)
    assert total <= 0.02 * n_spikes, (total, n_spikes)
    # without the delays the same integers spike differently: the delays are in the model
    undelayed = sum(int(np.sum(simulate(dataclasses.replace(fq.config, max_delay_in=0,
                                                             max_delay_rec=0), fq.weights,
                                        inputs.steps[inputs.offsets[s]:inputs.offsets[s + 1]],
                                        inputs.channels[inputs.offsets[s]:inputs.offsets[s + 1]]
                                        ).spikes != emulated[s])) for s in range(n_s))
    assert undelayed > 10 * max(total, 10)


def test_qat_of_a_delay_model_starts_at_ptq_and_learns_with_its_delays(tmp_path):
    """QAT of a model with learned delays: fine-tuning starts from its weights and delays
    (the delays go on learning, rounded in the forward pass, within their maxima), starts at
    PTQ's scales, and the selected model deploys, with its delays, to integers no worse than
    PTQ's on the held-out split; a delay model without its starting delays is refused. The
    same with its delays in 2 bits (deploy.delay_bits)."""
    config = default_config(datasets={"s": {"source": "synthetic", "epochs": 4}},
                            hidden_sizes=[32], seeds=[1], model={"n_steps": 100},
                            delays=[True],
                            training={"ease_in_start_lr": 1e-3, "progress_bar": False,
                                      "delays": {"lr": 1.0, "init_in": 20.0,
                                                 "init_rec": 5.0}})
    split = generate_split(96, 3, seed=2, duration_ms=100.0)
    net = network_config(config, 32, n_out=split.n_classes, n_in=split.n_channels,
                         delays=True)
    spec_d = delay_training(config, True)
    settings = dataclasses.replace(train_settings(config, "s", 32), batch_size=16)
    float_run = train(net, settings, 1, split, tmp_path / "float", delays=spec_d)
    rest, held = hold_out(split, 0.25, 1)
    tune = dataclasses.replace(qat_settings(config, "s", 32, 3), epochs=3, batch_size=16)
    spec = QuantTraining(3, 99.0, lr_quanta=True)
    with pytest.raises(ValueError, match="init_delays"):
        train(net, tune, 1, rest, tmp_path / "refused", held, delays=spec_d, qat=spec,
              init=float_run.weights)
    run = train(net, tune, 1, rest, tmp_path / "qat", held, delays=spec_d, qat=spec,
                init=float_run.weights, init_delays=float_run.delays)
    ptq = quantize(net, float_run.weights, bits=3, percentile=99.0, delays=float_run.delays)
    assert run.qat.exponents == (ptq.hidden_exponent, ptq.output_exponent)
    assert run.delays is not None
    for name, top in net.delay_maxima.items():
        assert 0 <= getattr(run.delays, name).min() <= getattr(run.delays, name).max() <= top

    def held_accuracy(weights, delays, qat):
        fq = fake_quantize(net, weights, qat, delays)
        return evaluate(fq.config, fq.weights, held, delays=delays).accuracy

    start = held_accuracy(float_run.weights, float_run.delays, run.qat)
    assert held_accuracy(run.weights, run.delays, run.qat) >= start
    if run.selected_epoch >= 0:
        assert held_accuracy(run.weights, run.delays, run.qat) > start

    # With 2-bit delays (deploy.delay_bits): the float model's delays clipped to 3 steps,
    # learning within them, and no worse than PTQ's clipped delays on the held-out split.
    two = with_delay_bits(net, 2)
    clipped = float_run.delays.clipped(two)
    assert float_run.delays.d_in.max() > 3 and clipped.d_in.max() == 3
    narrow = train(two, tune, 1, rest, tmp_path / "qat_d2", held, delays=spec_d, qat=spec,
                   init=float_run.weights, init_delays=clipped)
    for name, top in two.delay_maxima.items():
        assert top == 3 and getattr(narrow.delays, name).max() <= 3
    if narrow.selected_epoch >= 0:   # an epoch was selected over PTQ: delays learned too
        assert not np.array_equal(narrow.delays.d_in, clipped.d_in)

    def held_narrow(weights, delays):
        fq = fake_quantize(two, weights, narrow.qat, delays)
        return evaluate(fq.config, fq.weights, held, delays=delays).accuracy

    assert held_narrow(narrow.weights, narrow.delays) >= held_narrow(float_run.weights, clipped)


def test_qat_epochs_per_bit_width():
    """training.qat.epochs: one number, or a map bit width -> epochs that must cover every
    deploy.bits entry (ConfigError naming the key and the bit width)."""
    config = default_config(training={"qat": {"epochs": {8: 10, 2: 20}}},
                            deploy={"bits": [8, 2]})
    assert qat_settings(config, "default", 16, 2).epochs == 20
    assert qat_settings(config, "default", 16, 8).epochs == 10
    with pytest.raises(ConfigError, match=r"training\.qat\.epochs.*4"):
        default_config(training={"qat": {"epochs": {8: 10}}}, deploy={"bits": [8, 4]})
    assert qat_settings(default_config(), "default", 16, 3).epochs == 10

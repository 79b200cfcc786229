"""Synaptic delays in fixed point: the emulator equals Lava's DelayDense graph, every step.

lava-dl's netx cannot load recurrent delays, so Lava runs our network as a graph built from
lava-nc's processes (neurokws.fixedpoint.lava_graph). First that graph is shown to equal
netx's on a delay-free file (u, v and spikes of both layers at every step); then, with
delays, the emulator (fixedpoint/kernels.py) must equal it exactly: delays up to Loihi's
62, all-zero delays through DelayDense, delays on one connection only, graded input, and a
model whose delays our trainer learned. Lava runs in the "lava" side environment; without
it these tests FAIL unless NEUROKWS_SKIP_LAVA=1 (as tests/test_fixedpoint_lava.py).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from fixedpoint_helpers import random_inputs, random_weights, write_test_netx
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.inputs import aligned_inputs
from neurokws.fixedpoint.lava_bridge import run_lava, run_lava_graph
from neurokws.fixedpoint.netx_file import read_netx_raw
from neurokws.utils.sidecar import SidecarUnavailableError, side_env

pytestmark = pytest.mark.slow
TRACES = ("hidden_u", "hidden_v", "hidden_s", "output_u", "output_s", "output_v")


@pytest.fixture(scope="module")
def lava():
    if os.environ.get("NEUROKWS_SKIP_LAVA") == "1":
        pytest.skip("NEUROKWS_SKIP_LAVA=1")
    try:
        side_env("lava").require()
    except SidecarUnavailableError as exc:
        pytest.fail(f"{exc} (or set NEUROKWS_SKIP_LAVA=1 to skip the Lava comparison)")


def _network(tmp: Path, rng, n_in=60, n_hid=24, vth=1500, **ranges):
    path = write_test_netx(tmp / "net.net", *random_weights(rng, n_in, n_hid, 5, **ranges),
                           vth_hidden=vth, vth_output=1 << 16)
    return read_netx_raw(path), path


def _compare(raw, inputs, d_in, d_rec, stream_len=None):
    """Emulator vs Lava graph; returns Lava's traces."""
    lava_out = run_lava_graph(raw.w_in, raw.w_rec, raw.w_out, raw.hidden, raw.output, inputs,
                              d_in, d_rec, stream_len=stream_len, timeout=600)
    net = FixedPointNetwork(raw.w_in, raw.w_rec, raw.w_out, raw.hidden, raw.output,
                            d_in, d_rec)
    mine = net.run(inputs, stream_len=stream_len, record=("hidden", "output"))
    for name in TRACES:
        np.testing.assert_array_equal(mine.traces[name], lava_out[name], err_msg=name)
    assert lava_out["hidden_s"].sum() > 0, "no hidden spikes: the case tests nothing"
    return lava_out


def test_hand_built_graph_equals_netx_without_delays(lava, tmp_path):
    rng = np.random.default_rng(1)
    raw, path = _network(tmp_path, rng)
    inputs = random_inputs(rng, 3, 60, 60, 0.15)
    netx = run_lava(path, inputs, stream_len=None, record_all=True, timeout=600)
    graph = run_lava_graph(raw.w_in, raw.w_rec, raw.w_out, raw.hidden, raw.output, inputs,
                           timeout=600)
    for name in ("hidden_u", "hidden_v", "hidden_s", "output_u", "output_s"):
        np.testing.assert_array_equal(graph[name], netx[name], err_msg=name)
    np.testing.assert_array_equal(graph["output_v"], netx["out_v"])
    assert graph["hidden_s"].sum() > 0


def test_emulator_equals_lava_with_delays_up_to_62(lava, tmp_path):
    rng = np.random.default_rng(2)
    raw, _ = _network(tmp_path, rng)
    d_in = rng.integers(0, 63, raw.w_in.shape)
    d_rec = rng.integers(0, 63, raw.w_rec.shape)
    d_in[0, 0] = d_rec[0, 0] = 62
    inputs = random_inputs(rng, 2, 100, 60, 0.15)
    delayed = _compare(raw, inputs, d_in, d_rec)
    plain = run_lava_graph(raw.w_in, raw.w_rec, raw.w_out, raw.hidden, raw.output, inputs,
                           timeout=600)
    assert not np.array_equal(delayed["hidden_s"], plain["hidden_s"])


def test_emulator_equals_lava_zero_delays_and_one_connection(lava, tmp_path):
    """All-zero delays through DelayDense equal the delay-free run; delays on the input
    connection only, then on the recurrent one only (the other a plain Dense); several
    streams (buffers carried across samples within a stream, fresh between streams)."""
    rng = np.random.default_rng(3)
    raw, _ = _network(tmp_path, rng)
    inputs = random_inputs(rng, 4, 50, 60, 0.15)
    zeros = _compare(raw, inputs, np.zeros(raw.w_in.shape, int),
                     np.zeros(raw.w_rec.shape, int))
    net = FixedPointNetwork(raw.w_in, raw.w_rec, raw.w_out, raw.hidden, raw.output)
    np.testing.assert_array_equal(
        net.run(inputs, stream_len=None, record=("hidden",)).traces["hidden_v"],
        zeros["hidden_v"])
    _compare(raw, inputs, rng.integers(0, 20, raw.w_in.shape), None, stream_len=2)
    _compare(raw, inputs, None, rng.integers(0, 20, raw.w_rec.shape), stream_len=2)


def test_emulator_equals_lava_with_delays_and_a_weight_exponent(lava, tmp_path):
    """Small weights: netx scales them up and sets weight_exp < 0, so the sums are shifted
    right. (netx's weights are then multiples of 2^-weight_exp, so shifting each delay
    group's sum on its own, as Lava's PyDelayDenseModelBitAcc does, equals shifting the
    total: an emulator that rounded the total would pass this test too.)"""
    from neurokws.fixedpoint.weights import netx_optimize

    rng = np.random.default_rng(5)
    raw, _ = _network(tmp_path, rng, vth=600, ff_range=(-3, 7), rec_range=(-4, 4),
                      out_range=(-9, 9))
    assert netx_optimize(np.hstack((raw.w_in, raw.w_rec))).weight_exp < 0
    inputs = random_inputs(rng, 2, 80, 60, 0.2)
    _compare(raw, inputs, rng.integers(0, 40, raw.w_in.shape),
             rng.integers(0, 40, raw.w_rec.shape))


def test_emulator_equals_lava_with_delays_and_graded_input(lava, tmp_path):
    rng = np.random.default_rng(4)
    raw, _ = _network(tmp_path, rng, n_in=30, n_hid=12, vth=3000, ff_range=(-60, 127),
                      rec_range=(-128, 127))
    inputs = random_inputs(rng, 2, 60, 30, 0.3, graded=True, max_value=127)
    _compare(raw, inputs, rng.integers(0, 30, raw.w_in.shape),
             rng.integers(0, 30, raw.w_rec.shape))


def test_emulator_equals_lava_on_a_model_with_learned_delays(lava, tmp_path):
    """Weights and delays learned by our trainer (train/delays.py), then fine-tuned by
    3-bit quantization-aware training with their delays held in 3 bits (train/qat.py,
    deploy.delay_bits: 0..7 steps), quantized by deploy at the scales QAT held and carried
    through the NetX file (delay / delay_rec) into the emulator and the Lava graph: the
    same bits."""
    from neurokws.backends.numba import train
    from neurokws.config import (
        QuantTraining,
        default_config,
        delay_training,
        network_config,
        qat_settings,
        train_settings,
    )
    from neurokws.data.formats.binning import bin_events
    from neurokws.data.formats.events import hold_out
    from neurokws.data.sources.synthetic import generate_split
    from neurokws.deploy import quantize, write_netx
    from neurokws.deploy.quantize import trained_exponents
    from neurokws.model.network import with_delay_bits

    config = default_config(datasets={"s": {"source": "synthetic", "epochs": 3}},
                            hidden_sizes=[32], seeds=[1], model={"n_steps": 100},
                            delays=[True],
                            training={"ease_in_start_lr": 1e-3, "progress_bar": False,
                                      "delays": {"lr": 1.0, "init_in": 20.0,
                                                 "init_rec": 5.0}})
    split = generate_split(48, 3, seed=2, duration_ms=100.0)
    net = network_config(config, 32, n_out=split.n_classes, n_in=split.n_channels,
                         delays=True)
    assert net.delay_maxima == {"d_in": 62, "d_rec": 62}
    settings = dataclasses.replace(train_settings(config, "s", 32), batch_size=16)
    learned = train(net, settings, 1, split, tmp_path / "trained",
                    delays=delay_training(config, True))
    rest, held = hold_out(split, 0.25, 1)
    narrow = with_delay_bits(net, 3)
    result = train(narrow, dataclasses.replace(qat_settings(config, "s", 32, 3), epochs=2,
                                               batch_size=16),
                   1, rest, tmp_path / "qat", held, delays=delay_training(config, True),
                   qat=QuantTraining(3, 99.0, lr_quanta=True), init=learned.weights,
                   init_delays=learned.delays.clipped(narrow))
    assert learned.delays.d_in.max() > 7
    for delays in result.delays.arrays().values():
        assert 0 < delays.max() <= 7
    path = write_netx(tmp_path / "trained.net",
                      quantize(narrow, result.weights, bits=3, percentile=99.0,
                               delays=result.delays,
                               exponents=trained_exponents({"qat": result.qat.to_dict()}, 3,
                                                           99.0, "qat")),
                      provenance={"test": "delays"})
    raw = read_netx_raw(path)
    np.testing.assert_array_equal(raw.d_in, result.delays.d_in.T)
    np.testing.assert_array_equal(raw.d_rec, result.delays.d_rec.T)
    binned = bin_events(split.subset(np.arange(3)), net.dt, net.n_steps)
    inputs = aligned_inputs(binned.steps, binned.channels, binned.offsets, n_steps=100)
    _compare(raw, inputs, raw.d_in, raw.d_rec, stream_len=1)
    # The workflow's path: lava_runner sees the file's delays and runs our graph, not netx.
    lava_out = run_lava(path, inputs, stream_len=1, record_all=True, timeout=600)
    mine = FixedPointNetwork.from_netx(path).run(inputs, record=("hidden", "output"))
    for name in ("hidden_s", "hidden_v", "output_u"):
        np.testing.assert_array_equal(lava_out[name], mine.traces[name], err_msg=name)
    np.testing.assert_array_equal(lava_out["out_v"], mine.out_v)

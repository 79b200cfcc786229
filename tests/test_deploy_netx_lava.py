"""Our NetX files load in lava-dl 0.6.0's netx.hdf5.Network with the intended layers and values.

Files are written by neurokws.deploy (quantize + write_netx) for N = 64, C = 5, with and
without the input layer, and loaded in .venv-lava (``make lava-env``) by
``neurokws.deploy.netx_lava_inspect`` in one Lava process, as the Lava runs load them
(reset_interval = T, input_message_bits = 0). Without the venv these tests FAIL, unless
NEUROKWS_SKIP_LAVA=1. Expected weights are what ``neurokws.fixedpoint.weights`` (the
emulator's model of netx's bit optimisation) predicts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.deploy import QuantizedModel, quantize, write_netx
from neurokws.fixedpoint.weights import dense_layer, dense_rec_layer, netx_optimize
from neurokws.model.network import Weights
from neurokws.utils.sidecar import SidecarUnavailableError, run_module, side_env

pytestmark = pytest.mark.slow

N_HIDDEN, N_OUT, N_IN = 64, 5, 700


@dataclass
class Case:
    """A quantized model, how its file was written, and the reset interval it is loaded with."""

    qmodel: QuantizedModel
    input_layer: bool
    n_steps: int


def _weights(rng: np.random.Generator, out_mean: float = 0.0) -> Weights:
    """Float weights like a trained model's: mostly excitatory input, mixed recurrence."""
    return Weights(rng.normal(0.03, 0.03, (N_IN, N_HIDDEN)).astype(np.float32),
                   rng.normal(0.0, 0.05, (N_HIDDEN, N_HIDDEN)).astype(np.float32),
                   rng.normal(out_mean, 0.1, (N_HIDDEN, N_OUT)).astype(np.float32))


def _cases() -> dict[str, Case]:
    """Mixed-sign model with and without input layer; one with an all-positive readout."""
    rng = np.random.default_rng(20250101)
    config = default_network(n_hidden=N_HIDDEN, n_out=N_OUT, n_in=N_IN, n_steps=1000)
    mixed = quantize(config, _weights(rng), bits=8, percentile=99.0)
    short = default_network(n_hidden=N_HIDDEN, n_out=N_OUT, n_in=N_IN, n_steps=250)
    positive = _weights(rng, out_mean=0.4)
    positive.w_out[:] = np.abs(positive.w_out)
    excitatory = quantize(short, positive, bits=8, percentile=99.0)
    assert excitatory.w_out.min() >= 0 and mixed.w_out.min() < 0 < mixed.w_out.max()
    return {"mixed_with_input_layer": Case(mixed, True, 1000),
            "mixed_without_input_layer": Case(mixed, False, 1000),
            "excitatory_readout_T250": Case(excitatory, True, 250)}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Write every case, load all in one Lava subprocess; name -> (case, netx description)."""
    if os.environ.get("NEUROKWS_SKIP_LAVA") == "1":
        pytest.skip("NEUROKWS_SKIP_LAVA=1")
    try:
        side_env("lava").require()
    except SidecarUnavailableError as exc:
        pytest.fail(f"{exc} (or set NEUROKWS_SKIP_LAVA=1 to skip the Lava tests)")
    tmp = tmp_path_factory.mktemp("netx")
    cases = _cases()
    paths = {name: write_netx(tmp / f"{name}.net", case.qmodel, provenance={"test": name},
                              include_input_layer=case.input_layer)
             for name, case in cases.items()}
    reports = {}
    for n_steps in sorted({case.n_steps for case in cases.values()}):   # one run per T
        nets = [str(paths[k]) for k, case in cases.items() if case.n_steps == n_steps]
        reports.update(run_module("lava", "neurokws.deploy.netx_lava_inspect",
                                  {"nets": nets, "reset_interval": n_steps,
                                   "input_message_bits": 0}, timeout=300).data)
    return {name: (case, reports[str(paths[name])]) for name, case in cases.items()}


NAMES = list(_cases())


@pytest.mark.parametrize("name", NAMES)
def test_layers_and_shapes(loaded, name):
    _, net = loaded[name]
    # The input layer has no neuron group, so netx builds no block for it either way.
    assert net["n_layers"] == 2
    assert net["inp_shape"] == [N_IN] and net["out_shape"] == [N_OUT]
    hidden, output = net["layers"]
    assert (hidden["type"], output["type"]) == ("RecurrentDense", "Dense")
    assert hidden["shape"] == [N_HIDDEN] and output["shape"] == [N_OUT]
    assert hidden["neuron_type"] == output["neuron_type"] == "LIFReset"
    assert sorted(hidden["synapses"]) == ["synapse", "synapse_rec"]
    assert sorted(output["synapses"]) == ["synapse"]
    shapes = [np.shape(s["weights"]) for s in (*hidden["synapses"].values(),
                                               output["synapses"]["synapse"])]
    assert shapes == [(N_HIDDEN, N_IN), (N_HIDDEN, N_HIDDEN), (N_OUT, N_HIDDEN)]


@pytest.mark.parametrize("name", NAMES)
def test_neuron_parameters(loaded, name):
    case, net = loaded[name]
    q = case.qmodel
    hidden, output = net["layers"]
    for layer, vth, offset in ((hidden, q.v_th_mant, 1), (output, q.out_v_th_mant, 2)):
        # netx: du = iDecay - 1 (Lava's model adds 1 back), dv = vDecay, vth = vThMant.
        assert layer["du"] == q.i_decay - 1 == 741
        assert layer["dv"] == q.v_decay == 200
        assert layer["vth"] == vth
        assert layer["bias_exp"] == 6 and layer["bias_mant"] == 0
        # Reset every T steps, hidden layer at time_step % T == 1, output at == 2.
        assert layer["reset_interval"] == case.n_steps
        assert layer["reset_offset"] == offset
        assert layer["output_message_bits"] == 0          # no messageBits: unary spikes
        for synapse in layer["synapses"].values():        # recurrent inherits the input's 0
            assert synapse["num_message_bits"] == 0
    assert output["vth"] == 1 << 16


@pytest.mark.parametrize("name", NAMES)
def test_weights_as_netx_optimises_them(loaded, name):
    case, net = loaded[name]
    q = case.qmodel
    hidden, output = (layer["synapses"] for layer in net["layers"])
    opt = netx_optimize(np.hstack((q.w_in, q.w_rec)))   # dense_rec: one joint optimisation
    opt_out = netx_optimize(q.w_out)
    for synapse, expected, o in ((hidden["synapse"], opt.weights[:, :N_IN], opt),
                                 (hidden["synapse_rec"], opt.weights[:, N_IN:], opt),
                                 (output["synapse"], opt_out.weights, opt_out)):
        np.testing.assert_array_equal(np.asarray(synapse["weights"]), expected)
        assert (synapse["weight_exp"], synapse["num_weight_bits"]) == (o.weight_exp,
                                                                      o.num_weight_bits)
    # All integers are in [-128, 127], so netx's optimisation is lossless: the hidden layer
    # (mixed) is doubled with weight exponent -1, and the Lava Dense clipping/truncation the
    # emulator models leaves what netx handed over unchanged.
    np.testing.assert_array_equal(np.asarray(hidden["synapse"]["weights"]), 2 * q.w_in)
    np.testing.assert_array_equal(np.asarray(hidden["synapse_rec"]["weights"]), 2 * q.w_rec)
    assert hidden["synapse"]["weight_exp"] == -1
    ff, rec = dense_rec_layer(q.w_in, q.w_rec)
    out = dense_layer(q.w_out)
    for synapse, effective in ((hidden["synapse"], ff), (hidden["synapse_rec"], rec),
                               (output["synapse"], out)):
        np.testing.assert_array_equal(effective.weights, np.asarray(synapse["weights"]))
        assert effective.weight_exp == synapse["weight_exp"]


def test_cases_cover_both_output_sign_modes(loaded):
    modes = {netx_optimize(case.qmodel.w_out).netx_sign_mode for case, _ in loaded.values()}
    assert modes == {"mixed", "excitatory"}

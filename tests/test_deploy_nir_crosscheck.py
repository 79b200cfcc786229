"""Our NIR export run by another framework's NIR importer (Norse 1.1.0) vs our float engine.

Data like the default config: synthetic, 10 classes, ~8,500 events per 1 s sample, T = 1000,
N = 128; a quick stand-in for a trained model (``demo_model``: ~14 hidden spikes per neuron
per sample, ridge-fitted readout). Norse runs in the "nir" side environment (``make nir-env``);
without it these tests FAIL, unless NEUROKWS_SKIP_NIR_CROSSCHECK=1 (then they are skipped).
The graph-rewriting test at the end needs only ``nir`` and runs everywhere.
"""

from __future__ import annotations

import os

import nir
import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.data.formats.binning import bin_events
from neurokws.data.sources.synthetic import generate_split
from neurokws.deploy.nir_crosscheck import crosscheck, demo_model
from neurokws.deploy.nir_export import build_nir_graph
from neurokws.deploy.nir_norse import norse_graph
from neurokws.deploy.nir_reference import StepCoefficients
from neurokws.model.network import Weights
from neurokws.utils.sidecar import SidecarUnavailableError, side_env

N_HIDDEN, N_CLASSES, N_TEST = 128, 10, 48
runs_norse = pytest.mark.slow   # the tests that run Norse (~12 s together)


@pytest.fixture(scope="module")
def agreement():
    """Run all three Norse modes once on the held-out samples; mode -> Agreement."""
    try:
        side_env("nir").require()
    except SidecarUnavailableError as exc:
        if os.environ.get("NEUROKWS_SKIP_NIR_CROSSCHECK") == "1":
            pytest.skip(f"NEUROKWS_SKIP_NIR_CROSSCHECK=1 and {exc}")
        pytest.fail(f"{exc} (or set NEUROKWS_SKIP_NIR_CROSSCHECK=1 to skip the Norse check)")
    train = bin_events(generate_split(200, N_CLASSES, seed=7, speakers=range(8)), 1.0, 1000)
    test = bin_events(generate_split(N_TEST, N_CLASSES, seed=7, split="test",
                                     speakers=range(8, 10)), 1.0, 1000)
    config, weights = demo_model(train, N_HIDDEN, N_CLASSES)
    return crosscheck(config, weights, test, timeout=300)


@runs_norse
def test_model_is_default_like(agreement):
    exact = agreement["exact"]["float32"]
    assert 8.0 < exact.mean_count_ours < 25.0        # ~14 spikes per neuron per sample
    assert exact.accuracy_ours > 2.0 / N_CLASSES       # predictions carry class information


@runs_norse
@pytest.mark.parametrize("engine_dtype", ["float32", "float64"])
def test_exact_mode_agrees_with_engine(agreement, engine_dtype):
    # Norse's own modules, forward Euler with tau' = dt / (1 - exp(-dt/tau)) and unit-area
    # spikes, are our discretisation; only float32 rounding (~1e-7 relative) differs, and it
    # can flip a threshold crossing that lands within rounding of V_th. Measured here: vs our
    # float32 engine 2 of 48 samples have a flipped spike (our float32 and float64 engines
    # differ on the same two), no prediction changes; vs our float64 engine none. Bounds:
    # readouts of samples whose hidden counts agree equal to 1e-4 relative (measured 1e-6),
    # at most 1 in 10 samples with a flip, at most 1 in 20 with another prediction.
    exact = agreement["exact"][engine_dtype]
    assert exact.samples_equal_counts >= 0.9, exact
    assert exact.count_agreement >= 0.99, exact
    assert exact.max_abs_readout_diff_equal <= 1e-4 * exact.max_readout_ours, exact
    assert exact.prediction_agreement >= 0.95, exact
    assert exact.accuracy_norse == pytest.approx(exact.accuracy_ours, abs=0.05)


@runs_norse
def test_euler_mode_is_close(agreement):
    # Norse's stock forward Euler with unit-area spikes (w_in / dt): synapse decays by 0.8 per
    # step (ours 0.819) with a jump W (ours 0.906 W), membrane 0.95 (ours 0.951). Post-
    # synaptic areas are equal, shapes differ, so spike times and counts drift (measured +11 %
    # spikes, 1/2 of counts equal) while predictions mostly survive (measured 95-99 %). These
    # are regression bounds on fixed seeded data, not guarantees.
    euler = agreement["euler"]["float32"]
    assert euler.prediction_agreement >= 0.8, euler
    assert euler.mean_count_norse == pytest.approx(euler.mean_count_ours, rel=0.25), euler


@runs_norse
def test_importer_as_is_leaves_hidden_layer_silent(agreement):
    # from_nir on the graph as written: Norse feeds a spike as the value 1 for one step (area
    # dt), our graph's ODEs integrate unit-area spikes, so every input is 1e-3 of ours and
    # no hidden neuron reaches threshold; the readout (fed only by hidden spikes) stays 0.
    importer = agreement["importer"]["float32"]
    assert importer.mean_count_norse == 0.0, importer
    assert importer.max_readout_norse == 0.0, importer


def test_norse_graph_encodes_exact_step_coefficients():
    config = default_network(n_hidden=4, n_out=3, n_in=5, n_steps=10)
    rng = np.random.default_rng(0)
    weights = Weights(*(rng.normal(0, 0.1, s).astype(np.float32)
                        for s in ((5, 4), (4, 4), (4, 3))))
    graph = build_nir_graph(config, weights)
    dt = graph.metadata["dt"]
    for key in ("hidden", "readout"):
        ref = StepCoefficients.from_node(graph.nodes[key], dt)
        node = norse_graph(graph, "exact").nodes[key]
        # Norse: i <- i + dt/tau_syn (w_in x - i); v <- v + dt/tau_mem (r i - v) (v_leak = 0)
        np.testing.assert_allclose(1 - dt / node.tau_syn, ref.beta, rtol=1e-12)
        np.testing.assert_allclose(1 - dt / node.tau_mem, ref.alpha, rtol=1e-12)
        np.testing.assert_allclose(dt / node.tau_syn * node.w_in * node.r, ref.drive,
                                   rtol=1e-12)
        euler = norse_graph(graph, "euler").nodes[key]
        np.testing.assert_allclose(euler.w_in, 1 / dt)
        np.testing.assert_array_equal(euler.tau_syn, graph.nodes[key].tau_syn)
    assert norse_graph(graph, "importer").nodes["hidden"] is graph.nodes["hidden"]
    assert isinstance(norse_graph(graph, "exact").nodes["readout"], nir.CubaLI)

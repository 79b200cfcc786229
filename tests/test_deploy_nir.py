"""NIR export: round trip through nir.read, parameter mapping, and exact reproduction of
the float model (docs/model.md#discretisation)."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.deploy import nir_export
from neurokws.deploy.nir_export import export_nir, graph_to_model, load_nir
from neurokws.deploy.nir_reference import StepCoefficients, readout_scores, simulate_nir
from neurokws.model.network import NetworkConfig, Weights
from neurokws.utils.errors import ModelFormatError

CONFIG = default_network(n_hidden=32, n_out=6, n_in=50, n_steps=120)
PROV = {"run": "nir-test", "seed": 3}


def random_weights(config: NetworkConfig = CONFIG, seed: int = 0) -> Weights:
    rng = np.random.default_rng(seed)
    return Weights(rng.normal(1.5, 1.0, (config.n_in, config.n_hidden)).astype(np.float32),
                   rng.normal(0.0, 0.8, (config.n_hidden, config.n_hidden)).astype(np.float32),
                   rng.normal(0.0, 1.0, (config.n_hidden, config.n_out)).astype(np.float32))


def genn_forward(config: NetworkConfig, weights: Weights, spikes: np.ndarray) -> dict:
    """The forward pass of docs/model.md#discretisation, step by step in GeNN's order (float64)."""
    alpha, beta, c_i = config.alpha, config.beta, config.current_scale
    w_in, w_rec, w_out = (np.asarray(w, dtype=np.float64) for w in weights.arrays().values())
    x_h, v_h, z = np.zeros(config.n_hidden), np.zeros(config.n_hidden), np.zeros(config.n_hidden)
    x_o, v_o = np.zeros(config.n_out), np.zeros(config.n_out)
    s_prev = np.zeros(config.n_in)
    out = {"hidden_spikes": [], "hidden_v": [], "readout_v": []}
    for n in range(spikes.shape[0]):
        x_h += s_prev @ w_in + z @ w_rec          # spikes emitted at step n-1
        x_o += z @ w_out
        i_h, i_o = c_i * x_h, c_i * x_o
        x_h *= beta
        x_o *= beta
        v_h = alpha * v_h + (1 - alpha) * i_h
        fired = v_h >= config.v_th
        v_h = np.where(fired, 0.0, v_h)
        v_o = alpha * v_o + (1 - alpha) * i_o
        z, s_prev = fired.astype(np.float64), spikes[n].astype(np.float64)
        out["hidden_spikes"].append(fired)
        out["hidden_v"].append(v_h)
        out["readout_v"].append(v_o)
    return {k: np.array(v) for k, v in out.items()}


def input_spikes(seed: int = 1, rate: float = 0.05) -> np.ndarray:
    return np.random.default_rng(seed).random((CONFIG.n_steps, CONFIG.n_in)) < rate


@pytest.fixture
def nir_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.nir"
    export_nir(path, CONFIG, random_weights(), PROV)
    return path


def test_round_trip_through_nir_read(nir_file: Path):
    weights = random_weights()
    graph = nir.read(str(nir_file))
    assert set(graph.nodes) == set(nir_export.NODE_NAMES)
    assert set(graph.edges) == {("input", "w_in"), ("w_in", "hidden"), ("hidden", "w_rec"),
                                ("w_rec", "hidden"), ("hidden", "w_out"), ("w_out", "readout"),
                                ("readout", "output")}
    kinds = {"input": nir.Input, "w_in": nir.Linear, "hidden": nir.CubaLIF,
             "w_rec": nir.Linear, "w_out": nir.Linear, "readout": nir.CubaLI,
             "output": nir.Output}
    for key, kind in kinds.items():
        assert type(graph.nodes[key]) is kind
    assert graph.nodes["input"].input_type["input"].tolist() == [50]
    assert graph.nodes["output"].output_type["output"].tolist() == [6]
    np.testing.assert_array_equal(graph.nodes["w_in"].weight, weights.w_in.T)    # (post, pre)
    np.testing.assert_array_equal(graph.nodes["w_rec"].weight, weights.w_rec.T)
    np.testing.assert_array_equal(graph.nodes["w_out"].weight, weights.w_out.T)


def test_parameters_as_mapped(nir_file: Path):
    graph = nir.read(str(nir_file))
    hidden, readout = graph.nodes["hidden"], graph.nodes["readout"]
    for node, n in ((hidden, 32), (readout, 6)):
        np.testing.assert_allclose(node.tau_syn, np.full(n, 0.005), rtol=1e-15)   # seconds
        np.testing.assert_allclose(node.tau_mem, np.full(n, 0.020), rtol=1e-15)
        np.testing.assert_allclose(node.r, node.tau_syn, rtol=0)                  # r = tau_syn
        np.testing.assert_array_equal(node.w_in, np.ones(n))
        np.testing.assert_array_equal(node.v_leak, np.zeros(n))
    np.testing.assert_array_equal(hidden.v_threshold, np.ones(32))
    np.testing.assert_array_equal(hidden.v_reset, np.zeros(32))
    meta = graph.metadata
    assert meta["dt"] == pytest.approx(1e-3) and meta["time_unit"] == "s"
    assert int(meta["n_steps"]) == 120
    assert meta["current_scale_c_I"] == pytest.approx(CONFIG.current_scale)
    assert json.loads(meta["provenance_json"]) == PROV
    assert "exp(-n/n_steps)" in meta["readout"]
    steps = StepCoefficients.from_node(hidden, meta["dt"])
    np.testing.assert_allclose(steps.alpha, CONFIG.alpha, rtol=1e-14)
    np.testing.assert_allclose(steps.beta, CONFIG.beta, rtol=1e-14)
    np.testing.assert_allclose(steps.drive, CONFIG.current_scale, rtol=1e-12)   # c_I per spike


def test_load_nir_inverts_export(nir_file: Path):
    config, weights, _ = load_nir(nir_file)
    assert config == CONFIG
    for a, b in zip(weights.arrays().values(), random_weights().arrays().values(), strict=True):
        assert a.dtype == np.float32 and np.array_equal(a, b)


def test_reference_simulation_reproduces_float_model_exactly(nir_file: Path):
    spikes = input_spikes()
    ours = genn_forward(CONFIG, random_weights(), spikes)
    sim = simulate_nir(nir.read(str(nir_file)), spikes)
    n_spikes = int(ours["hidden_spikes"].sum())
    assert 0 < n_spikes < ours["hidden_spikes"].size / 2          # a non-trivial regime
    np.testing.assert_array_equal(sim["hidden_spikes"], ours["hidden_spikes"])
    np.testing.assert_allclose(sim["hidden_v"], ours["hidden_v"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sim["readout_v"], ours["readout_v"], rtol=1e-10, atol=1e-12)
    scores = readout_scores(sim["readout_v"])
    assert scores.shape == (6,) and np.argmax(scores) == np.argmax(
        readout_scores(ours["readout_v"]))


def test_continuous_time_meaning_of_parameters(tmp_path: Path):
    """An exact (analytic) solution of the NIR ODEs for one input spike matches our PSP.

    r * w_in / tau_syn = 1: one unit-area spike of weight W makes r I jump by W, so
    V(t) = W tau_syn / (tau_mem - tau_syn) (exp(-t/tau_mem) - exp(-t/tau_syn)).
    Our discrete model gives the same shape at the grid times, 0.083 % larger.
    """
    config = default_network(n_hidden=1, n_out=1, n_in=1, n_steps=100)
    weight = 0.5                                                    # stays sub-threshold
    weights = Weights(np.full((1, 1), weight, np.float32), np.zeros((1, 1), np.float32),
                      np.zeros((1, 1), np.float32))
    graph = export_nir(tmp_path / "one.nir", config, weights)
    spikes = np.zeros((100, 1))
    spikes[0, 0] = 1                                               # emitted at t = 0
    v_sim = simulate_nir(graph, spikes)["hidden_v"][1:, 0]          # steps 1..99: t = n dt
    node = graph.nodes["hidden"]
    tau_s, tau_m, amp = node.tau_syn[0], node.tau_mem[0], node.r[0] * node.w_in[0] / node.tau_syn[0]
    t = np.arange(1, 100) * graph.metadata["dt"]
    v_exact = amp * weight * tau_s / (tau_m - tau_s) * (np.exp(-t / tau_m) - np.exp(-t / tau_s))
    ratio = v_sim / v_exact
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)          # same shape
    assert ratio[0] == pytest.approx(1.00083, abs=2e-5)


def test_layer_sequential_simulators_are_shifted_as_documented(nir_file: Path):
    """A simulator running all layers of one step in sequence: V_hid[k] = ours[k+1], V_out[k+2]."""
    graph = nir.read(str(nir_file))
    spikes = input_spikes(seed=4)
    ours = simulate_nir(graph, spikes)
    dt = graph.metadata["dt"]
    hid, out = graph.nodes["hidden"], graph.nodes["readout"]
    w_in, w_rec, w_out = (graph.nodes[k].weight.astype(np.float64)
                          for k in ("w_in", "w_rec", "w_out"))

    def coeffs(node):
        beta = np.exp(-dt / node.tau_syn)
        return np.exp(-dt / node.tau_mem), beta, (1 - beta) * node.w_in * node.r / dt

    (a_h, b_h, d_h), (a_o, b_o, d_o) = coeffs(hid), coeffs(out)
    i_h = v_h = z = np.zeros(32)
    i_o = v_o = np.zeros(6)
    v_hid, v_out = [], []
    for k in range(spikes.shape[0]):
        i_h = b_h * i_h + d_h * (w_in @ spikes[k] + w_rec @ z)
        v_h = a_h * v_h + (1 - a_h) * i_h
        fired = v_h >= hid.v_threshold
        v_h, z = np.where(fired, hid.v_reset, v_h), fired.astype(np.float64)
        i_o = b_o * i_o + d_o * (w_out @ z)                      # same step: no delay
        v_o = a_o * v_o + (1 - a_o) * i_o
        v_hid.append(v_h)
        v_out.append(v_o)
    np.testing.assert_allclose(np.array(v_hid)[:-1], ours["hidden_v"][1:], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.array(v_out)[:-2], ours["readout_v"][2:], rtol=1e-10,
                               atol=1e-12)


def test_export_rejects_bad_weights(tmp_path: Path):
    bad = random_weights()
    bad.w_rec[2, 3] = np.nan
    with pytest.raises(ModelFormatError, match="NaN"):
        export_nir(tmp_path / "bad.nir", CONFIG, bad)
    wrong = Weights(bad.w_in[:10], bad.w_rec, bad.w_out)
    with pytest.raises(ModelFormatError, match="shape"):
        export_nir(tmp_path / "bad.nir", CONFIG, wrong)
    assert not any(tmp_path.iterdir())


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real_write = nir.write

    def half_write(filename, graph, **kwargs):
        real_write(filename, graph, **kwargs)
        raise OSError("killed mid-write")

    monkeypatch.setattr(nir, "write", half_write)
    with pytest.raises(OSError, match="mid-write"):
        export_nir(tmp_path / "model.nir", CONFIG, random_weights())
    assert list(tmp_path.iterdir()) == []


def test_load_rejects_foreign_graph(tmp_path: Path):
    path = tmp_path / "other.nir"
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((3, 4))),
                                   nir.LIF(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3),
                                           v_threshold=np.ones(3)))
    nir.write(str(path), graph)
    with pytest.raises(ModelFormatError, match="lacks nodes"):
        load_nir(path)
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"junk")
    with pytest.raises(ModelFormatError, match=r"junk\.nir"):
        load_nir(junk)


def test_graph_to_model_checks_mapping(nir_file: Path):
    graph = nir.read(str(nir_file))
    graph.nodes["hidden"].r = graph.nodes["hidden"].r * 1000
    with pytest.raises(ModelFormatError, match="mapping"):
        graph_to_model(graph, "g")

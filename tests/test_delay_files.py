"""Synaptic delays in files: model .npz, quantized model, NetX (delay / delay_rec as
genn-team/ml_genn_netx writes them), and the clear errors for delays that are bad or that a
file and a config disagree on (docs/eventprop.md#synaptic-delays)."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest

from neurokws.config import default_config, default_network, network_config
from neurokws.deploy.netx import read_netx, write_netx
from neurokws.deploy.quantize import quantize
from neurokws.deploy.store import load_quantized, save_quantized
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.netx_file import read_netx_raw
from neurokws.model.init import init_weights
from neurokws.model.network import Delays, load_model, load_network, save_model
from neurokws.utils.errors import ModelFormatError

PLAIN = default_network(n_hidden=12, n_out=3, n_in=20, n_steps=80)
NET = dataclasses.replace(PLAIN, max_delay_in=30, max_delay_rec=8)


def delays(net=NET, seed=0) -> Delays:
    rng = np.random.default_rng(seed)
    return Delays(rng.integers(0, net.max_delay_in + 1, (net.n_in, net.n_hidden)).astype(np.int32),
                  rng.integers(0, net.max_delay_rec + 1,
                               (net.n_hidden, net.n_hidden)).astype(np.int32))


@pytest.fixture
def model(tmp_path):
    weights = init_weights(NET, np.random.default_rng(1))
    d = delays()
    path = tmp_path / "model.npz"
    save_model(path, NET, weights, {"seed": 1}, delays=d)
    return path, weights, d


def test_config_axis_builds_the_model_with_delays():
    config = default_config(delays=[False, True], model={"delays": {"max_in": 40, "max_rec": 0}})
    with_delays = network_config(config, 8, n_out=2, n_in=20, delays=True)
    assert (with_delays.max_delay_in, with_delays.max_delay_rec) == (40, 0)
    assert not network_config(config, 8, n_out=2, n_in=20).has_delays
    with pytest.raises(Exception, match="delays"):   # Loihi 2: at most 62 steps
        default_config(model={"delays": {"max_in": 63}})


def test_model_file_round_trip_with_delays(model):
    path, _, d = model
    config, _, got, prov = load_network(path, expected=NET)
    assert config == NET and prov == {"seed": 1}
    np.testing.assert_array_equal(got.d_in, d.d_in)
    np.testing.assert_array_equal(got.d_rec, d.d_rec)
    assert got.d_in.dtype == np.int32
    # A tool that cannot run delays refuses the model instead of running it without them.
    with pytest.raises(ModelFormatError, match=r"model\.npz.*synaptic delays.*cannot run"):
        load_model(path)


def test_model_file_delay_errors(tmp_path, model):
    path, weights, d = model
    with pytest.raises(ModelFormatError, match="none were given"):
        save_model(tmp_path / "a.npz", NET, weights, {})
    with pytest.raises(ModelFormatError, match="without delays"):
        save_model(tmp_path / "b.npz", PLAIN, weights, {}, delays=d)
    too_long = Delays(d.d_in.copy(), d.d_rec.copy())
    too_long.d_rec[0, 0] = 9
    with pytest.raises(ModelFormatError, match=r"d_rec has delays up to 9.*max_delay_rec = 8"):
        save_model(tmp_path / "c.npz", NET, weights, {}, delays=too_long)
    # The config a workflow expects differs from the one in the file (other maximum).
    with pytest.raises(ModelFormatError, match="different config"):
        load_network(path, expected=dataclasses.replace(NET, max_delay_in=62))
    # A file whose config says delays but whose delay arrays are gone.
    with np.load(path) as archive:
        kept = {k: archive[k] for k in archive.files if k != "d_rec"}
    np.savez(tmp_path / "broken.npz", **kept)
    with pytest.raises(ModelFormatError, match=r"broken\.npz.*corrupt"):
        load_network(tmp_path / "broken.npz")


def test_model_files_from_before_delays_load_without_them(tmp_path):
    weights = init_weights(PLAIN, np.random.default_rng(0))
    path = tmp_path / "old.npz"
    save_model(path, PLAIN, weights, {})
    with np.load(path) as archive:
        old = {k: archive[k] for k in archive.files}
    record = json.loads(str(old["network_config"]))
    del record["max_delay_in"], record["max_delay_rec"]
    old.update(network_config=np.array(json.dumps(record)), format_version=np.array(1))
    np.savez(path, **old)
    config, _, got, _ = load_network(path)
    assert config == PLAIN and got is None


def quantized(d=None, net=NET):
    weights = init_weights(net, np.random.default_rng(2))
    return quantize(net, weights, bits=8, percentile=99.0, delays=d or delays(net))


def test_quantized_and_netx_files_carry_the_delays(tmp_path):
    d = delays()
    q = quantized(d)
    np.testing.assert_array_equal(q.d_in, d.d_in.T)         # NetX layout (targets, sources)
    save_quantized(tmp_path / "q.npz", q, {})
    back, _ = load_quantized(tmp_path / "q.npz")
    assert back.same_integers(q)
    path = write_netx(tmp_path / "m.net", q, {})
    with h5py.File(path) as handle:                          # ml_genn_netx's datasets
        hidden = handle["layer/1"]
        assert hidden["delay"].dtype == np.int32 and hidden["delay"].shape == (12, 20)
        assert hidden["delay_rec"].shape == (12, 12)
        assert "delay" not in handle["layer/2"]
    assert read_netx(path).same_integers(q)
    raw = read_netx_raw(path)                                # what the emulator runs
    np.testing.assert_array_equal(raw.d_in, d.d_in.T)
    np.testing.assert_array_equal(raw.d_rec, d.d_rec.T)
    net = FixedPointNetwork.from_netx(path)
    np.testing.assert_array_equal(net.d_rec, d.d_rec.T)
    # Without delays the emulator would be another network: a lost delay_rec is visible.
    assert not np.array_equal(net.d_rec, 0)


def test_a_connection_without_delays_writes_no_dataset(tmp_path):
    net = dataclasses.replace(PLAIN, max_delay_in=5, max_delay_rec=0)
    path = write_netx(tmp_path / "m.net", quantized(net=net), {})
    with h5py.File(path) as handle:
        assert "delay" in handle["layer/1"] and "delay_rec" not in handle["layer/1"]
    q = read_netx(path)
    assert q.d_rec.shape == (12, 12) and not q.d_rec.any()
    raw = read_netx_raw(path)   # what the emulator and Lava run: a Dense recurrent synapse
    assert raw.d_rec is None and raw.d_in.shape == (12, 20) and raw.has_delays
    emulator = FixedPointNetwork.from_netx(path)   # runs it as zero delays
    assert emulator.d_rec.shape == (12, 12) and not emulator.d_rec.any()


def _edit(path, key, value, layer="1"):
    with h5py.File(path, "a") as handle:
        group = handle[f"layer/{layer}"]
        if key in group:
            del group[key]
        group.create_dataset(key, data=value)


@pytest.mark.parametrize(("value", "message", "raw"), [
    (lambda d: -d - 1, "negative delays", True),
    (lambda d: np.full_like(d, 63), "above Loihi 2's maximum 62", True),
    (lambda d: np.full_like(d, 31), "above the model's own maximum 30", False),
    (lambda d: d[:, :5], r"has shape \(12, 5\), expected \(12, 20\)", True),
    (lambda d: d + 0.5, "whole steps", True),
    (lambda d: np.where(d == d.max(), np.nan, d), "whole steps", True),
])
def test_bad_netx_delays_are_refused_by_name(tmp_path, value, message, raw):
    """The validating reader and the emulator's raw reader (which also feeds our Lava
    graph) refuse bad delays, naming the file and dataset; the raw one has no model maximum
    to check against, only Loihi 2's range."""
    path = write_netx(tmp_path / "m.net", quantized(), {})
    _edit(path, "delay", value(read_netx_raw(path).d_in.astype(float)))
    with pytest.raises(ModelFormatError, match=rf"m\.net.*{message}"):
        read_netx(path)
    if not raw:
        assert read_netx_raw(path).d_in.max() == 31
    else:
        with pytest.raises(ModelFormatError, match=rf"m\.net: /layer/1/delay .*{message}"):
            FixedPointNetwork.from_netx(path)


def test_an_export_missing_a_delay_dataset_is_refused(tmp_path):
    """Our export writes the dataset of every connection with delays, so a file whose
    metadata has recurrent delays but no 'delay_rec' was altered: the validating reader
    (which the workflow runs) refuses it instead of running the recurrent synapses without
    delays. Another tool's file (no metadata) without it reads as a synapse without delays,
    and so does the raw reader, which reads no metadata."""
    path = write_netx(tmp_path / "m.net", quantized(), {})
    with h5py.File(path, "a") as handle:
        del handle["layer/1/delay_rec"]
    with pytest.raises(ModelFormatError, match=r"m\.net.*no 'delay_rec' dataset.*export"):
        read_netx(path)
    assert read_netx_raw(path).d_rec is None
    with h5py.File(path, "a") as handle:
        del handle["neurokws"]
    read = read_netx(path, expected=NET)
    assert read.d_in.any() and not read.d_rec.any()


def test_delays_where_the_model_has_none_or_cannot_carry_them(tmp_path):
    q = quantized()
    path = write_netx(tmp_path / "m.net", q, {})
    _edit(path, "delay", q.d_rec[:3], layer="2")             # on the readout
    with pytest.raises(ModelFormatError, match="readout synapses carry no delays"):
        read_netx(path)
    with pytest.raises(ValueError, match=r"readout.*delays"):
        read_netx_raw(path)
    on_input = write_netx(tmp_path / "input.net", q, {})
    _edit(on_input, "delay", q.d_in, layer="0")                # on the input layer
    with pytest.raises(ModelFormatError, match=r"input\.net.*\(input\) has 'delay'"):
        read_netx(on_input)
    # Another tool's file (no neurokws metadata) with delays, read for a delay-free config.
    plain = write_netx(tmp_path / "plain.net", quantize(
        PLAIN, init_weights(PLAIN, np.random.default_rng(2)), bits=8, percentile=99.0), {})
    _edit(plain, "delay", np.ones((12, 20), np.int32))
    with h5py.File(plain, "a") as handle:
        del handle["neurokws"]
    with pytest.raises(ModelFormatError, match=r"has no delays.*model\.delays"):
        read_netx(plain, expected=PLAIN)
    read = read_netx(plain, expected=dataclasses.replace(PLAIN, max_delay_in=1))
    assert read.d_in.max() == 1 and not read.d_rec.any()


def test_quantize_needs_the_models_delays():
    weights = init_weights(NET, np.random.default_rng(2))
    with pytest.raises(ModelFormatError, match="no delays were given"):
        quantize(NET, weights, bits=8, percentile=99.0)


def test_nir_export_is_the_equivalent_graph_with_delay_nodes(tmp_path, model):
    """Per-synapse delays as Delay branches (one per delay value); reading the graph back
    gives the same weights, the same delays wherever a weight is non-zero, and the same
    float network (readout bit for bit)."""
    import nir

    from neurokws.data.formats.binning import bin_events
    from neurokws.data.sources.synthetic import generate_split
    from neurokws.deploy.nir_export import export_nir, graph_to_delays, load_nir
    from neurokws.model.engine import infer

    _, weights, d = model
    weights.w_in[0, :4] = 0.0    # a zero-weight synapse has no delay in the graph
    graph = export_nir(tmp_path / "m.nir", NET, weights, delays=d)
    branches = [k for k, n in graph.nodes.items() if isinstance(n, nir.Delay)]
    assert {f"delay_in_{v}" for v in np.unique(d.d_in[d.d_in > 0])} <= set(branches)
    assert np.allclose(graph.nodes["delay_rec_3"].delay, 3 * NET.dt * 1e-3)
    assert ("delay_rec_3", "w_rec_3") in graph.edges and ("w_rec_3", "hidden") in graph.edges
    config, back, read = load_nir(tmp_path / "m.nir")
    assert config == NET
    np.testing.assert_array_equal(back.w_in, weights.w_in)
    np.testing.assert_array_equal(back.w_rec, weights.w_rec)
    delays_back = graph_to_delays(read, config)
    live = weights.w_in != 0
    np.testing.assert_array_equal(delays_back.d_in[live], d.d_in[live])
    np.testing.assert_array_equal(delays_back.d_rec, d.d_rec)
    split = bin_events(generate_split(6, 3, seed=1, n_channels=20, duration_ms=80.0),
                       NET.dt, NET.n_steps)
    args = (split.steps, split.channels, split.offsets)
    np.testing.assert_array_equal(infer(NET, weights, *args, delays=d)[0],
                                  infer(config, back, *args, delays=delays_back)[0])
    with pytest.raises(ModelFormatError, match="pass its delays"):
        export_nir(tmp_path / "x.nir", NET, weights)
    from neurokws.deploy.nir_reference import simulate_nir

    with pytest.raises(ModelFormatError, match=r"Delay nodes \['delay_.*delay-free graphs"):
        simulate_nir(graph, np.zeros((4, NET.n_in)))


def test_profiling_paths_name_what_delays_cost_or_why_they_cannot_run(tmp_path):
    """The Loihi 2 estimate says its cost model has no delay term; the hardware path
    (stock netx) refuses a delay file before touching any hardware stack."""
    from neurokws.profiling.errors import LoihiUnavailableError
    from neurokws.profiling.inference.loihi_estimate import estimate_loihi
    from neurokws.profiling.inference.loihi_hw import run_on_loihi

    events, spikes = np.full(4, 5000.0), np.full(4, 1800.0)
    plain = estimate_loihi(events, spikes, 128, 20, 1000)
    delayed = estimate_loihi(events, spikes, 128, 20, 1000, max_delay=62)
    assert "delays" not in plain.notes
    assert "ring of 63 dendritic accumulators" in delayed.notes and "lower bound" in delayed.notes
    path = write_netx(tmp_path / "m.net", quantized(), {})
    with pytest.raises(LoihiUnavailableError, match=r"m\.net has synaptic delays.*netx"):
        run_on_loihi(path, np.zeros((20, 80), np.int32), repeats=1)


def test_fewer_delay_bits_clip_the_delays_and_shrink_the_footprint(model, tmp_path):
    """deploy.delay_bits: a network's delays held in b bits keep at most 2^b - 1 steps
    (each connection's own maximum if smaller); the float model, read into it with
    `narrow`, has its delays clipped (not rescaled); quantized, exported and read back, the
    NetX model holds those delays and the footprint counts b bits per delay synapse (each
    connection: the width of its own maximum)."""
    from neurokws.deploy.metrics import static_metrics
    from neurokws.model.network import with_delay_bits

    path, weights, d = model
    assert NET.delay_bits == 5 and PLAIN.delay_bits == 0   # max(30, 8) = 0b11110
    three = with_delay_bits(NET, 3)
    assert (three.max_delay_in, three.max_delay_rec, three.delay_bits) == (7, 7, 3)
    assert with_delay_bits(NET, 4).delay_maxima == {"d_in": 15, "d_rec": 8}
    assert with_delay_bits(NET, None) == NET == with_delay_bits(NET, 5)
    assert with_delay_bits(PLAIN, 3) == PLAIN   # no delays: nothing to narrow
    recurrent_only = dataclasses.replace(NET, max_delay_in=0)
    assert with_delay_bits(recurrent_only, 2).delay_maxima == {"d_in": 0, "d_rec": 3}
    # Read into the narrower network: clipped, everything else as stored.
    config, got_w, got, _ = load_network(path, expected=three, narrow=True)
    assert config == three
    np.testing.assert_array_equal(got.d_in, np.minimum(d.d_in, 7))
    np.testing.assert_array_equal(got.d_rec, np.minimum(d.d_rec, 7))
    assert (d.d_in > 7).any() and (d.d_rec > 7).any()
    np.testing.assert_array_equal(got_w.w_rec, weights.w_rec)
    # Without `narrow`, or into a network that differs otherwise, it is refused.
    with pytest.raises(ModelFormatError, match="different config"):
        load_network(path, expected=three)
    with pytest.raises(ModelFormatError, match="different config"):
        load_network(path, expected=dataclasses.replace(three, n_steps=81), narrow=True)
    full = quantize(NET, weights, bits=4, percentile=99.0, delays=d)
    narrow = quantize(config, got_w, bits=4, percentile=99.0, delays=got)
    assert narrow.delay_bits == 3 and full.delay_bits == 5
    synapses = NET.n_in * NET.n_hidden + NET.n_hidden ** 2
    n_weights = synapses + NET.n_hidden * NET.n_out
    # each connection at its own maximum's width: d_in 30 steps (5 bits), d_rec 8 (4 bits)
    delay_bits = 5 * NET.n_in * NET.n_hidden + 4 * NET.n_hidden ** 2
    assert static_metrics(full)["footprint_bytes"] == -(-(4 * n_weights + delay_bits) // 8)
    assert static_metrics(narrow)["footprint_bytes"] == -(-(4 * n_weights + 3 * synapses) // 8)
    assert static_metrics(narrow)["delay_bits"] == 3
    back = read_netx(write_netx(tmp_path / "narrow.net", narrow, provenance={}))
    assert back.config == three and back.delay_bits == 3
    np.testing.assert_array_equal(back.d_rec, np.minimum(d.d_rec, 7).T)


def test_precision_tags_add_narrower_delays_to_cells_with_delays():
    """A deployed model's folder suffix: weight bits, and in cells with delays each
    deploy.delay_bits narrower than model.delays' own (62 steps: 6 bits)."""
    from neurokws.config import parse_precision, precision_tag, precision_tags

    config = default_config(delays=[False, True], deploy={"bits": [8, 3],
                                                          "delay_bits": [6, 3, 2]})
    assert precision_tags(config, False) == ["8", "3"]
    assert precision_tags(config, True) == ["8", "8d3", "8d2", "3", "3d3", "3d2"]
    assert parse_precision("3d2") == (3, 2) and parse_precision("8") == (8, None)
    assert precision_tag(*parse_precision("4d3")) == "4d3"
    config = default_config(delays=[True], model={"delays": {"max_in": 0, "max_rec": 7}},
                            deploy={"delay_bits": [3, 2]})
    assert precision_tags(config, True) == ["8", "8d2"]   # 7 steps already take 3 bits
    with pytest.raises(Exception, match="delay_bits"):
        default_config(deploy={"delay_bits": [7]})

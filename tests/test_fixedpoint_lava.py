"""Bit-exact: the emulator equals Lava's Loihi2SimCfg("fixed_pt") on u, v and spikes, every step.

Lava runs in the "lava" side environment (``make lava-env``; ``make test`` creates it), all
cases in one process. Without the venv these tests FAIL, unless NEUROKWS_SKIP_LAVA=1.
Each case also asserts that the corner case it is named for really happened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest

from fixedpoint_helpers import random_inputs, random_weights, reference_run, write_test_netx
from neurokws.config import default_network
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.inputs import StepInputs, aligned_inputs, paper_inputs
from neurokws.fixedpoint.lava_bridge import LavaJob, run_lava_jobs
from neurokws.utils.sidecar import SidecarUnavailableError, side_env

pytestmark = pytest.mark.slow

TRACE_NAMES = ("hidden_u", "hidden_v", "hidden_s", "output_u", "output_s")


@dataclass
class Case:
    """A network file, its inputs, the stream length and the corner cases it must hit."""

    net: object
    inputs: StepInputs
    stream_len: int | None
    expect: tuple[str, ...]


def _deploy_case(tmp, rng, bits: int = 8) -> Case:
    """A file written by neurokws.deploy (quantize at `bits` + write_netx), aligned binary
    input. Below 8 bits netx shifts the weights up and runs them with num_weight_bits < 8
    and a negative weight_exp (fixedpoint/weights.py)."""
    from neurokws.deploy import quantize, write_netx
    from neurokws.model.network import Weights

    config = default_network(n_hidden=32, n_out=5, n_in=700, n_steps=80)
    weights = Weights(rng.normal(0.09, 0.03, (700, 32)).astype(np.float32),
                      rng.normal(0.0, 0.06, (32, 32)).astype(np.float32),
                      rng.normal(0.0, 0.09, (32, 5)).astype(np.float32))
    path = write_netx(tmp / f"deploy{bits}.net",
                      quantize(config, weights, bits=bits, percentile=99.0),
                      provenance={"test": 1})
    steps = rng.integers(0, 90, 3000)
    inputs = aligned_inputs(steps, rng.integers(0, 700, 3000), np.array([0, 1500, 3000]),
                            n_steps=80)
    return Case(path, inputs, None, ("hidden_spikes", "leak"))


def _trained_case(tmp, rng) -> Case:
    """A model trained by our Eventprop trainer on synthetic data, deployed, aligned input."""
    import dataclasses

    from neurokws.backends.numba import train
    from neurokws.config import QuantTraining, default_config, network_config, train_settings
    from neurokws.data.formats.binning import bin_events
    from neurokws.data.sources.synthetic import generate_split
    from neurokws.deploy import quantize, write_netx

    config = default_config(datasets={"s": {"source": "synthetic", "epochs": 4}},
                            hidden_sizes=[32], seeds=[1], model={"n_steps": 100},
                            training={"ease_in_start_lr": 1e-3, "progress_bar": False})
    split = generate_split(48, 3, seed=2, duration_ms=100.0)
    net = network_config(config, 32, n_out=split.n_classes, n_in=split.n_channels)
    settings = dataclasses.replace(train_settings(config, "s", 32), batch_size=16)
    weights = train(net, settings, 1, split, tmp / "trained").weights
    path = write_netx(tmp / "trained.net", quantize(net, weights, bits=8, percentile=99.0),
                      provenance={"test": 2})
    binned = bin_events(split.subset(np.arange(3)), net.dt, net.n_steps)
    inputs = aligned_inputs(binned.steps, binned.channels, binned.offsets, n_steps=100)
    # ... and the same model fine-tuned by quantization-aware training at 4 bits
    qat = train(net, dataclasses.replace(settings, epochs=1), 1, split, tmp / "qat4",
                qat=QuantTraining(4, 99.0), init=weights).weights
    qat_path = write_netx(tmp / "qat4.net", quantize(net, qat, bits=4, percentile=99.0),
                          provenance={"test": 3})
    return (Case(path, inputs, 1, ("hidden_spikes",)),
            Case(qat_path, inputs, 1, ("hidden_spikes",)))


def _paper_case(tmp, rng) -> Case:
    """N = 256 as in the paper, graded event counts from the first event, two samples."""
    w = (np.clip(np.rint(rng.normal(m, sd, shape)), -128, 127)
         for m, sd, shape in ((14, 20, (256, 700)), (0, 12, (256, 256)), (0, 40, (20, 256))))
    path = write_test_netx(tmp / "paper.net", *w, vth_hidden=2048)
    times = np.sort(rng.integers(2000, 104000, (2, 900)), axis=1).ravel()
    units = rng.integers(0, 120, 1800)   # few channels: several events per frame
    inputs = paper_inputs(times, units, np.array([0, 900, 1800]), n_steps=100)
    assert inputs.values.max() > 1
    return Case(path, inputs, None, ("hidden_spikes", "leak"))


def _build_cases(tmp) -> dict[str, Case]:
    """All Lava comparison cases (small networks, T <= 100, few samples)."""
    rng = np.random.default_rng(20240531)
    cases: dict[str, Case] = {}

    def add(name, weights, vth, inputs, stream_len=None, vth_out=1 << 16, expect=()):
        path = write_test_netx(tmp / f"{name}.net", *weights, vth_hidden=vth,
                               vth_output=vth_out, input_layer=len(cases) % 2 == 0)
        cases[name] = Case(path, inputs, stream_len, expect)

    mixed = random_weights(rng, 60, 24, 5)
    mixed_inputs = random_inputs(rng, 4, 60, 60, 0.15)
    add("mixed_one_stream_leak", mixed, 1500, mixed_inputs, None,
        expect=("hidden_spikes", "leak"))
    add("mixed_fresh_network_every_2", mixed, 1500, mixed_inputs, 2, expect=("hidden_spikes",))
    add("wrap_saturate_binary", random_weights(rng, 700, 12, 4, ff_range=(60, 127),
                                               rec_range=(-20, 20)),
        1 << 17, random_inputs(rng, 2, 50, 700, 0.5), expect=("wrap_pos", "sat_pos"))
    two_sided = random_weights(rng, 30, 12, 4, ff_range=(60, 127), rec_range=(-128, 127))
    two_sided[0][6:] *= -1                      # half the neurons driven up, half down
    add("wrap_both_ways_graded", two_sided, 3000,
        random_inputs(rng, 2, 50, 30, 0.3, graded=True, max_value=127),
        expect=("wrap_pos", "wrap_neg", "sat_neg", "hidden_spikes"))
    add("saturate_negative", random_weights(rng, 30, 8, 3, ff_range=(-128, 2),
                                            rec_range=(-5, 5)),
        100, random_inputs(rng, 2, 40, 30, 0.6, graded=True, max_value=60),
        expect=("sat_neg",))
    add("signs_excitatory_inhibitory", random_weights(rng, 40, 16, 4, ff_range=(0, 127),
                                                      rec_range=(-128, 0), out_range=(0, 50)),
        1500, random_inputs(rng, 3, 40, 40, 0.3), vth_out=4000,
        expect=("hidden_spikes", "output_spikes"))
    add("excitatory_layer_zero_max_output", random_weights(
        rng, 40, 16, 4, ff_range=(0, 127), rec_range=(0, 90), out_range=(-60, 0)),
        2500, random_inputs(rng, 3, 40, 40, 0.3), expect=("hidden_spikes",))
    clip = random_weights(rng, 40, 16, 4, ff_range=(-300, 300), rec_range=(-30, 30),
                          out_range=(-100, 100))
    add("netx_clip_and_truncate", (clip[0], clip[1], 2 * clip[2]), 800,
        random_inputs(rng, 3, 40, 40, 0.3), expect=("hidden_spikes",))
    add("single_signed_out_of_range_zeroed", random_weights(
        rng, 40, 16, 4, ff_range=(1, 301), rec_range=(1, 31), out_range=(-5, 0)),
        800, random_inputs(rng, 2, 30, 40, 0.3))
    add("short_T_many_resets", random_weights(rng, 40, 16, 4), 600,
        random_inputs(rng, 7, 3, 40, 0.4), vth_out=300,
        expect=("hidden_spikes", "output_spikes", "leak"))
    # The deployed output threshold (2^16, i.e. 2^22 after the shift) is reachable: v
    # saturates at 2^23 - 1 (docs/fixedpoint.md#output-threshold).
    add("output_threshold_2_16_reached", random_weights(
        rng, 40, 16, 4, ff_range=(100, 127), rec_range=(0, 10), out_range=(100, 127)),
        200, random_inputs(rng, 2, 60, 40, 0.5), expect=("hidden_spikes", "output_spikes"))
    cases["paper_N256_graded"] = _paper_case(tmp, rng)
    cases["deploy_write_netx"] = _deploy_case(tmp, rng)
    cases["deploy_6_bits"] = _deploy_case(tmp, rng, bits=6)
    cases["deploy_4_bits"] = _deploy_case(tmp, rng, bits=4)
    cases["trained_eventprop_model"], cases["qat_4_bit_model"] = _trained_case(tmp, rng)
    return cases


@pytest.fixture(scope="module")
def lava_runs(tmp_path_factory):
    """Run every case through Lava once (one subprocess); map name -> (case, Lava arrays)."""
    if os.environ.get("NEUROKWS_SKIP_LAVA") == "1":
        pytest.skip("NEUROKWS_SKIP_LAVA=1")
    try:
        side_env("lava").require()
    except SidecarUnavailableError as exc:
        pytest.fail(f"{exc} (or set NEUROKWS_SKIP_LAVA=1 to skip the Lava comparison)")
    cases = _build_cases(tmp_path_factory.mktemp("lava"))
    jobs = [LavaJob(c.net, c.inputs, stream_len=c.stream_len, record_all=True)
            for c in cases.values()]
    results = run_lava_jobs(jobs, timeout=600)
    return {name: (case, result) for (name, case), result in
            zip(cases.items(), results, strict=True)}


CASE_NAMES = ["mixed_one_stream_leak", "mixed_fresh_network_every_2", "wrap_saturate_binary",
              "wrap_both_ways_graded", "saturate_negative", "signs_excitatory_inhibitory",
              "excitatory_layer_zero_max_output", "netx_clip_and_truncate",
              "single_signed_out_of_range_zeroed", "short_T_many_resets",
              "output_threshold_2_16_reached", "paper_N256_graded",
              "deploy_write_netx", "deploy_6_bits", "deploy_4_bits", "trained_eventprop_model",
              "qat_4_bit_model"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_emulator_equals_lava_every_step(lava_runs, name):
    case, lava = lava_runs[name]
    net = FixedPointNetwork.from_netx(case.net)
    mine = net.run(case.inputs, stream_len=case.stream_len, record=("hidden", "output"))
    np.testing.assert_array_equal(mine.out_v, lava["out_v"], err_msg="output v")
    for key in TRACE_NAMES:
        np.testing.assert_array_equal(mine.traces[key], lava[key], err_msg=key)
    pred = net.classify(case.inputs, stream_len=case.stream_len)
    np.testing.assert_array_equal(pred.pred, lava["pred"])
    _, counts = reference_run(net, case.inputs, case.stream_len)
    missing = [what for what in case.expect if counts[what] == 0]
    assert not missing, f"case {name} did not exercise {missing}: {counts}"


def test_low_bit_files_run_with_netx_narrower_weights(lava_runs):
    """The 6- and 4-bit cases above are bit-exact with netx's handling of narrow weights:
    netx shifts them up (weight_exp < 0) and gives Lava num_weight_bits < 8."""
    for name, bits in (("deploy_6_bits", 6), ("deploy_4_bits", 4), ("qat_4_bit_model", 4)):
        net = FixedPointNetwork.from_netx(lava_runs[name][0].net)
        assert net.ff.weight_exp < 0 and net.ff.num_weight_bits < 8, (name, net.ff)
        assert np.abs(net.ff.weights).max() <= 255
        levels = np.unique(np.concatenate([net.ff.weights.ravel(), net.rec.weights.ravel()]))
        assert len(levels) <= 2 ** bits, (name, len(levels))


def test_output_layer_spikes_are_counted_as_lava_counts_them(lava_runs):
    spiking = set()
    for name, (case, lava) in lava_runs.items():
        net = FixedPointNetwork.from_netx(case.net)
        mine = net.classify(case.inputs, stream_len=case.stream_len).activity.output_spikes
        np.testing.assert_array_equal(mine, lava["output_spikes"], err_msg=name)
        if lava["output_spikes"].sum():
            spiking.add(name)
    assert "output_threshold_2_16_reached" in spiking
    assert "deploy_write_netx" not in spiking


def test_cases_cover_every_sign_mode(lava_runs):
    modes = set()
    for case, _ in lava_runs.values():
        net = FixedPointNetwork.from_netx(case.net)
        modes |= {(s.sign_mode, s.num_weight_bits) for s in (net.ff, net.rec, net.out)}
    assert {m for m, _ in modes} == {"mixed", "excitatory", "inhibitory"}
    assert {b for _, b in modes} - {8}, "no case truncates weights below 8 bits"

"""Fixed-point emulator: hand-computed Lava semantics, netx weight handling, inputs, readout.

Runs in the main venv (no Lava). The bit-exact comparison with Lava itself is in
test_fixedpoint_lava.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from fixedpoint_helpers import random_inputs, random_weights, reference_run, write_test_netx
from neurokws.fixedpoint.emulator import FixedPointNetwork, stream_bounds
from neurokws.fixedpoint.inputs import StepInputs, aligned_inputs, paper_inputs, tonic_frames
from neurokws.fixedpoint.netx_file import NeuronParams
from neurokws.fixedpoint.readout import predict, readout_weights
from neurokws.fixedpoint.weights import dense_layer, dense_rec_layer, netx_optimize

M = 1 << 23
DU, DV = 4096 - 742, 4096 - 200     # decay factors for iDecay 742, vDecay 200


def trunc0(x: int) -> int:
    """Python-int truncation toward zero of x / 4096 (the hand-computation helper)."""
    return -((-x) >> 12) if x < 0 else x >> 12


def tiny_net(w_in, w_rec, w_out, vth=10, vth_out=1 << 16) -> FixedPointNetwork:
    """A network from nested lists, decays 742 / 200."""
    return FixedPointNetwork(np.array(w_in), np.array(w_rec), np.array(w_out),
                             NeuronParams(742, 200, vth), NeuronParams(742, 200, vth_out))


def events(per_sample, n_steps, n_channels, graded=False) -> StepInputs:
    """StepInputs from [[(step, channel, value), ...], ...] (events sorted by step)."""
    flat = [e for sample in per_sample for e in sorted(sample)]
    offsets = np.cumsum([0] + [len(s) for s in per_sample])
    cols = np.array(flat, dtype=np.int64).reshape(-1, 3).T
    return StepInputs(cols[0], cols[1], cols[2], offsets, n_steps, n_channels, 8 if graded else 0)


def traces(net, inputs, stream_len=1):
    """Run with all traces recorded."""
    return net.run(inputs, stream_len=stream_len, record=("hidden", "output")).traces


# ---------------------------------------------------------------- hand-computed dynamics

def test_delays_decay_strict_threshold_and_no_u_reset():
    net = tiny_net([[10]], [[0]], [[20]], vth=10)
    assert (net.ff.weights[0, 0], net.ff.weight_exp) == (160, -4)   # 10 << 4, shifted back
    tr = traces(net, events([[(0, 0, 1)]], 6, 1))
    u1 = 10 << 6                                      # input at step 0 reaches u at step 1
    u2 = trunc0(u1 * DU)
    u3 = trunc0(u2 * DU)
    v2 = trunc0(u1 * DV) + u2                         # > 640: spike at step 2
    assert tr["hidden_u"][0, :4, 0].tolist() == [0, u1, u2, u3]
    assert tr["hidden_v"][0, :4, 0].tolist() == [0, u1, 0, trunc0(0 * DV) + u3]
    assert v2 > 10 << 6
    # v1 == vThMant << 6 exactly: no spike (strict >); spike at 2; u is not reset by it
    assert tr["hidden_s"][0, :4, 0].tolist() == [False, False, True, False]
    # the hidden spike at step 2 reaches the output's u at step 3 (weight 20, 8-bit exact)
    assert tr["output_u"][0, :4, 0].tolist() == [0, 0, 0, 20 << 6]


def test_threshold_just_above_spikes():
    tr = traces(tiny_net([[10]], [[0]], [[20]], vth=9), events([[(0, 0, 1)]], 3, 1))
    assert tr["hidden_s"][0, :, 0].tolist() == [False, True, False]
    assert tr["hidden_v"][0, 1, 0] == 0 and tr["hidden_u"][0, 1, 0] == 640


def test_negative_decay_truncates_toward_zero():
    net = tiny_net([[-10]], [[0]], [[1]], vth=1000)
    tr = traces(net, events([[(0, 0, 1)]], 4, 1))
    assert tr["hidden_u"][0, 1, 0] == -640
    assert tr["hidden_u"][0, 2, 0] == -((640 * DU) >> 12) == -524     # floor would be -525
    assert tr["hidden_v"][0, 2, 0] == -((640 * DV) >> 12) - 524 == -1132


def test_u_wraps_at_2_pow_23():
    # graded 127 x weight 127 on 10 channels: a = 161290, a << 6 = 10322560 > 2^23
    net = tiny_net([[127] * 10], [[0]], [[1]], vth=1 << 17)
    tr = traces(net, events([[(0, c, 127) for c in range(10)]], 3, 10, graded=True))
    assert tr["hidden_u"][0, 1, 0] == (127 * 127 * 10 << 6) - (1 << 24) == -6454656


def test_wrap_boundaries_exactly_at_plus_minus_2_pow_23():
    # a = +2^17 -> u = 2^23 is kept (wrap only if > 2^23)
    up = tiny_net([[64] * 64], [[0]], [[1]], vth=1 << 17)
    tr = traces(up, events([[(0, c, 32) for c in range(64)]], 2, 64, graded=True))
    assert tr["hidden_u"][0, 1, 0] == M
    # a = -2^17 -> u = -2^23 wraps to +2^23 (wrap if <= -2^23); a +1 weight keeps it mixed
    down = tiny_net([[-64] * 64 + [1]], [[0]], [[1]], vth=1 << 17)
    tr = traces(down, events([[(0, c, 32) for c in range(64)]], 2, 65, graded=True))
    assert tr["hidden_u"][0, 1, 0] == M


@pytest.mark.parametrize("sign", [1, -1])
def test_v_saturates_at_plus_minus_2_pow_23_minus_1(sign):
    net = tiny_net([[sign * 100] * 4 + [-sign]], [[0]], [[1]], vth=1 << 17)   # never spikes
    inputs = events([[(t, c, 50) for t in range(40) for c in range(4)]], 40, 5, graded=True)
    v = traces(net, inputs)["hidden_v"][0, :, 0]
    assert np.max(np.abs(v)) == M - 1 and v[-1] == sign * (M - 1)
    ref, counts = reference_run(net, inputs)
    assert counts["sat_pos" if sign > 0 else "sat_neg"] > 0
    np.testing.assert_array_equal(v, ref["hidden_v"][0, :, 0])


def test_reset_phases_and_boundary_leak():
    net = tiny_net([[10]], [[0]], [[20]], vth=9)
    inputs = events([[(1, 0, 1), (3, 0, 1)], []], 4, 1)       # spike in the last step of 0
    chained = traces(net, inputs, stream_len=None)
    # sample 0: input at 1 -> hidden spike at 2 -> output u = 20 << 6 at 3
    assert chained["hidden_s"][0, :, 0].tolist() == [False, False, True, False]
    assert chained["output_u"][0, 3, 0] == 1280
    # sample 1, step 0: hidden u, v zeroed, then the buffered last-step input leaks in
    assert chained["hidden_u"][1, 0, 0] == 640 and chained["hidden_s"][1, 0, 0]
    # output: not reset at local step 0 (Lava time_step % T == 2 is local step 1) ...
    assert chained["output_u"][1, 0, 0] == trunc0(1280 * DU) == 1048
    # ... reset at step 1, then the leaked hidden spike of step 0 arrives
    assert chained["output_u"][1, 1, 0] == 1280
    isolated = traces(net, inputs, stream_len=1)
    assert not isolated["hidden_u"][1].any() and not isolated["output_u"][1].any()
    np.testing.assert_array_equal(isolated["output_u"][0], chained["output_u"][0])


# ---------------------------------------------------------------- netx / Lava weights

def test_int8_mixed_weights_are_lossless():
    rng = np.random.default_rng(0)
    w_in, w_rec, _ = random_weights(rng, 30, 8, 2, ff_range=(-128, 127), rec_range=(-128, 127))
    ff, rec = dense_rec_layer(w_in, w_rec)
    assert ff.weight_exp == rec.weight_exp == -1 and ff.num_weight_bits == 8
    np.testing.assert_array_equal(ff.weights, 2 * w_in)
    np.testing.assert_array_equal(rec.weights, 2 * w_rec)


def test_single_signed_dense_in_mixed_dense_rec_keeps_values():
    ff, rec = dense_rec_layer(np.full((3, 4), 7), np.array([[5, -3, 0]] * 3))
    assert (ff.sign_mode, rec.sign_mode) == ("excitatory", "mixed")
    assert np.all(ff.weights >> -ff.weight_exp == 7)


def test_out_of_range_single_signed_matrix_is_silently_zeroed():
    syn = dense_layer(np.array([[301, 1], [3, 5]]))    # odd, > 255, excitatory
    assert not np.any(syn.weights)


def test_nonpositive_matrix_with_zero_max_is_halved_by_lava():
    # netx calls max == 0 "mixed" (shift 2), Lava's Dense calls it inhibitory and clips -256
    syn = dense_layer(np.array([[-64, 0]]))
    assert syn.sign_mode == "inhibitory"
    assert int(syn.weights[0, 0]) >> -syn.weight_exp == -32


def test_all_zero_matrix_is_rejected():
    with pytest.raises(ValueError, match="all-zero"):
        netx_optimize(np.zeros((2, 2)))


# ---------------------------------------------------------------- against the reference

@pytest.mark.parametrize(("graded", "n_steps", "stream_len"),
                         [(False, 30, 1), (False, 7, None), (True, 12, 2), (False, 2, None),
                          (True, 1, None)])
def test_emulator_matches_numpy_reference(graded, n_steps, stream_len):
    rng = np.random.default_rng(n_steps)
    net = FixedPointNetwork(*random_weights(rng, 25, 12, 3), NeuronParams(742, 200, 1500),
                            NeuronParams(742, 200, 900))
    inputs = random_inputs(rng, 5, n_steps, 25, 0.3, graded=graded, max_value=20)
    mine = net.run(inputs, stream_len=stream_len, record=("hidden", "output"))
    ref, counts = reference_run(net, inputs, stream_len)
    for name, trace in ref.items():
        np.testing.assert_array_equal(mine.traces[name], trace, err_msg=name)
    assert counts["hidden_spikes"] > 0
    assert mine.activity.hidden_spikes.sum() == counts["hidden_spikes"]


# ---------------------------------------------------------------- inputs

def test_aligned_inputs_collapse_repeats_and_crop():
    inp = aligned_inputs(np.array([3, 3, 1, 9, 2]), np.array([5, 5, 0, 1, 2]),
                         np.array([0, 4, 5]), n_steps=5, n_channels=6)
    assert inp.offsets.tolist() == [0, 2, 3]
    assert inp.steps.tolist() == [1, 3, 2] and inp.channels.tolist() == [0, 5, 2]
    assert inp.values.tolist() == [1, 1, 1] and inp.message_bits == 0


def test_paper_inputs_frames_start_at_first_event_and_drop_incomplete_frame():
    # first event at 2500 us: frames [2500, 3500), [3500, 4500); 4600 lies in an incomplete one
    times = np.array([2500, 2600, 3499, 3500, 4600])
    assert tonic_frames(times, 1000).tolist() == [0, 0, 0, 1, -1]
    inp = paper_inputs(times, np.array([1, 1, 1, 0, 0]), np.array([0, 5]), n_steps=10,
                       n_channels=2)
    assert inp.message_bits == 8
    assert list(zip(inp.steps.tolist(), inp.channels.tolist(), inp.values.tolist(),
                    strict=True)) == [(0, 1, 3), (1, 0, 1)]


def test_paper_inputs_wrap_counts_to_int8_like_the_paper():
    times = np.concatenate([np.full(200, 10), [5000]])
    inp = paper_inputs(times, np.zeros(201, np.int64), np.array([0, 201]), 10, 1)
    assert inp.values[0] == 200 - 256


def test_select_and_dense_roundtrip():
    rng = np.random.default_rng(1)
    inp = random_inputs(rng, 4, 6, 5, 0.3, graded=True)
    sub = inp.select(np.array([2, 0]))
    np.testing.assert_array_equal(sub.dense(0), inp.dense(2))
    np.testing.assert_array_equal(sub.dense(1), inp.dense(0))
    back = StepInputs.from_arrays(sub.arrays())
    np.testing.assert_array_equal(back.dense(1), inp.dense(0))


# ---------------------------------------------------------------- readout, classify, activity

def test_classify_equals_readout_of_run_for_any_chunking():
    rng = np.random.default_rng(2)
    net = FixedPointNetwork(*random_weights(rng, 20, 10, 4), NeuronParams(742, 200, 1000),
                            NeuronParams(742, 200, 1 << 16))
    inputs = random_inputs(rng, 9, 15, 20, 0.3)
    for stream_len in (1, 3, None):
        pred, scores = predict(net.run(inputs, stream_len=stream_len).out_v)
        for chunk in (1, 4, 100):
            result = net.classify(inputs, stream_len=stream_len, chunk=chunk)
            np.testing.assert_array_equal(result.pred, pred)
            np.testing.assert_array_equal(result.scores, scores)
    assert readout_weights(4).tolist() == pytest.approx(np.exp(-np.arange(4) / 4).tolist())


def test_activity_counts():
    rng = np.random.default_rng(3)
    net = FixedPointNetwork(*random_weights(rng, 20, 10, 4), NeuronParams(742, 200, 800),
                            NeuronParams(742, 200, 1 << 16))
    inputs = random_inputs(rng, 3, 15, 20, 0.3)
    act = net.run(inputs).activity
    np.testing.assert_array_equal(act.input_events, np.diff(inputs.offsets))
    np.testing.assert_array_equal(act.synaptic_ops,
                                  act.input_events * 10 + act.hidden_spikes * 14)
    assert act.neuron_updates.tolist() == [15 * 14] * 3
    assert act.totals()["hidden_spikes"] == act.hidden_spikes.sum() > 0


@pytest.mark.parametrize("delays", [False, True])
def test_effective_synaptic_ops_count_non_zero_weights(delays):
    """NeuroBench's effective ACs: per input event and hidden spike, the non-zero weights
    it drives (Lava's effective weights), from the recorded spikes; a sparse network
    makes fewer than the dense count."""
    rng = np.random.default_rng(4)
    w_in, w_rec, w_out = random_weights(rng, 20, 10, 4)
    w_in[rng.random(w_in.shape) < 0.5] = 0
    w_rec[:, :3] = 0
    extra = ({"d_in": rng.integers(0, 5, w_in.shape), "d_rec": rng.integers(0, 3, w_rec.shape)}
             if delays else {})
    net = FixedPointNetwork(w_in, w_rec, w_out, NeuronParams(742, 200, 800),
                            NeuronParams(742, 200, 1 << 16), **extra)
    inputs = random_inputs(rng, 3, 15, 20, 0.3, graded=True)
    result = net.run(inputs, record=("hidden",))
    nnz_ff = (net.ff.weights != 0).sum(axis=0)
    nnz_hid = (net.rec.weights != 0).sum(axis=0) + (net.out.weights != 0).sum(axis=0)
    for s in range(3):
        sel = slice(inputs.offsets[s], inputs.offsets[s + 1])
        active = inputs.channels[sel][inputs.values[sel] != 0]
        expect = nnz_ff[active].sum() + result.traces["hidden_s"][s].sum(axis=0) @ nnz_hid
        assert result.activity.effective_synaptic_ops[s] == expect
    assert 0 < result.activity.effective_synaptic_ops.sum() < result.activity.synaptic_ops.sum()


def test_stream_bounds():
    assert stream_bounds(5, 2).tolist() == [0, 2, 4, 5]
    assert stream_bounds(5, None).tolist() == [0, 5]
    assert stream_bounds(0, 3).tolist() == [0]


# ---------------------------------------------------------------- files and the Lava bridge

def test_from_netx_matches_from_arrays(tmp_path):
    rng = np.random.default_rng(4)
    w = random_weights(rng, 12, 6, 3)
    path = write_test_netx(tmp_path / "m.net", *w, vth_hidden=700, input_layer=False)
    a = FixedPointNetwork.from_netx(path)
    b = FixedPointNetwork(*w, NeuronParams(742, 200, 700), NeuronParams(742, 200, 1 << 16))
    inputs = random_inputs(rng, 2, 10, 12, 0.3)
    np.testing.assert_array_equal(a.run(inputs).out_v, b.run(inputs).out_v)


def test_output_layer_spikes_are_counted_recorded_and_warned(tmp_path, caplog):
    """The deployed output threshold (2^16 << 6 = 2^22) is below v's saturation (2^23 - 1):
    a strongly driven output neuron reaches it (docs/fixedpoint.md#output-threshold)."""
    import logging

    from neurokws.data.formats.events import EventSplit
    from neurokws.fixedpoint.evaluation import emulate

    rng = np.random.default_rng(4)
    weights = random_weights(rng, 40, 16, 4, ff_range=(100, 127), rec_range=(0, 10),
                             out_range=(100, 127))
    hot = write_test_netx(tmp_path / "hot.net", *weights, vth_hidden=200, vth_output=1 << 16)
    quiet = write_test_netx(tmp_path / "quiet.net", weights[0], weights[1],
                            np.clip(weights[2], 0, 2), vth_hidden=200, vth_output=1 << 16)
    times = np.tile(np.arange(0, 60000, 1000, dtype=np.int32), 40)
    order = np.argsort(times, kind="stable")
    split = EventSplit(times_us=np.concatenate([times[order]] * 2),
                       units=np.concatenate([np.repeat(np.arange(40), 60)[order]] * 2),
                       offsets=np.array([0, 2400, 4800]), labels=np.array([0, 1]),
                       n_channels=40, n_classes=4)
    with caplog.at_level(logging.WARNING, logger="neurokws.fixedpoint.evaluation"):
        frame, summary = emulate(hot, split, 60, 1.0, ["aligned"])
    mode = summary["modes"]["aligned"]
    assert mode["output_spikes"] > 0 and mode["samples_with_output_spikes"] == 2
    assert (frame["output_spikes_aligned"] > 0).all()
    assert "output-layer spikes in 2 of 2 samples" in caplog.text and "hot.net" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="neurokws.fixedpoint.evaluation"):
        _, summary = emulate(quiet, split, 60, 1.0, ["aligned"])
    assert summary["modes"]["aligned"]["output_spikes"] == 0 and not caplog.text


def test_uniform_input_delay_is_a_shifted_input():
    """d_in = k everywhere (d_rec = 0): DelayDense adds each step's shifted sum k steps
    later, so it is the delay-free network on inputs k steps later (per-sample streams:
    arrivals after the end are lost, as shifted events beyond T). Per-synapse delays, by
    contrast, shift each delay group on its own and differ from any shifted input."""
    rng = np.random.default_rng(8)
    w_in, w_rec, w_out = random_weights(rng, 40, 16, 4)
    hidden = NeuronParams(1024, 128, 1500)
    output = NeuronParams(1024, 128, 1 << 16)
    inputs = random_inputs(rng, 3, 60, 40, 0.2)
    k = 9
    delayed = FixedPointNetwork(w_in, w_rec, w_out, hidden, output,
                                d_in=np.full(w_in.shape, k), d_rec=np.zeros(w_rec.shape, int))
    plain = FixedPointNetwork(w_in, w_rec, w_out, hidden, output)
    keep = inputs.steps + k < inputs.n_steps
    counts = np.add.reduceat(keep, inputs.offsets[:-1]) if keep.size else np.zeros(3, int)
    shifted = StepInputs((inputs.steps + k)[keep], inputs.channels[keep],
                         inputs.values[keep], np.concatenate([[0], np.cumsum(counts)]),
                         inputs.n_steps, inputs.n_channels)
    a = delayed.run(inputs, stream_len=1, record=("hidden", "output")).traces
    b = plain.run(shifted, stream_len=1, record=("hidden", "output")).traces
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert a["hidden_s"].sum() > 0
    with pytest.raises(ValueError, match="non-negative integers"):
        FixedPointNetwork(w_in, w_rec, w_out, hidden, output, d_in=-np.ones(w_in.shape, int))


@pytest.mark.parametrize("graded", [False, True])
@pytest.mark.parametrize("linear", [True, False])
def test_input_without_delays_adds_whole_rows(linear, graded):
    """With recurrent delays only (config/config.yaml's delay cells), input events add whole
    weight rows to the buffer of step t + 1 (kernels.py, ff_delayed False) on both delay
    paths; that equals the per-synapse scatter of zero input delays, which the Lava tests
    (test_fixedpoint_lava_delays.py) hold the emulator to, and which is forced here."""
    rng = np.random.default_rng(5)
    w_in, w_rec, w_out = random_weights(rng, 40, 16, 4)
    net = FixedPointNetwork(w_in, w_rec, w_out, NeuronParams(1024, 128, 1500),
                            NeuronParams(1024, 128, 1 << 16),
                            d_rec=rng.integers(0, 7, w_rec.shape))
    if not linear:
        net._linear = (None, None)
    inputs = random_inputs(rng, 3, 80, 40, 0.2, graded=graded)
    assert (net._linear_path(inputs)[0].size > 0) == linear
    n_rows, _, off_rec, ff_delayed = net._delays
    assert n_rows == 7 and not ff_delayed
    rows = net.run(inputs, stream_len=2, record=("hidden", "output")).traces
    zero_offsets = np.tile(np.arange(16, dtype=off_rec.dtype), (40, 1))   # d N + j, d = 0
    net._delays = (n_rows, zero_offsets, off_rec, True)
    scatter = net.run(inputs, stream_len=2, record=("hidden", "output")).traces
    for name in rows:
        np.testing.assert_array_equal(rows[name], scatter[name], err_msg=name)
    assert rows["hidden_s"].sum() > 100


@pytest.mark.parametrize("graded", [False, True])
def test_linear_delay_path_equals_per_delay_sums(graded):
    """kernels.py's linear delay path (each weight shifted once, added straight into the
    ring) gives DelayDense's integers: the per-delay sums shifted on their own, which the
    Lava tests (test_fixedpoint_lava_delays.py) hold the emulator to. netx's weights are
    multiples of 2^-weight_exp, so the linear path is taken; graded values so large that a
    step's sum could leave int32 fall back to the per-delay sums."""
    rng = np.random.default_rng(3)
    w_in, w_rec, w_out = random_weights(rng, 40, 16, 4)
    hidden = NeuronParams(1024, 128, 1500)
    output = NeuronParams(1024, 128, 1 << 16)
    inputs = random_inputs(rng, 3, 80, 40, 0.2, graded=graded)
    net = FixedPointNetwork(w_in, w_rec, w_out, hidden, output,
                            d_in=rng.integers(0, 20, w_in.shape),
                            d_rec=rng.integers(0, 7, w_rec.shape))
    assert net.ff.weight_exp < 0 and net._linear_path(inputs)[0].shape == (40, 16)
    fast = net.run(inputs, stream_len=1, record=("hidden", "output")).traces
    lin, net._linear = net._linear, (None, None)   # force the per-delay sums
    assert net._linear_path(inputs)[0].size == 0
    sums = net.run(inputs, stream_len=1, record=("hidden", "output")).traces
    for name in fast:
        np.testing.assert_array_equal(fast[name], sums[name], err_msg=name)
    assert fast["hidden_s"].sum() > 100
    if graded:   # n events of value 127 in one step with L 127 n max|w| >= 2^31 (L = 20)
        w_max = int(np.abs(lin[0]).max())
        assert net._delays[0] == 20
        n_ev = 40 * (-(-(1 << 31) // (20 * 127 * w_max * 40)))
        crowd = StepInputs(np.zeros(n_ev, np.int64), np.arange(n_ev) % 40,
                           np.full(n_ev, 127), np.array([0, n_ev]), 5, 40, message_bits=8)
        assert net._linear_path(crowd)[0].size == 0
        net._linear = lin
        assert net._linear_path(crowd)[0].size == 0
        few = StepInputs(np.zeros(n_ev // 2, np.int64), np.arange(n_ev // 2) % 40,
                         np.full(n_ev // 2, 127), np.array([0, n_ev // 2]), 5, 40,
                         message_bits=8)
        assert net._linear_path(few)[0].size > 0

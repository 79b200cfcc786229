"""Loihi 2: the activity cost model (fit, leave-one-out, labels) and the hardware-absent errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurokws.config import default_network
from neurokws.fixedpoint.emulator import FixedPointNetwork
from neurokws.fixedpoint.evaluation import split_inputs
from neurokws.fixedpoint.inputs import StepInputs
from neurokws.fixedpoint.netx_file import NeuronParams
from neurokws.profiling.errors import LoihiUnavailableError
from neurokws.profiling.inference.loihi import hardware_location, profile_loihi_hardware
from neurokws.profiling.inference.loihi_estimate import (
    QUANTITIES,
    CalibrationPoint,
    calibration_frame,
    estimate_from_activity,
    estimate_loihi,
    fit_cost_model,
    fit_linear,
    paper_calibration,
)
from neurokws.profiling.inference.loihi_hw import loihi_status, require_loihi
from neurokws.profiling.inference.profile import ProfileJob, ProfileOptions, profile
from neurokws.utils.sidecar import side_env

REPO = Path(__file__).resolve().parents[1]
PAPER = {256: (2.33, 0.19, 0.11), 512: (2.37, 0.27, 0.15), 1024: (2.56, 0.50, 0.31)}
SOP = {256: 7.15e9 / 2264, 512: 1.88e10 / 2264, 1024: 5.34e10 / 2264}


def test_calibration_points_are_the_papers_loihi_rows():
    points = paper_calibration()
    assert [p.hidden_size for p in points] == [256, 512, 1024]
    for p in points:
        assert (p.latency_ms, p.energy_total_mJ, p.energy_dynamic_mJ) == PAPER[p.hidden_size]
        assert p.sop_per_sample == pytest.approx(SOP[p.hidden_size])
        assert p.n_steps == 1000


def test_fit_has_two_parameters_and_small_in_sample_error():
    model = fit_cost_model()
    for q in QUANTITIES:
        cost = model.costs[q]
        assert cost.per_step > 0 and cost.per_sop > 0  # physically sensible signs
    # ~2.29 us per step and ~11.5 ps per SOP for latency (Loihi 2's ~2.3 us/step,
    # docs/profiling.md#loihi-2-estimate)
    assert model.costs["latency_ms"].per_step * 1e3 == pytest.approx(2.29, abs=0.02)
    frame = calibration_frame(model)
    assert len(frame) == 9
    assert frame["fit_error_pct"].abs().max() < 5.0


def test_leave_one_out_matches_hand_computed_two_point_fits():
    model = fit_cost_model()
    for q_index, q in enumerate(QUANTITIES):
        for held in (256, 512, 1024):
            a, b = (n for n in (256, 512, 1024) if n != held)
            # Two points, two parameters: the fit interpolates them exactly.
            design = np.array([[1000.0, SOP[a]], [1000.0, SOP[b]]])
            coef = np.linalg.solve(design, [PAPER[a][q_index], PAPER[b][q_index]])
            pred = coef @ [1000.0, SOP[held]]
            expected = (pred - PAPER[held][q_index]) / PAPER[held][q_index]
            i = (256, 512, 1024).index(held)
            assert model.loo[q][i] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # Regression guard on the reported quality (max |LOO| in %).
    assert model.loo_max_pct("latency_ms") == pytest.approx(2.78, abs=0.01)
    assert model.loo_max_pct("energy_total_mJ") == pytest.approx(1.52, abs=0.01)
    assert model.loo_max_pct("energy_dynamic_mJ") == pytest.approx(13.29, abs=0.01)


def test_fit_needs_two_points():
    point = CalibrationPoint(256, 1000, 1e6, 2.0, 0.2, 0.1)
    with pytest.raises(ValueError, match="two"):
        fit_linear([point], "latency_ms")


def test_estimate_row_is_labelled_and_reproduces_paper_activity():
    model = fit_cost_model()
    # Activity with the paper's SOP for N=256: events x N + spikes x (N + C).
    events = np.full(4, 8500.0)
    spikes = (SOP[256] - events * 256) / 276
    row = estimate_loihi(events, spikes, 256, 20, 1000, model="m256", cost_model=model)
    assert row.source == "estimate" and row.estimate is True
    assert row.method.startswith("estimate:") and "Table II" in row.method
    assert row.hardware == "Loihi 2" and row.backend == "cost-model"
    assert row.batch_size == 1 and row.precision == "int8" and row.samples_measured == 4
    assert row.sop_per_sample == pytest.approx(SOP[256])
    assert row.latency_batch_ms == pytest.approx(2.33, rel=0.01)
    assert row.energy_total_mJ == pytest.approx(0.19, rel=0.01)
    assert row.energy_dynamic_mJ == pytest.approx(0.11, rel=0.05)
    assert row.edp_uJs == pytest.approx(row.energy_total_mJ * row.latency_batch_ms)
    assert row.loo_max_err_latency_pct == model.loo_max_pct("latency_ms")
    assert row.loo_max_err_energy_total_pct == model.loo_max_pct("energy_total_mJ")
    assert row.loo_max_err_energy_dynamic_pct == model.loo_max_pct("energy_dynamic_mJ")
    assert "LOO" in row.notes and "extrapolated" not in row.notes
    assert row.power_active_W == pytest.approx(row.energy_total_mJ / row.latency_batch_ms)
    assert '"profiler":"loihi-estimate"' in row.provenance


def test_estimate_flags_extrapolation_and_other_T():
    row = estimate_loihi(np.array([100.0]), np.array([50.0]), 64, 10, 500)
    assert "extrapolated" in row.notes and "T = 500" in row.notes
    with pytest.raises(ValueError):
        estimate_loihi(np.array([]), np.array([]), 64, 10, 500)


def test_estimate_from_fixed_point_emulator_activity():
    rng = np.random.default_rng(5)
    n_in, n_hid, n_out, t_len = 12, 16, 3, 40
    net = FixedPointNetwork(rng.integers(20, 120, (n_hid, n_in)),
                            rng.integers(-30, 30, (n_hid, n_hid)),
                            rng.integers(-100, 100, (n_out, n_hid)),
                            NeuronParams(742, 200, 160), NeuronParams(742, 200, 1 << 16))
    steps, channels = np.nonzero(rng.random((t_len, n_in)) < 0.2)
    inputs = StepInputs(steps, channels, np.ones(steps.size), np.array([0, steps.size]),
                        t_len, n_in)
    activity = net.run(inputs).activity
    assert activity.hidden_spikes[0] > 0
    row = estimate_from_activity(activity, n_hid, n_out, t_len, model="emulated")
    assert row.input_events_per_sample == steps.size
    assert row.sop_per_sample == pytest.approx(float(activity.synaptic_ops[0]))
    assert row.estimate and row.model == "emulated"


def test_hardware_absent_is_a_clear_error(tmp_path, monkeypatch):
    ok, reason = loihi_status()
    if ok:
        pytest.skip("lava-loihi is installed here")
    assert "lava-loihi" in reason and "loihi2_profiler" in reason
    with pytest.raises(LoihiUnavailableError, match="Loihi 2 hardware unavailable") as info:
        require_loihi()
    assert info.value.reason == reason
    monkeypatch.setenv("NEUROKWS_LAVA_VENV", str(tmp_path / "no-venv"))
    with pytest.raises(LoihiUnavailableError, match="make lava-env"):  # here, then the venv
        profile_loihi_hardware("model.net", None, hidden_size=16, n_classes=3, repeats=1)


def test_lava_venv_without_lava_loihi_names_what_is_missing():
    if not side_env("lava").ready():
        pytest.skip("no Lava venv here (make lava-env)")
    if loihi_status()[0]:
        pytest.skip("lava-loihi is installed here")
    with pytest.raises(LoihiUnavailableError) as info:
        hardware_location()
    reason = info.value.reason
    assert "lava.utils.loihi2_profiler [lava-loihi" in reason
    assert str(side_env("lava").path) in reason
    assert reason.count("lava.lib.dl.netx") == 1  # lava-dl is in the venv: only Intel's parts


def test_loihi_device_gives_reason_row_and_estimate_from_the_emulator(tmp_path):
    if loihi_status()[0]:
        pytest.skip("lava-loihi is installed here")
    from neurokws.config import default_config
    from neurokws.data.sources.synthetic import generate_split
    from neurokws.deploy import quantize, write_netx
    from neurokws.model.init import init_weights
    from neurokws.model.network import save_model

    config = default_network(n_hidden=16, n_out=3, n_steps=100)
    weights = init_weights(config, np.random.default_rng(0))
    save_model(tmp_path / "model.npz", config, weights, {})
    write_netx(tmp_path / "model.net", quantize(config, weights, bits=8, percentile=99.0),
               provenance={})
    job = ProfileJob(model_path=tmp_path / "model.npz", net_path=tmp_path / "model.net",
                     test=generate_split(4, 3, seed=1, duration_ms=100.0), model_name="m",
                     dataset="synth")
    options = ProfileOptions.from_dict(default_config()["profiling"])
    hw, est = profile("loihi", job, 1, options)
    assert hw.status == "unavailable" and hw.hardware == "Loihi 2"
    assert "lava-loihi" in hw.notes and hw.backend == "lava-loihi"
    assert est.source == "estimate" and est.status == "ok" and est.n_steps == 100
    assert est.dataset == "synth" and est.samples_measured == 4
    activity = FixedPointNetwork.from_netx(tmp_path / "model.net").classify(
        split_inputs(job.test, "aligned", 100, 1.0)).activity
    assert est.sop_per_sample == pytest.approx(float(activity.synaptic_ops.mean()), rel=0.05)

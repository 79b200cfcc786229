"""Energy arithmetic of the profiler against hand-computed values and the paper's Table II."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from neurokws import paper
from neurokws.profiling.energy import (
    PowerTrace,
    cumulative_energy,
    energy_between,
    per_sample_energy_mJ,
    summarize,
    trapezoid_energy,
    unwrap_counter,
)
from neurokws.profiling.inference.records import (
    COLUMNS,
    ProfileRow,
    edp_uJs,
    energy_per_sop_nJ,
    rows_to_frame,
    synaptic_ops,
)


def test_trapezoid_energy_hand_computed():
    # 0-1 s: 2 -> 4 W (3 J); 1-3 s: 4 -> 0 W (4 J); 3-3.5 s: 0 W.
    assert trapezoid_energy([0.0, 1.0, 3.0, 3.5], [2.0, 4.0, 0.0, 0.0]) == pytest.approx(7.0)
    assert trapezoid_energy([1.0], [5.0]) == 0.0
    cum = cumulative_energy([0.0, 1.0, 3.0], [2.0, 4.0, 0.0], "power")
    np.testing.assert_allclose(cum, [0.0, 3.0, 7.0])


def test_unwrap_counter_with_wraparound():
    # RAPL-like counter in uJ wrapping at 1000: 900 -> 950 (+50) -> 20 (+70) -> 100 (+80).
    np.testing.assert_allclose(unwrap_counter([900, 950, 20, 100], wrap=1000),
                               [0, 50, 120, 200])
    np.testing.assert_allclose(unwrap_counter([1.0, 2.5, 4.0], wrap=None), [0, 1.5, 3.0])
    with pytest.raises(ValueError, match="backwards"):
        unwrap_counter([5.0, 1.0], wrap=None)


def test_energy_between_interpolates_and_checks_coverage():
    times = np.array([0.0, 1.0, 2.0])
    cum = np.array([0.0, 10.0, 30.0])
    assert energy_between(times, cum, 0.5, 1.5) == pytest.approx(20.0 - 5.0)  # E(1.5) - E(0.5)
    with pytest.raises(ValueError, match="not covered"):
        energy_between(times, cum, -0.1, 1.0)


def test_summarize_idle_and_active_windows_from_power_readings():
    # 4 W idle, 10 W while active (1 s to 3 s), 4 W idle again; readings every 0.5 s with
    # the window edges themselves read (as PowerSampler.mark does).
    times = np.arange(0.0, 4.01, 0.5)
    power = np.where((times > 1.0) & (times < 3.0), 10.0, 4.0)
    power[(times == 1.0) | (times == 3.0)] = 10.0  # edge readings taken during the run
    marks = {"idle_before_start": 0.0, "idle_before_end": 0.5, "active_start": 1.0,
             "active_end": 3.0, "idle_after_start": 3.5, "idle_after_end": 4.0}
    summary = summarize(PowerTrace(times, power, "power", marks=marks, source="fake"))
    assert summary.power_idle_W == pytest.approx(4.0)
    assert summary.power_active_W == pytest.approx(10.0)
    assert summary.active_s == pytest.approx(2.0)
    assert summary.idle_s == pytest.approx(0.5)
    assert summary.n_readings == times.size and summary.source == "fake"


def test_summarize_energy_counter_trace_with_wrap():
    # counter (J) wrapping at 100: 3 W idle, 8 W active.
    times = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    energy = np.array([90.0, 93.0, 1.0, 9.0, 12.0])  # +3, +8 (wrapped), +8, +3
    marks = {"idle_before_start": 0.0, "idle_before_end": 1.0, "active_start": 1.0,
             "active_end": 3.0, "idle_after_start": 3.0, "idle_after_end": 4.0}
    summary = summarize(PowerTrace(times, energy, "energy", wrap=100.0, marks=marks))
    assert summary.power_idle_W == pytest.approx(3.0)
    assert summary.power_active_W == pytest.approx(8.0)


def test_summarize_reports_failed_readings():
    trace = PowerTrace(np.array([0.0]), np.array([1.0]), "power",
                       marks={"active_start": 0.0, "active_end": 2.0}, error="OSError: gone")
    summary = summarize(trace)
    assert math.isnan(summary.power_active_W) and "OSError: gone" in summary.reason
    assert summary.active_s == 2.0


def test_per_sample_energy_follows_the_paper():
    # P_sim 7.4 W, P_idle 6.1 W (the paper's Jetson N=256 figures), 1 s GPU time, 10 samples.
    total, dynamic = per_sample_energy_mJ(7.4, 6.1, 1.0, 10)
    assert total == pytest.approx(740.0)
    assert dynamic == pytest.approx(130.0)
    with pytest.raises(ValueError):
        per_sample_energy_mJ(1.0, 0.0, 1.0, 0)


def _decimals(text: str) -> int:
    """Number of decimal places written in a CSV cell."""
    return max(0, -Decimal(text).as_tuple().exponent)


def test_edp_matches_every_paper_row_within_its_rounding():
    # EDP = total energy x latency (mJ x ms = uJ s); e.g. 82.3 mJ x 25.5 ms = 2098.65 uJ s
    # while the paper prints 2102.0: it multiplied unrounded values. So each published EDP
    # must lie in the product's interval given the half-unit rounding of both factors
    # (widened by the EDP's own rounding).
    assert edp_uJs(82.3, 25.5) == pytest.approx(2098.65)
    raw = paper.table_ii(as_printed=True)
    for rec in raw.itertuples(index=False):
        energy, latency, edp = (float(rec.energy_total_mJ), float(rec.latency_ms),
                                float(rec.edp_uJs))
        de = 0.5 * 10 ** -_decimals(rec.energy_total_mJ)
        dl = 0.5 * 10 ** -_decimals(rec.latency_ms)
        dp = 0.5 * 10 ** -_decimals(rec.edp_uJs)
        lo, hi = (energy - de) * (latency - dl), (energy + de) * (latency + dl)
        assert lo - dp <= edp <= hi + dp, (rec.hardware, rec.hidden_size, rec.batch_size)
        assert edp_uJs(energy, latency) == pytest.approx(edp, rel=0.02)


def test_sop_and_energy_per_sop_reproduce_the_spec():
    # SOP = events x N + spikes x (N + C); docs/profiling.md#synaptic-operations: dynamic
    # energy per SOP on the Jetson at B = 1 is 7.5 / 3.0 / 1.2 nJ for SOP per test set
    # 7.15e9 / 1.88e10 / 5.34e10 (2264).
    assert synaptic_ops(8500, 3550, 256, 20) == 8500 * 256 + 3550 * 276
    np.testing.assert_allclose(synaptic_ops(np.array([1, 2]), np.array([3, 4]), 10, 2),
                               [1 * 10 + 3 * 12, 2 * 10 + 4 * 12])
    for dyn, sop_set, expected in ((23.8, 7.15e9, 7.5), (25.3, 1.88e10, 3.0),
                                   (29.1, 5.34e10, 1.2)):
        assert energy_per_sop_nJ(dyn, sop_set / 2264) == pytest.approx(expected, abs=0.06)
    assert math.isnan(energy_per_sop_nJ(1.0, 0.0))
    assert math.isnan(energy_per_sop_nJ(1.0, float("nan")))


def test_row_derive_and_schema():
    row = ProfileRow(source="measured", hardware="CPU", backend="numba-cpu", batch_size=4,
                     n_steps=1000, latency_batch_ms=8.0, energy_total_mJ=2.0,
                     energy_dynamic_mJ=0.5, sop_per_sample=1e6).derive()
    assert row.latency_sample_ms == 2.0 and row.latency_step_us == 8.0
    assert row.edp_uJs == 16.0 and row.energy_per_sop_nJ == pytest.approx(0.5)
    frame = rows_to_frame([row])
    assert tuple(frame.columns) == COLUMNS
    assert all(("_mJ" in c or "_ms" in c or "_W" in c or "_uJs" in c or "_nJ" in c
                or "_us" in c or "_pct" in c or "_s" in c) for c in COLUMNS
               if frame[c].dtype == float and c not in ("sop_per_sample",
                                                        "input_events_per_sample",
                                                        "hidden_spikes_per_sample",
                                                        # counts and fractions (no unit)
                                                        "effective_sop_per_sample",
                                                        "activation_sparsity",
                                                        "footprint_bytes",
                                                        "connection_sparsity"))
    with pytest.raises(ValueError, match="source"):
        ProfileRow(source="guess", hardware="x", backend="y", batch_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        ProfileRow(source="paper", hardware="x", backend="y", batch_size=0)

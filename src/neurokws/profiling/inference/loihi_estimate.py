"""Loihi 2 cost ESTIMATE from activity counts, calibrated on the paper's three Table II Loihi rows.

Model (per sample, T timesteps, SOP synaptic operations; two free parameters per quantity):

    latency_ms        = a_lat * T + b_lat * SOP
    energy_total_mJ   = a_tot * T + b_tot * SOP
    energy_dynamic_mJ = a_dyn * T + b_dyn * SOP

a_* is a fixed cost per timestep (barrier synchronisation and neuron-state updates of the
occupied cores, whose number grows with N as SOP does), b_* a cost per synaptic operation.
The calibration points are the paper's Loihi rows (N = 256, 512, 1024 on SHD, T = 1000) with
the SOP per sample behind them (`neurokws.paper.SOP_PER_TEST_SET`, docs/profiling.md). Each fit
minimises the squared RELATIVE residuals (the published values have two significant
digits, so every row carries a similar relative rounding error). Quality is reported as
leave-one-out (LOO) relative error: fit on two rows, predict the third. Other 2-parameter
forms do much worse in LOO on these rows (neuron updates + SOP: up to 190 % for latency,
because both grow with N), which is why neuron updates enter only through a_* * T.
Outside the calibrated SOP range the model extrapolates, and its rows say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from neurokws import paper
from neurokws.profiling.inference.records import ProfileRow, provenance_json, synaptic_ops
from neurokws.utils.provenance import provenance

LOIHI_HARDWARE = "Loihi 2"
QUANTITIES = ("latency_ms", "energy_total_mJ", "energy_dynamic_mJ")
METHOD = ("estimate: activity cost model calibrated on paper Table II (Loihi 2 rows, "
          "a*T + b*SOP per quantity); not a measurement")


@dataclass(frozen=True)
class CalibrationPoint:
    """One published Loihi 2 row with the SOP per sample that goes with it."""

    hidden_size: int
    n_steps: int
    sop_per_sample: float
    latency_ms: float
    energy_total_mJ: float
    energy_dynamic_mJ: float


def paper_calibration() -> list[CalibrationPoint]:
    """The paper's Loihi 2 rows (Table II) joined with their SOP per sample."""
    table = paper.table_ii()
    loihi = table[table["hardware"].str.contains("Loihi", case=False)]
    points = []
    for rec in loihi.sort_values("hidden_size").itertuples(index=False):
        n = int(rec.hidden_size)
        if n not in paper.SOP_PER_TEST_SET:
            raise ValueError(f"no published SOP count for the Loihi row with N={n}")
        points.append(CalibrationPoint(n, paper.TABLE_II_N_STEPS,
                                       paper.SOP_PER_TEST_SET[n] / paper.TABLE_II_TEST_SAMPLES,
                                       float(rec.latency_ms), float(rec.energy_total_mJ),
                                       float(rec.energy_dynamic_mJ)))
    return points


@dataclass(frozen=True)
class LinearCost:
    """y = per_step * T + per_sop * SOP (units of y per step and per SOP)."""

    per_step: float
    per_sop: float

    def __call__(self, n_steps: float, sop: float) -> float:
        """Predicted value for T = n_steps and `sop` operations."""
        return self.per_step * n_steps + self.per_sop * sop


def _design(points: Sequence[CalibrationPoint]) -> np.ndarray:
    """Design matrix [T, SOP] of the points."""
    return np.array([[p.n_steps, p.sop_per_sample] for p in points], np.float64)


def fit_linear(points: Sequence[CalibrationPoint], quantity: str) -> LinearCost:
    """Least squares on relative residuals: minimise sum(((a T + b SOP) - y) / y)^2."""
    if len(points) < 2:
        raise ValueError("need at least two calibration points for two parameters")
    y = np.array([getattr(p, quantity) for p in points], np.float64)
    design = _design(points) / y[:, None]
    coef, *_ = np.linalg.lstsq(design, np.ones_like(y), rcond=None)
    return LinearCost(float(coef[0]), float(coef[1]))


def leave_one_out(points: Sequence[CalibrationPoint], quantity: str) -> np.ndarray:
    """Relative error (pred - y) / y of each point predicted from a fit on the others."""
    errors = []
    for i, held in enumerate(points):
        cost = fit_linear([p for j, p in enumerate(points) if j != i], quantity)
        truth = getattr(held, quantity)
        errors.append((cost(held.n_steps, held.sop_per_sample) - truth) / truth)
    return np.array(errors)


@dataclass(frozen=True)
class LoihiCostModel:
    """The fitted model: one LinearCost per quantity, with its LOO errors and calibration."""

    costs: dict[str, LinearCost]
    loo: dict[str, np.ndarray]
    calibration: tuple[CalibrationPoint, ...] = field(repr=False)

    def predict(self, n_steps: float, sop: float) -> dict[str, float]:
        """latency_ms, energy_total_mJ, energy_dynamic_mJ for one sample."""
        return {q: self.costs[q](n_steps, sop) for q in QUANTITIES}

    def loo_max_pct(self, quantity: str) -> float:
        """Largest |LOO relative error| of a quantity, in %."""
        return float(100.0 * np.max(np.abs(self.loo[quantity])))

    def sop_range(self) -> tuple[float, float]:
        """Smallest and largest calibrated SOP per sample."""
        sops = [p.sop_per_sample for p in self.calibration]
        return min(sops), max(sops)

    def describe(self) -> str:
        """Coefficients in readable units and the LOO errors."""
        lat, tot, dyn = (self.costs[q] for q in QUANTITIES)
        return (f"latency = {lat.per_step * 1e3:.4g} us/step x T + {lat.per_sop * 1e9:.4g} "
                f"ps/SOP x SOP; total energy = {tot.per_step * 1e6:.4g} nJ/step x T + "
                f"{tot.per_sop * 1e9:.4g} pJ/SOP x SOP; dynamic energy = "
                f"{dyn.per_step * 1e6:.4g} nJ/step x T + {dyn.per_sop * 1e9:.4g} pJ/SOP x SOP; "
                "LOO max |error| on the paper's 3 Loihi rows: " + ", ".join(
                    f"{q} {self.loo_max_pct(q):.1f}%" for q in QUANTITIES))


def fit_cost_model(points: Sequence[CalibrationPoint] | None = None) -> LoihiCostModel:
    """Fit every quantity on `points` (default: the paper's Loihi rows) and compute LOO."""
    points = tuple(paper_calibration() if points is None else points)
    return LoihiCostModel({q: fit_linear(points, q) for q in QUANTITIES},
                          {q: leave_one_out(points, q) for q in QUANTITIES}, points)


def estimate_loihi(input_events: np.ndarray, hidden_spikes: np.ndarray, hidden_size: int,
                   n_classes: int, n_steps: int, *, model: str = "",
                   cost_model: LoihiCostModel | None = None,
                   provenance_extra: dict[str, Any] | None = None,
                   max_delay: int = 0) -> ProfileRow:
    """An estimate row (B = 1) from per-sample activity, e.g. the fixed-point emulator's;
    `max_delay` > 0: the model has synaptic delays (noted: the cost model has no term for
    them)."""
    cost_model = cost_model or fit_cost_model()
    events = np.asarray(input_events, np.float64)
    spikes = np.asarray(hidden_spikes, np.float64)
    if events.size == 0 or events.shape != spikes.shape:
        raise ValueError("need equal-length, non-empty per-sample input_events and hidden_spikes")
    sop = float(np.mean(synaptic_ops(events, spikes, hidden_size, n_classes)))
    pred = cost_model.predict(n_steps, sop)
    row = ProfileRow(
        source="estimate", hardware=LOIHI_HARDWARE, backend="cost-model", batch_size=1,
        device="Loihi 2 (estimated, not run)", model=model, hidden_size=hidden_size,
        n_classes=n_classes, precision="int8", n_steps=n_steps,
        samples_measured=int(events.size), n_batches=int(events.size),
        latency_batch_ms=pred["latency_ms"], energy_total_mJ=pred["energy_total_mJ"],
        energy_dynamic_mJ=pred["energy_dynamic_mJ"], method=METHOD, estimate=True,
        loo_max_err_latency_pct=cost_model.loo_max_pct("latency_ms"),
        loo_max_err_energy_total_pct=cost_model.loo_max_pct("energy_total_mJ"),
        loo_max_err_energy_dynamic_pct=cost_model.loo_max_pct("energy_dynamic_mJ"),
        provenance=provenance_json(provenance(profiler="loihi-estimate",
                                              **(provenance_extra or {}))))
    row.input_events_per_sample = float(events.mean())
    row.hidden_spikes_per_sample = float(spikes.mean())
    row.sop_per_sample = sop
    if pred["latency_ms"] > 0:
        row.power_active_W = pred["energy_total_mJ"] / pred["latency_ms"]
        row.power_idle_W = (pred["energy_total_mJ"] - pred["energy_dynamic_mJ"]) / \
            pred["latency_ms"]
        row.add_note("power columns are implied by the estimates (idle = static)")
    row.add_note(cost_model.describe())
    lo, hi = cost_model.sop_range()
    if not lo <= sop <= hi:
        row.add_note(f"extrapolated: SOP/sample {sop:.3g} outside the calibrated range "
                     f"[{lo:.3g}, {hi:.3g}]")
    if max_delay:
        row.add_note(
            f"synaptic delays up to {max_delay} steps: on Loihi 2 each synapse also holds a "
            f"delay (6 bits) and each hidden neuron a ring of {max_delay + 1} dendritic "
            "accumulators (DelayDense); the cost model was fitted on delay-free networks and "
            "adds nothing for them, so this estimate is a lower bound (unverified)")
    if n_steps != paper.TABLE_II_N_STEPS:
        row.add_note(f"T = {n_steps} differs from the calibration's T = "
                     f"{paper.TABLE_II_N_STEPS}")
    return row.derive()


def estimate_from_activity(activity: Any, hidden_size: int, n_classes: int, n_steps: int,
                           **kwargs: Any) -> ProfileRow:
    """estimate_loihi from a fixedpoint Activity (its input_events and hidden_spikes arrays)."""
    return estimate_loihi(activity.input_events, activity.hidden_spikes, hidden_size,
                          n_classes, n_steps, **kwargs)


def calibration_frame(cost_model: LoihiCostModel) -> pd.DataFrame:
    """Per calibration row: published value, in-sample fit, LOO prediction and error (%)."""
    records = []
    for i, point in enumerate(cost_model.calibration):
        for q in QUANTITIES:
            truth = getattr(point, q)
            fit = cost_model.costs[q](point.n_steps, point.sop_per_sample)
            loo = cost_model.loo[q][i]
            records.append({"hidden_size": point.hidden_size, "quantity": q,
                            "paper": truth, "fit": fit, "loo_prediction": truth * (1 + loo),
                            "loo_error_pct": 100.0 * loo,
                            "fit_error_pct": 100.0 * (fit - truth) / truth})
    return pd.DataFrame.from_records(records)

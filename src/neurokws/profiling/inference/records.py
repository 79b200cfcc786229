"""The tidy row written for every inference-cost measurement, estimate or paper reference.

One row = one (model, device, batch size). Units are in the column names. Conventions (those
of the paper's Table II): latency_batch_ms is the time to simulate one batch of B samples
(at B = 1 the per-sample latency); energies are per sample; EDP = energy_total_mJ x
latency_batch_ms, which is in uJ s (mJ x ms = 1e-6 J s). Missing values are NaN, and
`notes` says why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Protocol

import numpy as np
import pandas as pd

NAN = float("nan")
AUTO = "auto"   # a profiler's power argument: pick the device's own meter


class EventData(Protocol):
    """What the profilers need of a BinnedSplit: flat events and per-sample offsets."""

    steps: np.ndarray
    channels: np.ndarray
    offsets: np.ndarray


def precision_of(weights: Any) -> str:
    """'fp32' or 'fp64' from the dtype of a Weights' matrices."""
    return {np.dtype(np.float32): "fp32", np.dtype(np.float64): "fp64"}.get(
        np.result_type(weights.w_in, weights.w_rec, weights.w_out), "float")
SOURCES = ("measured", "estimate", "paper")
STATUSES = ("ok", "unavailable")


@dataclass
class ProfileRow:
    """One measurement (or estimate, or paper figure) of inference cost; see module docstring."""

    source: str                      # measured | estimate | paper
    hardware: str                    # table label, e.g. "Loihi 2", "CPU (AMD EPYC, 2 threads)"
    backend: str                     # numba-cpu | numba-cuda | lava-loihi | cost-model | mlGeNN
    batch_size: int
    status: str = "ok"               # ok | unavailable (then the numbers are NaN)
    device: str = ""                 # detailed device name
    model: str = ""                  # model identifier (file stem, config name)
    dataset: str = ""                # the workflow dataset the model was trained on
    paper_dataset: str = ""          # the paper's dataset it corresponds to (SHD/SSC), if any
    hidden_size: int = 0
    n_classes: int = 0
    precision: str = ""              # fp32 | fp64 | int8
    n_steps: int = 0                 # timesteps per sample (T)
    samples_measured: int = 0        # samples simulated inside the timed window (all repeats)
    n_batches: int = 0               # batches timed (all repeats)
    latency_batch_ms: float = NAN    # mean time per batch (compute only)
    latency_sample_ms: float = NAN   # latency_batch_ms / B (throughput view)
    latency_step_us: float = NAN     # latency_batch_ms / n_steps
    power_idle_W: float = NAN
    power_active_W: float = NAN
    energy_total_mJ: float = NAN     # per sample: P_active * t_compute / n_samples
    energy_dynamic_mJ: float = NAN   # per sample: (P_active - P_idle) * t_compute / n_samples
    edp_uJs: float = NAN             # energy_total_mJ * latency_batch_ms
    input_events_per_sample: float = NAN
    hidden_spikes_per_sample: float = NAN
    sop_per_sample: float = NAN      # input events x N + hidden spikes x (N + C)
    energy_per_sop_nJ: float = NAN   # energy_dynamic / SOP
    # NeuroBench-style metrics of the deployed model (deploy/metrics.py; Loihi 2 rows)
    effective_sop_per_sample: float = NAN   # SOPs of non-zero weights only (effective ACs)
    activation_sparsity: float = NAN        # 1 - spikes / (neurons x steps)
    footprint_bytes: float = NAN            # weights at the deployed bit width
    connection_sparsity: float = NAN        # zero weights / weights
    power_source: str = ""           # what the power numbers come from
    power_samples: int = 0           # power readings taken (all windows)
    idle_s: float = NAN              # length of each idle window (before and after)
    active_s: float = NAN            # length of the active (timed) window
    method: str = ""                 # how the numbers were obtained (estimates say so)
    estimate: bool = False
    loo_max_err_latency_pct: float = NAN         # estimate rows: leave-one-out max |rel. error|
    loo_max_err_energy_total_pct: float = NAN
    loo_max_err_energy_dynamic_pct: float = NAN
    notes: str = ""                  # reasons for missing values, caveats
    provenance: str = ""             # JSON provenance record

    def __post_init__(self) -> None:
        """Check the categorical fields."""
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def derive(self) -> ProfileRow:
        """Fill the derived columns (per-sample/per-step latency, EDP, energy per SOP)."""
        if math.isfinite(self.latency_batch_ms):
            self.latency_sample_ms = self.latency_batch_ms / self.batch_size
            if self.n_steps:
                self.latency_step_us = 1e3 * self.latency_batch_ms / self.n_steps
        self.edp_uJs = edp_uJs(self.energy_total_mJ, self.latency_batch_ms)
        self.energy_per_sop_nJ = energy_per_sop_nJ(self.energy_dynamic_mJ, self.sop_per_sample)
        return self

    def add_note(self, note: str) -> None:
        """Append a note (semicolon-separated)."""
        if note:
            self.notes = f"{self.notes}; {note}" if self.notes else note

    def to_dict(self) -> dict[str, Any]:
        """The columns as a dict."""
        return asdict(self)


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ProfileRow))


def edp_uJs(energy_mJ: float, latency_ms: float) -> float:
    """Energy-delay product in uJ s from energy per sample (mJ) and batch latency (ms)."""
    return float(energy_mJ) * float(latency_ms)


def energy_per_sop_nJ(energy_mJ: float, sop: float) -> float:
    """Energy per synaptic operation in nJ (NaN when SOP is unknown or zero)."""
    if not (math.isfinite(sop) and sop > 0):
        return NAN
    return float(energy_mJ) * 1e6 / float(sop)


def synaptic_ops(input_events: np.ndarray | float, hidden_spikes: np.ndarray | float,
                 n_hidden: int, n_out: int) -> np.ndarray | float:
    """SOP = input events x N + hidden spikes x (N + C) (dense layers, as in the paper)."""
    return np.asarray(input_events, np.float64) * n_hidden + \
        np.asarray(hidden_spikes, np.float64) * (n_hidden + n_out)


def fill_activity(row: ProfileRow, input_events: np.ndarray, hidden_spikes: np.ndarray) -> None:
    """Set the per-sample activity columns (means over samples) and the SOP of `row`."""
    events = np.asarray(input_events, np.float64)
    spikes = np.asarray(hidden_spikes, np.float64)
    if events.size == 0:
        return
    row.input_events_per_sample = float(events.mean())
    row.hidden_spikes_per_sample = float(spikes.mean())
    row.sop_per_sample = float(np.mean(synaptic_ops(events, spikes, row.hidden_size,
                                                    row.n_classes)))


def unavailable_rows(hardware: str, backend: str, reason: str, config: Any,
                     batch_sizes: Sequence[int], precision: str = "fp32",
                     model: str = "") -> list[ProfileRow]:
    """Rows saying that a device could not be profiled, and why."""
    return [ProfileRow(source="measured", status="unavailable", hardware=hardware,
                       backend=backend, batch_size=int(b), model=model,
                       hidden_size=config.n_hidden, n_classes=config.n_out,
                       precision=precision, n_steps=config.n_steps, method="not measured",
                       notes=reason) for b in batch_sizes]


def provenance_json(record: dict[str, Any]) -> str:
    """A compact JSON string of a provenance record."""
    return json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))


def rows_to_frame(rows: list[ProfileRow] | pd.DataFrame) -> pd.DataFrame:
    """Rows (or an existing frame) as a DataFrame with exactly COLUMNS, in order."""
    if isinstance(rows, pd.DataFrame):
        frame = rows.copy()
        for name in COLUMNS:
            if name not in frame:
                frame[name] = _default(name)
        return frame[list(COLUMNS)]
    return pd.DataFrame([row.to_dict() for row in rows], columns=list(COLUMNS))


def _default(name: str) -> Any:
    """The default value of a column (for frames missing it)."""
    spec = {f.name: f for f in fields(ProfileRow)}[name]
    return NAN if spec.default is MISSING else spec.default

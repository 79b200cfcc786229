"""Energy arithmetic: integrate power, unwrap energy counters, window means, per-sample energy.

Every trace is turned into cumulative energy E(t) (J) at its reading times: power readings
(W) by the trapezoid rule, counter readings (J) by unwrapping. The energy in [t0, t1] is then
E(t1) - E(t0) with E linearly interpolated, and a window's mean power is its energy over its
duration, so windows need not line up with readings. Per-sample energies follow the paper
(docs/profiling.md#energy): total = P_active * t_compute / n, dynamic = (P_active - P_idle)
* t_compute / n.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

POWER, ENERGY = "power", "energy"
IDLE_WINDOWS = (("idle_before_start", "idle_before_end"), ("idle_after_start", "idle_after_end"))
ACTIVE_WINDOW = ("active_start", "active_end")


def trapezoid_energy(times: Sequence[float], power: Sequence[float]) -> float:
    """Energy (J) of power readings (W) at times (s), trapezoid rule."""
    t = np.asarray(times, np.float64)
    p = np.asarray(power, np.float64)
    if t.size < 2:
        return 0.0
    return float(np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(t)))


def unwrap_counter(readings: Sequence[float], wrap: float | None) -> np.ndarray:
    """Cumulative energy since the first reading of a counter that wraps to 0 after `wrap`.

    A reading lower than its predecessor means the counter passed `wrap` once (RAPL's
    max_energy_range_uj); readings must be taken more often than one wrap period.
    """
    raw = np.asarray(readings, np.float64)
    if raw.size == 0:
        return raw
    delta = np.diff(raw)
    if wrap is not None:
        delta = np.where(delta < 0, delta + float(wrap), delta)
    elif np.any(delta < 0):
        raise ValueError("energy counter went backwards and no wrap range is known")
    return np.concatenate([[0.0], np.cumsum(delta)])


def cumulative_energy(times: Sequence[float], values: Sequence[float], kind: str,
                      wrap: float | None = None) -> np.ndarray:
    """E(t) in J at each reading: integrated power (kind 'power') or unwrapped counter."""
    if kind == POWER:
        t = np.asarray(times, np.float64)
        p = np.asarray(values, np.float64)
        if t.size == 0:
            return t
        steps = 0.5 * (p[1:] + p[:-1]) * np.diff(t)
        return np.concatenate([[0.0], np.cumsum(steps)])
    if kind == ENERGY:
        return unwrap_counter(values, wrap)
    raise ValueError(f"kind must be {POWER!r} or {ENERGY!r}, got {kind!r}")


def energy_between(times: np.ndarray, cum: np.ndarray, t0: float, t1: float) -> float:
    """Energy (J) in [t0, t1] from cumulative energy `cum` at `times` (linear interpolation)."""
    if t1 < t0:
        raise ValueError(f"window ends before it starts ({t0} > {t1})")
    if times.size < 2 or t0 < times[0] or t1 > times[-1]:
        raise ValueError(f"window [{t0}, {t1}] is not covered by the readings")
    return float(np.interp(t1, times, cum) - np.interp(t0, times, cum))


@dataclass
class PowerTrace:
    """Readings of one power source: times (s), values (W or J), kind, marks (label -> s)."""

    times: np.ndarray
    values: np.ndarray
    kind: str
    wrap: float | None = None
    marks: dict[str, float] = field(default_factory=dict)
    source: str = ""
    error: str = ""

    def cumulative(self) -> np.ndarray:
        """E(t) at each reading (J)."""
        return cumulative_energy(self.times, self.values, self.kind, self.wrap)

    def mean_power(self, windows: Sequence[tuple[float, float]]) -> float:
        """Mean power (W) over the union of disjoint windows: their energy / their length."""
        cum = self.cumulative()
        energy = sum(energy_between(self.times, cum, a, b) for a, b in windows)
        length = sum(b - a for a, b in windows)
        return energy / length if length > 0 else math.nan

    def window(self, start: str, end: str) -> tuple[float, float]:
        """The (start, end) times of two marks."""
        return self.marks[start], self.marks[end]

    def rate_hz(self) -> float:
        """Mean reading rate over the trace."""
        if self.times.size < 2:
            return 0.0
        return (self.times.size - 1) / float(self.times[-1] - self.times[0])


@dataclass(frozen=True)
class PowerSummary:
    """Idle and active mean power of a measured run, with what they came from."""

    power_idle_W: float
    power_active_W: float
    idle_s: float
    active_s: float
    n_readings: int
    source: str
    reason: str = ""  # why a value is NaN

    @classmethod
    def missing(cls, reason: str, active_s: float = math.nan) -> PowerSummary:
        """A summary without power numbers, recording why."""
        return cls(math.nan, math.nan, math.nan, active_s, 0, "", reason)


def summarize(trace: PowerTrace) -> PowerSummary:
    """P_idle over both idle windows (whichever exist) and P_active over the active window."""
    if trace.error:
        active = _duration(trace, *ACTIVE_WINDOW)
        return PowerSummary.missing(f"power readings failed: {trace.error}", active)
    idle = [trace.window(a, b) for a, b in IDLE_WINDOWS if a in trace.marks and b in trace.marks]
    active = trace.window(*ACTIVE_WINDOW)
    idle_len = [b - a for a, b in idle]
    p_idle = trace.mean_power(idle) if idle and sum(idle_len) > 0 else math.nan
    reason = "" if math.isfinite(p_idle) else "no idle window"
    return PowerSummary(p_idle, trace.mean_power([active]),
                        float(np.mean(idle_len)) if idle_len else math.nan,
                        active[1] - active[0], int(trace.times.size), trace.source, reason)


def _duration(trace: PowerTrace, start: str, end: str) -> float:
    """Time between two marks, NaN if either is missing."""
    if start in trace.marks and end in trace.marks:
        return trace.marks[end] - trace.marks[start]
    return math.nan


def per_sample_energy_mJ(power_active_W: float, power_idle_W: float, compute_s: float,
                         n_samples: int) -> tuple[float, float]:
    """(total, dynamic) energy per sample in mJ, the paper's way (docs/profiling.md#energy)."""
    if n_samples <= 0:
        raise ValueError("n_samples must be positive")
    total = power_active_W * compute_s / n_samples * 1e3
    dynamic = (power_active_W - power_idle_W) * compute_s / n_samples * 1e3
    return float(total), float(dynamic)

"""Measurement protocol of the CPU and GPU profilers: idle/active/idle windows, timed batches.

The paper measured P_idle in idle windows before and after the run and P_sim during it, and
timed only the simulation (docs/profiling.md). Here `measure_windows` brackets any callable with
idle windows while a PowerSampler runs, and `timed_passes` runs the batches (repeating the
whole pass until the active window is long enough for the power meter) summing each batch's
own compute time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from neurokws.profiling.energy import PowerSummary, per_sample_energy_mJ, summarize
from neurokws.profiling.inference.records import ProfileRow, fill_activity
from neurokws.profiling.power import PowerSampler, PowerSource

R = TypeVar("R")


@dataclass
class TimedPasses:
    """Compute time of all timed batches, how many, and the first pass's per-batch outputs."""

    compute_s: float
    n_batches: int
    n_samples: int
    repeats: int
    outputs: list[Any] = field(default_factory=list)


def make_batches(n_samples: int, batch_size: int) -> list[np.ndarray]:
    """Consecutive sample indices in ceil(n / B) batches (the last may be short), as the paper."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    idx = np.arange(n_samples, dtype=np.int64)
    return [idx[i:i + batch_size] for i in range(0, n_samples, batch_size)]


def timed_passes(run_batch: Callable[[np.ndarray], tuple[float, Any]],
                 batches: Sequence[np.ndarray], min_active_s: float = 0.0,
                 max_repeats: int = 1000,
                 clock: Callable[[], float] = time.perf_counter) -> TimedPasses:
    """Run every batch (run_batch returns (seconds, output)); repeat passes until min_active_s."""
    if not batches:
        raise ValueError("no batches to run")
    start = clock()
    compute, repeats, n_batches, n_samples, outputs = 0.0, 0, 0, 0, []
    while True:
        for batch in batches:
            seconds, out = run_batch(batch)
            compute += seconds
            n_batches += 1
            n_samples += len(batch)
            if repeats == 0:
                outputs.append(out)
        repeats += 1
        if repeats >= max_repeats or clock() - start >= min_active_s:
            break
    return TimedPasses(compute, n_batches, n_samples, repeats, outputs)


def measure_windows(run: Callable[[], R], source: PowerSource | None, idle_s: float,
                    rate_hz: float = 20.0, reason: str = "",
                    sleep: Callable[[float], None] = time.sleep) -> tuple[R, PowerSummary]:
    """Run `run` between two idle windows of idle_s while sampling `source` (None: no power)."""
    if source is None:
        start = time.perf_counter()
        result = run()
        return result, PowerSummary.missing(reason or "no power source",
                                            time.perf_counter() - start)
    sampler = PowerSampler(source, rate_hz).start()
    try:
        if idle_s > 0:
            sampler.mark("idle_before_start")
            sleep(idle_s)
            sampler.mark("idle_before_end")
        sampler.mark("active_start")
        result = run()
        sampler.mark("active_end")
        if idle_s > 0:
            sampler.mark("idle_after_start")
            sleep(idle_s)
            sampler.mark("idle_after_end")
    finally:
        trace = sampler.stop()
    return result, summarize(trace)


def fill_measurement(row: ProfileRow, passes: TimedPasses, power: PowerSummary,
                     input_events: np.ndarray, hidden_spikes: np.ndarray) -> ProfileRow:
    """Fill latency, power, energy and activity columns of `row` from one measurement."""
    row.samples_measured = passes.n_samples
    row.n_batches = passes.n_batches
    row.latency_batch_ms = 1e3 * passes.compute_s / passes.n_batches
    row.power_idle_W = power.power_idle_W
    row.power_active_W = power.power_active_W
    row.power_source = power.source
    row.power_samples = power.n_readings
    row.idle_s = power.idle_s
    row.active_s = power.active_s
    if math.isfinite(power.power_active_W):
        total, dynamic = per_sample_energy_mJ(power.power_active_W, power.power_idle_W,
                                              passes.compute_s, passes.n_samples)
        row.energy_total_mJ = total
        row.energy_dynamic_mJ = dynamic
    if power.reason:
        row.add_note(power.reason)
    if passes.repeats > 1:
        row.add_note(f"{passes.repeats} passes over the samples to fill the active window")
    fill_activity(row, input_events, hidden_spikes)
    return row.derive()

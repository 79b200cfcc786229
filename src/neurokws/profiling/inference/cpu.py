"""CPU profile of the float inference engine: latency from perf_counter_ns, energy from RAPL.

Per batch size B: one untimed warm-up call (numba compilation, caches), then every batch of
the samples is timed around `engine.infer` alone (data already in memory), and the whole
pass is repeated until the active window lasts `min_active_s`. Energy comes from the RAPL
package counters when readable; otherwise the energy columns stay NaN and `notes` says why.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numba
import numpy as np

from neurokws.model.engine import infer
from neurokws.model.network import Delays, NetworkConfig, Weights
from neurokws.profiling.errors import PowerUnavailableError
from neurokws.profiling.inference.measure import (
    fill_measurement,
    make_batches,
    measure_windows,
    timed_passes,
)
from neurokws.profiling.inference.records import (
    AUTO,
    EventData,
    ProfileRow,
    precision_of,
    provenance_json,
)
from neurokws.profiling.power import PowerSource
from neurokws.profiling.sources import POWERCAP_ROOT, rapl_source
from neurokws.utils.provenance import provenance


def cpu_name() -> str:
    """The CPU model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def resolve_cpu_power(power: PowerSource | str | None,
                      root: str | Path = POWERCAP_ROOT) -> tuple[PowerSource | None, str]:
    """(source, reason): 'auto' tries RAPL under `root`; None disables power; a source is used."""
    if power is None:
        return None, "power measurement disabled"
    if isinstance(power, str):
        if power != AUTO:
            raise ValueError(f"power must be 'auto', None or a PowerSource, got {power!r}")
        try:
            return rapl_source(root), ""
        except PowerUnavailableError as exc:
            return None, exc.reason
    return power, ""


class _Threads:
    """Context manager: temporarily set numba's thread count (None: leave it)."""

    def __init__(self, threads: int | None) -> None:
        self.threads, self.previous = threads, numba.get_num_threads()

    def __enter__(self) -> int:
        if self.threads is not None:
            numba.set_num_threads(max(1, min(self.threads, numba.config.NUMBA_NUM_THREADS)))
        return numba.get_num_threads()

    def __exit__(self, *exc: object) -> None:
        numba.set_num_threads(self.previous)


def profile_cpu(config: NetworkConfig, weights: Weights, data: EventData,
                batch_sizes: Sequence[int], *, idle_s: float, rate_hz: float,
                min_active_s: float, model: str = "",
                power: PowerSource | str | None = AUTO, max_repeats: int = 1000,
                max_samples: int | None = None, threads: int | None = None,
                powercap_root: str | Path = POWERCAP_ROOT,
                provenance_extra: dict[str, Any] | None = None,
                delays: Delays | None = None) -> list[ProfileRow]:
    """One measured row per batch size for the float engine on this CPU (see module doc);
    a model with synaptic delays passes its integer `delays`."""
    n_total = len(data.offsets) - 1
    n_samples = n_total if max_samples is None else min(n_total, int(max_samples))
    if n_samples < 1:
        raise ValueError("no samples to profile")
    source, reason = resolve_cpu_power(power, powercap_root)
    prov = provenance_json(provenance(seed=None, profiler="cpu", **(provenance_extra or {})))
    events = np.diff(np.asarray(data.offsets, np.int64))[:n_samples]
    rows = []
    try:
        with _Threads(threads) as n_threads:
            for batch_size in batch_sizes:
                rows.append(_profile_one(config, weights, data, int(batch_size), n_samples,
                                         events, source, reason, idle_s, rate_hz,
                                         min_active_s, max_repeats, model, n_threads, prov,
                                         delays))
    finally:
        if source is not None and isinstance(power, str):
            source.close()
    return rows


def _profile_one(config: NetworkConfig, weights: Weights, data: EventData, batch_size: int,
                 n_samples: int, events: np.ndarray, source: PowerSource | None, reason: str,
                 idle_s: float, rate_hz: float, min_active_s: float, max_repeats: int,
                 model: str, n_threads: int, prov: str,
                 delays: Delays | None = None) -> ProfileRow:
    """Warm up, then measure one batch size."""
    batches = make_batches(n_samples, batch_size)

    def run_batch(batch: np.ndarray) -> tuple[float, np.ndarray]:
        start = time.perf_counter_ns()
        _, counts = infer(config, weights, data.steps, data.channels, data.offsets, batch,
                          batch_size=batch_size, delays=delays)
        return (time.perf_counter_ns() - start) * 1e-9, counts.sum(axis=1)

    run_batch(batches[0])  # warm-up: numba compilation and caches, not timed
    passes, summary = measure_windows(
        lambda: timed_passes(run_batch, batches, min_active_s, max_repeats),
        source, idle_s, rate_hz, reason)
    name = cpu_name()
    row = ProfileRow(source="measured", hardware=f"CPU ({name}, {n_threads} threads)",
                     backend="numba-cpu" + ("" if delays is None else
                                            f" (delays <= {delays.max_delay} steps)"),
                     batch_size=batch_size,
                     device=f"{name} [{platform.machine()}, {os.cpu_count()} CPUs, "
                            f"numba {n_threads} threads]",
                     model=model, hidden_size=config.n_hidden, n_classes=config.n_out,
                     precision=precision_of(weights), n_steps=config.n_steps,
                     method="measured: engine.infer timed with perf_counter_ns per batch "
                            "(warm-up excluded); power from the sampled source, paper's "
                            "idle/active windows",
                     provenance=prov)
    spikes = np.concatenate(passes.outputs)
    return fill_measurement(row, passes, summary, events[:spikes.size], spikes)

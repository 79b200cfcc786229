"""Entry points for the workflow: options from the config, all devices of one model, row files.

A device that cannot be profiled here (no GPU, no Loihi hardware) yields one row per batch
size with status 'unavailable' and the reason in `notes`, so the tables show what was
skipped and why instead of silently dropping it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from neurokws.model.network import NetworkConfig, Weights
from neurokws.profiling.cpu import EventData, profile_cpu
from neurokws.profiling.errors import ProfilingUnavailableError
from neurokws.profiling.loihi_estimate import LOIHI_HARDWARE, estimate_loihi
from neurokws.profiling.measure import DEFAULT_BATCH_SIZES
from neurokws.profiling.records import ProfileRow, rows_to_frame
from neurokws.utils.atomic import write_csv
from neurokws.utils.errors import ConfigError

DEVICES = ("cpu", "gpu", "loihi_hw", "loihi_estimate")


@dataclass(frozen=True)
class ProfileOptions:
    """Profiling settings (config section `profiling`); defaults are CI-sized."""

    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    devices: tuple[str, ...] = ("cpu", "gpu", "loihi_hw", "loihi_estimate")
    idle_s: float = 1.0           # each idle window (paper: 10 s)
    rate_hz: float = 20.0         # power sampling rate (>= 10)
    min_active_s: float = 2.0     # repeat passes until the active window is this long
    max_samples: int | None = None
    loihi_repeats: int = 200      # replays of one sample on Loihi 2 hardware

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ProfileOptions:
        """Parse and check a config mapping (unknown keys are an error)."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"profiling: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        for key in ("batch_sizes", "devices"):
            if key in data:
                data[key] = tuple(data[key])
        options = cls(**data)
        if not options.batch_sizes or any(int(b) < 1 for b in options.batch_sizes):
            raise ConfigError(f"profiling.batch_sizes must be positive, got {options.batch_sizes}")
        bad = set(options.devices) - set(DEVICES)
        if bad:
            raise ConfigError(f"profiling.devices: unknown {sorted(bad)} (choose from {DEVICES})")
        if options.rate_hz < 10 or options.idle_s < 0 or options.min_active_s < 0:
            raise ConfigError("profiling: need rate_hz >= 10, idle_s >= 0, min_active_s >= 0")
        return options


def unavailable_rows(hardware: str, backend: str, reason: str, config: NetworkConfig,
                     batch_sizes: Sequence[int], precision: str = "fp32",
                     model: str = "") -> list[ProfileRow]:
    """Rows saying that a device could not be profiled, and why."""
    return [ProfileRow(source="measured", status="unavailable", hardware=hardware,
                       backend=backend, batch_size=int(b), model=model,
                       hidden_size=config.n_hidden, n_classes=config.n_out,
                       precision=precision, n_steps=config.n_steps, method="not measured",
                       notes=reason) for b in batch_sizes]


def profile_float_model(config: NetworkConfig, weights: Weights, data: EventData,
                        options: ProfileOptions, model: str = "",
                        **extra: Any) -> list[ProfileRow]:
    """CPU and (if asked) GPU rows for one float model; unavailable GPU gives reason rows."""
    common = dict(model=model, idle_s=options.idle_s, rate_hz=options.rate_hz,
                  min_active_s=options.min_active_s, max_samples=options.max_samples,
                  provenance_extra=extra or None)
    rows: list[ProfileRow] = []
    if "cpu" in options.devices:
        rows += profile_cpu(config, weights, data, options.batch_sizes, **common)
    if "gpu" in options.devices:
        try:
            from neurokws.profiling.gpu import profile_gpu
            rows += profile_gpu(config, weights, data, options.batch_sizes, **common)
        except ProfilingUnavailableError as exc:
            rows += unavailable_rows("GPU", "numba-cuda", exc.reason, config,
                                     options.batch_sizes, model=model)
    return rows


def profile_loihi(net_path: str | os.PathLike, inputs: Any, activity: Any, config: NetworkConfig,
                  options: ProfileOptions, model: str = "", **extra: Any) -> list[ProfileRow]:
    """Loihi 2 rows for one deployed model: hardware (or its reason) and the estimate."""
    rows: list[ProfileRow] = []
    if "loihi_hw" in options.devices:
        from neurokws.profiling.loihi import profile_loihi_hardware
        try:
            rows.append(profile_loihi_hardware(
                net_path, inputs, hidden_size=config.n_hidden, n_classes=config.n_out,
                repeats=options.loihi_repeats, model=model, activity=activity,
                provenance_extra=extra or None))
        except ProfilingUnavailableError as exc:
            rows += unavailable_rows(LOIHI_HARDWARE, "lava-loihi", exc.reason, config, (1,),
                                     precision="int8", model=model)
    if "loihi_estimate" in options.devices:
        rows.append(estimate_loihi(activity.input_events, activity.hidden_spikes,
                                   config.n_hidden, config.n_out, config.n_steps, model=model,
                                   provenance_extra=extra or None))
    return rows


def write_rows(path: str | os.PathLike, rows: Sequence[ProfileRow]) -> None:
    """Atomically write rows as a tidy CSV (columns: records.COLUMNS)."""
    write_csv(path, rows_to_frame(list(rows)))

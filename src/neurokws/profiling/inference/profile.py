"""Which profiler serves which device, and the entry point the workflow calls.

`PROFILERS` maps each device of the config's `profiling.devices` to the function that
measures one deployed model on it at one batch size:

- cpu: the float engine on this CPU (cpu.py; RAPL energy when readable);
- gpu: our CUDA kernel on an NVIDIA GPU or Jetson (gpu.py; NVML / jtop power);
- loihi: Loihi 2 hardware through lava-loihi (loihi.py) and the labelled activity-based
  estimate (loihi_estimate.py), from the fixed-point emulator's activity;
- mlgenn: GeNN's kernel timers, the paper's latency method (mlgenn_timers.py).

A device that cannot be profiled here (no GPU, no Loihi hardware, no GeNN) yields one row
per batch size with status 'unavailable' and the reason in `notes`, so the tables show what
was skipped and why instead of silently dropping it. Method: docs/profiling.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from neurokws.data.formats.binning import bin_events
from neurokws.data.formats.events import EventSplit
from neurokws.model.network import Delays, NetworkConfig, load_network
from neurokws.profiling.errors import ProfilingUnavailableError
from neurokws.profiling.inference.loihi_estimate import LOIHI_HARDWARE, estimate_loihi
from neurokws.profiling.inference.records import ProfileRow, rows_to_frame, unavailable_rows
from neurokws.utils.atomic import write_csv
from neurokws.utils.errors import ConfigError


@dataclass(frozen=True)
class ProfileOptions:
    """The config's `profiling` section (every key required: see config/schema.yaml)."""

    devices: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    idle_s: float
    rate_hz: float
    min_active_s: float
    max_samples: int | None
    loihi_repeats: int
    threads: int   # cores a profiling job holds (its rule's `threads`; measurements want
                   # the machine to themselves, whatever training.threads is)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileOptions:
        """From a resolved config section; names a missing or unknown key."""
        known = {f.name for f in fields(cls)}
        if set(data) != known:
            raise ConfigError(f"profiling: missing {sorted(known - set(data))}, unknown "
                              f"{sorted(set(data) - known)} (see config/schema.yaml)")
        options = cls(**{**data, "devices": tuple(data["devices"]),
                         "batch_sizes": tuple(int(b) for b in data["batch_sizes"])})
        bad = set(options.devices) - set(PROFILERS)
        if bad:
            raise ConfigError(f"profiling.devices: unknown {sorted(bad)} "
                              f"(choose from {sorted(PROFILERS)})")
        return options


@dataclass
class ProfileJob:
    """One deployed model to profile: its float model, NetX file and test samples."""

    model_path: str | os.PathLike
    net_path: str | os.PathLike
    test: EventSplit
    model_name: str = ""
    dataset: str = ""
    paper_dataset: str = ""
    extra: dict[str, Any] = field(default_factory=dict)   # provenance of the row
    _loaded: tuple | None = field(default=None, repr=False)

    def model(self) -> tuple[NetworkConfig, Any]:
        """(NetworkConfig, Weights) of the float model: trial length, dt and sizes come from
        the model file."""
        if self._loaded is None:
            net, weights, delays, _ = load_network(self.model_path)
            self._loaded = (net, weights, delays)
        return self._loaded[:2]

    def delays(self) -> Delays | None:
        """The float model's integer synaptic delays (None: it has none)."""
        self.model()
        return self._loaded[2]


def device_batch_sizes(device: str, batch_sizes: Sequence[int]) -> list[int]:
    """Batch sizes a device is profiled at (Loihi 2 runs one sample at a time)."""
    return [1] if device == "loihi" else [int(b) for b in batch_sizes]


def device_gpus(device: str) -> int:
    """GPUs a profiling job on `device` asks the cluster for."""
    if device == "mlgenn":
        from neurokws.backends import training_gpus

        return training_gpus("mlgenn")
    return int(device == "gpu")


def _window(options: ProfileOptions, job: ProfileJob) -> dict[str, Any]:
    return dict(model=job.model_name, idle_s=options.idle_s, rate_hz=options.rate_hz,
                min_active_s=options.min_active_s, max_samples=options.max_samples,
                provenance_extra=job.extra or None)


def _cpu(job: ProfileJob, batch: int, options: ProfileOptions) -> list[ProfileRow]:
    from neurokws.profiling.inference.cpu import profile_cpu

    net, weights = job.model()
    return profile_cpu(net, weights, bin_events(job.test, net.dt, net.n_steps), [batch],
                       **_window(options, job), delays=job.delays())


def _gpu(job: ProfileJob, batch: int, options: ProfileOptions) -> list[ProfileRow]:
    net, weights = job.model()
    if net.has_delays:
        return unavailable_rows("GPU", "numba-cuda", "the GPU kernels have no synaptic "
                                "delays (the CPU engine and the emulator do)", net, [batch],
                                model=job.model_name)
    try:
        from neurokws.profiling.inference.gpu import profile_gpu

        return profile_gpu(net, weights, bin_events(job.test, net.dt, net.n_steps), [batch],
                           **_window(options, job))
    except ProfilingUnavailableError as exc:
        return unavailable_rows("GPU", "numba-cuda", exc.reason, net, [batch],
                                model=job.model_name)


def _loihi(job: ProfileJob, batch: int, options: ProfileOptions) -> list[ProfileRow]:
    """Hardware row (or its reason) and the estimate, from the emulator's activity."""
    from neurokws.deploy.metrics import static_metrics, workload_metrics
    from neurokws.deploy.netx import read_netx
    from neurokws.fixedpoint.emulator import FixedPointNetwork
    from neurokws.fixedpoint.evaluation import split_inputs
    from neurokws.profiling.inference.loihi import profile_loihi_hardware

    net, _ = job.model()
    inputs = split_inputs(job.test, "aligned", net.n_steps, net.dt)
    activity = FixedPointNetwork.from_netx(job.net_path).classify(inputs).activity
    extra = job.extra or None
    try:
        rows = [profile_loihi_hardware(job.net_path, inputs, hidden_size=net.n_hidden,
                                       n_classes=net.n_out, repeats=options.loihi_repeats,
                                       model=job.model_name, activity=activity,
                                       provenance_extra=extra)]
    except ProfilingUnavailableError as exc:
        rows = unavailable_rows(LOIHI_HARDWARE, "lava-loihi", exc.reason, net, (1,),
                                precision="int8", model=job.model_name)
    rows.append(estimate_loihi(activity.input_events, activity.hidden_spikes, net.n_hidden,
                               net.n_out, net.n_steps, model=job.model_name,
                               provenance_extra=extra,
                               max_delay=0 if job.delays() is None else job.delays().max_delay))
    qmodel = read_netx(job.net_path)
    static = static_metrics(qmodel)
    workload = workload_metrics({k: float(v) / max(len(inputs), 1)
                                 for k, v in activity.totals().items()}, qmodel)
    for row in rows:   # the model's own cost metrics, on the rows of the deployed model
        row.effective_sop_per_sample = workload["effective_synaptic_ops"]
        row.activation_sparsity = workload["activation_sparsity"]
        row.footprint_bytes = float(static["footprint_bytes"])
        row.connection_sparsity = static["connection_sparsity"]
    return rows


def _mlgenn(job: ProfileJob, batch: int, options: ProfileOptions) -> list[ProfileRow]:
    from neurokws.profiling.inference.mlgenn_timers import mlgenn_kernel_rows

    net, _ = job.model()
    return mlgenn_kernel_rows(job.model_path, job.test, net, batch, model=job.model_name)


PROFILERS: dict[str, Callable[[ProfileJob, int, ProfileOptions], list[ProfileRow]]] = {
    "cpu": _cpu, "gpu": _gpu, "loihi": _loihi, "mlgenn": _mlgenn}


def profile(device: str, job: ProfileJob, batch: int, options: ProfileOptions
            ) -> list[ProfileRow]:
    """Rows for one model on one device at one batch size (at most options.max_samples
    test samples), each labelled with the job's dataset."""
    if device not in PROFILERS:
        raise ConfigError(f"unknown profiling device {device!r}; choose from {sorted(PROFILERS)}")
    if options.max_samples is not None and options.max_samples < len(job.test):
        job.test = job.test.subset(range(options.max_samples))
    rows = PROFILERS[device](job, int(batch), options)
    for row in rows:
        row.dataset, row.paper_dataset = job.dataset, job.paper_dataset
    return rows


def write_rows(path: str | os.PathLike, rows: Sequence[ProfileRow]) -> None:
    """Atomically write rows as a tidy CSV (columns: records.COLUMNS)."""
    write_csv(path, rows_to_frame(list(rows)))

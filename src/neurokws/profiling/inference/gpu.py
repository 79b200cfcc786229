"""NVIDIA GPU (and Jetson) profile: our one-launch-per-batch CUDA forward pass, NVML or jtop power.

Latency is GPU time from CUDA events around each batch's single kernel launch (the paper
timed GeNN's kernels the same way); weights and events are on the device before timing.
Power: jtop rails VDD_CPU_GPU_CV + VDD_SOC on a Jetson (when `jtop` imports), otherwise
NVML (total-energy counter, or power usage), sampled at >= 10 Hz with idle windows before
and after. Without numba-cuda, a driver or a device, GpuUnavailableError says which.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from neurokws.model.network import NetworkConfig, Weights
from neurokws.profiling.errors import GpuUnavailableError, PowerUnavailableError
from neurokws.profiling.inference.gpu_kernels import (
    MAX_THREADS,
    WARP,
    build_forward_kernel,
    launch_shape,
)
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
from neurokws.profiling.sources import JtopSource, NvmlSource
from neurokws.utils.provenance import provenance

INSTALL_HINT = "pip install 'neurokws[gpu]'"


def _cuda() -> Any:
    """Import numba.cuda as provided by numba-cuda, or raise GpuUnavailableError."""
    # numba < 0.69 still ships a deprecated built-in numba.cuda; the kernel is tested with
    # NVIDIA's numba-cuda only, which replaces it when installed.
    if importlib.util.find_spec("numba_cuda") is None:
        raise GpuUnavailableError(
            f"GPU unavailable: numba-cuda is not installed ({INSTALL_HINT})")
    from numba import cuda
    return cuda


def cuda_status() -> tuple[bool, str]:
    """(usable, reason): whether a CUDA device (or numba-cuda's simulator) can run the kernel."""
    try:
        cuda = _cuda()
    except GpuUnavailableError as exc:
        return False, exc.reason
    if simulator_active():
        return True, ""
    try:
        if cuda.is_available() and len(cuda.gpus) > 0:
            return True, ""
        len(cuda.gpus)  # raises CudaSupportError naming the driver problem
    except Exception as exc:  # CudaSupportError and friends
        detail = " ".join(str(exc).split())
        return False, f"GPU unavailable: no usable CUDA driver/device ({detail})"
    return False, "GPU unavailable: no CUDA device found"


def simulator_active() -> bool:
    """True when numba-cuda runs kernels in its CPU simulator (NUMBA_ENABLE_CUDASIM=1)."""
    from numba import config
    return bool(getattr(config, "ENABLE_CUDASIM", False))


def gpu_name() -> str:
    """Name of the current CUDA device ('CUDA simulator' under the simulator)."""
    cuda = _cuda()
    if simulator_active():
        return "CUDA simulator"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


class GpuForward:
    """The float forward pass on the GPU, one kernel launch per batch (see gpu_kernels)."""

    def __init__(self, config: NetworkConfig, weights: Weights, data: EventData,
                 max_threads: int = MAX_THREADS) -> None:
        ok, reason = cuda_status()
        if not ok:
            raise GpuUnavailableError(reason)
        cuda = self._cuda = _cuda()
        weights.check(config)
        dtype = np.result_type(weights.w_in, weights.w_rec, weights.w_out)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"weights must be float32 or float64, got {dtype}")
        self.config, self.dtype = config, np.dtype(dtype)
        self.threads, per, out_per = launch_shape(config.n_hidden, config.n_out, max_threads)
        words = math.ceil(config.n_hidden / WARP)
        self.kernel = build_forward_kernel(self.dtype.name, per, out_per, words)
        offsets = np.ascontiguousarray(data.offsets, np.int64)
        steps = np.ascontiguousarray(data.steps, np.int32)
        channels = np.ascontiguousarray(data.channels, np.int32)
        if steps.size and (channels.min() < 0 or channels.max() >= config.n_in or
                           steps.min() < 0 or np.any(np.diff(offsets) < 0)):
            raise ValueError("events out of range or offsets decreasing")
        self.n_samples = offsets.size - 1
        to_dev = cuda.to_device
        self._w = [to_dev(np.ascontiguousarray(a, self.dtype))
                   for a in (weights.w_in, weights.w_rec, weights.w_out)]
        self._events = (to_dev(steps), to_dev(channels), to_dev(offsets))
        c = config
        self._consts = tuple(self.dtype.type(v) for v in (c.alpha, c.beta,
                                                           (1.0 - c.alpha) * c.current_scale,
                                                           c.v_th))
        self._dt_over_t = float(c.dt / c.duration_ms)
        self.stream = cuda.stream()

    def _prepare(self, batch: np.ndarray) -> tuple[Any, Any, Any]:
        """Device (samples, readout, counts) for `batch`: allocations and copy, before timing."""
        cuda = self._cuda
        batch = np.ascontiguousarray(batch, np.int64)
        if batch.size and (batch.min() < 0 or batch.max() >= self.n_samples):
            raise IndexError("sample index out of range")
        n = batch.size
        samples = cuda.to_device(batch, stream=self.stream)
        readout = cuda.device_array((n, self.config.n_out), np.float64, stream=self.stream)
        counts = cuda.device_array((n, self.config.n_hidden), np.int32, stream=self.stream)
        return samples, readout, counts

    def _launch(self, samples: Any, readout: Any, counts: Any) -> None:
        """Queue the single kernel launch of a batch on self.stream."""
        self.kernel[samples.shape[0], self.threads, self.stream](
            *self._w, *self._events, samples, self.config.n_steps, *self._consts,
            self._dt_over_t, readout, counts)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Readout R (n, C) float64 and hidden spike counts (n, N) int32, like engine.infer."""
        samples, readout, counts = self._prepare(batch)
        self._launch(samples, readout, counts)
        out = readout.copy_to_host(stream=self.stream), counts.copy_to_host(stream=self.stream)
        self.stream.synchronize()
        return out

    def timed(self, batch: np.ndarray) -> tuple[float, np.ndarray]:
        """(GPU seconds from CUDA events around the launch, hidden spikes per sample)."""
        cuda = self._cuda
        samples, readout, counts = self._prepare(batch)
        self.stream.synchronize()
        if simulator_active():  # no event timing in the simulator: host wall time
            wall = time.perf_counter()
            self._launch(samples, readout, counts)
            seconds = time.perf_counter() - wall
        else:
            start, end = cuda.event(timing=True), cuda.event(timing=True)
            start.record(self.stream)
            self._launch(samples, readout, counts)
            end.record(self.stream)
            end.synchronize()
            seconds = cuda.event_elapsed_time(start, end) * 1e-3
        return seconds, counts.copy_to_host(stream=self.stream).sum(axis=1)


def infer_gpu(config: NetworkConfig, weights: Weights, steps: np.ndarray, channels: np.ndarray,
              offsets: np.ndarray, batch_idx: np.ndarray | None = None, batch_size: int = 256,
              max_threads: int = MAX_THREADS) -> tuple[np.ndarray, np.ndarray]:
    """engine.infer's contract on the GPU: readout (n, C) float64, spike counts (n, N) int32."""
    data = _Events(steps, channels, offsets)
    runner = GpuForward(config, weights, data, max_threads)
    idx = np.arange(runner.n_samples) if batch_idx is None else np.asarray(batch_idx, np.int64)
    parts = [runner.run(idx[i:i + batch_size]) for i in range(0, idx.size, max(1, batch_size))]
    if not parts:
        return np.zeros((0, config.n_out)), np.zeros((0, config.n_hidden), np.int32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class _Events:
    """Flat event arrays as an EventData."""

    def __init__(self, steps: np.ndarray, channels: np.ndarray, offsets: np.ndarray) -> None:
        self.steps, self.channels, self.offsets = steps, channels, offsets


def is_jetson() -> bool:
    """True on an NVIDIA Jetson (device-tree model or /etc/nv_tegra_release)."""
    from pathlib import Path
    try:
        if "jetson" in Path("/proc/device-tree/model").read_text().lower():
            return True
    except OSError:
        pass
    return Path("/etc/nv_tegra_release").exists()


def resolve_gpu_power(power: PowerSource | str | None,
                      index: int = 0) -> tuple[PowerSource | None, str]:
    """(source, reason): 'auto' = jtop (Jetson, or jtop importable), else NVML; None: no power."""
    if power is None:
        return None, "power measurement disabled"
    if not isinstance(power, str):
        return power, ""
    if power != AUTO:
        raise ValueError(f"power must be 'auto', None or a PowerSource, got {power!r}")
    reasons = []
    if is_jetson() or importlib.util.find_spec("jtop") is not None:
        try:
            return JtopSource(), ""
        except PowerUnavailableError as exc:
            reasons.append(exc.reason)
    try:
        return NvmlSource(index), ""
    except PowerUnavailableError as exc:
        reasons.append(exc.reason)
    return None, "; ".join(reasons)


def profile_gpu(config: NetworkConfig, weights: Weights, data: EventData,
                batch_sizes: Sequence[int], *, idle_s: float, rate_hz: float,
                min_active_s: float, model: str = "",
                power: PowerSource | str | None = AUTO, max_repeats: int = 1000,
                max_samples: int | None = None, max_threads: int = MAX_THREADS,
                provenance_extra: dict[str, Any] | None = None) -> list[ProfileRow]:
    """One measured row per batch size on the current CUDA GPU (GpuUnavailableError if none)."""
    runner = GpuForward(config, weights, data, max_threads)
    n_samples = runner.n_samples if max_samples is None else min(runner.n_samples, max_samples)
    if n_samples < 1:
        raise ValueError("no samples to profile")
    source, reason = resolve_gpu_power(power)
    name = gpu_name()
    jetson = isinstance(source, JtopSource)
    prov = provenance_json(provenance(profiler="gpu", gpu=name, **(provenance_extra or {})))
    events = np.diff(np.asarray(data.offsets, np.int64))[:n_samples]
    rows = []
    try:
        for batch_size in batch_sizes:
            batches = make_batches(n_samples, int(batch_size))
            runner.timed(batches[0])  # warm-up: JIT compilation and module load, not timed
            passes, summary = measure_windows(
                lambda b=batches: timed_passes(runner.timed, b, min_active_s, max_repeats),
                source, idle_s, rate_hz, reason)
            row = ProfileRow(
                source="measured", hardware=f"{'Jetson' if jetson else 'GPU'} ({name})",
                backend="numba-cuda", batch_size=int(batch_size), device=name, model=model,
                hidden_size=config.n_hidden, n_classes=config.n_out,
                precision=precision_of(weights), n_steps=config.n_steps,
                method="measured: one persistent CUDA kernel per batch timed with CUDA events "
                       "(warm-up excluded); power from the sampled source, paper's idle/active "
                       "windows",
                provenance=prov)
            if simulator_active():
                row.add_note("CUDA simulator: latency is host wall time, not GPU time")
            spikes = np.concatenate(passes.outputs)
            rows.append(fill_measurement(row, passes, summary, events[:spikes.size], spikes))
    finally:
        if source is not None and isinstance(power, str):
            source.close()
    return rows

"""Errors raised when a device or power source cannot be profiled; each carries a reason string."""

from __future__ import annotations

from neurokws.utils.errors import NeurokwsError


class ProfilingUnavailableError(NeurokwsError):
    """A device, its power readings or its software stack is missing; `reason` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PowerUnavailableError(ProfilingUnavailableError):
    """No readable power/energy source (RAPL, NVML, jtop) for this device."""


class GpuUnavailableError(ProfilingUnavailableError):
    """No usable CUDA GPU (numba-cuda missing, no driver, or no device)."""


class LoihiUnavailableError(ProfilingUnavailableError):
    """Intel's Loihi 2 hardware stack (lava-loihi, lava-dl NetX, profiler) is not installed."""

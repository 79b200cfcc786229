"""Measuring: inference cost (the paper's Table II) per device, and training cost (Figure 3).

- ``profile_cpu`` (cpu.py): the float engine on this CPU; RAPL energy when readable.
- ``profile_gpu`` / ``infer_gpu`` (gpu.py, gpu_kernels.py): one CUDA launch per batch;
  NVML or jtop power. Needs the optional extra `gpu` (numba-cuda, nvidia-ml-py).
- ``profile_loihi_hardware`` (loihi.py, loihi_hw.py): Loihi 2 via Intel's lava-loihi.
- ``estimate_loihi`` / ``fit_cost_model`` (loihi_estimate.py): activity cost model
  calibrated on the paper's Loihi rows, with leave-one-out errors; rows say "estimate".
- ``PROFILERS`` / ``profile`` (profile.py): which profiler serves which device.
- ``run_benchmark`` (training_cost.py, cost_*.py): Eventprop vs Spyx BPTT training cost.
- ``ProfileRow`` / ``COLUMNS`` (records.py): the tidy row schema.

Submodules are imported on first use, so ``loihi_hw`` runs inside the Lava venv (numpy and
lava only) and importing this package does not load numba or numba-cuda.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "COLUMNS": "records", "ProfileRow": "records", "rows_to_frame": "records",
    "synaptic_ops": "records", "edp_uJs": "records", "energy_per_sop_nJ": "records",
    "unavailable_rows": "records",
    "PowerTrace": "energy", "PowerSummary": "energy", "trapezoid_energy": "energy",
    "unwrap_counter": "energy", "per_sample_energy_mJ": "energy", "summarize": "energy",
    "CallableSource": "power", "PowerSampler": "power", "PowerSource": "power",
    "RaplSource": "sources", "NvmlSource": "sources", "JtopSource": "sources",
    "rapl_source": "sources",
    "measure_windows": "measure", "timed_passes": "measure",
    "profile_cpu": "cpu", "cpu_name": "cpu",
    "GpuForward": "gpu", "cuda_status": "gpu", "infer_gpu": "gpu", "profile_gpu": "gpu",
    "loihi_status": "loihi_hw", "require_loihi": "loihi_hw",
    "profile_loihi_hardware": "loihi",
    "LoihiCostModel": "loihi_estimate", "estimate_loihi": "loihi_estimate",
    "estimate_from_activity": "loihi_estimate", "fit_cost_model": "loihi_estimate",
    "paper_calibration": "loihi_estimate",
    "PROFILERS": "profile", "ProfileJob": "profile", "ProfileOptions": "profile",
    "device_batch_sizes": "profile", "profile": "profile", "write_rows": "profile",
    "CostSettings": "training_cost", "run_benchmark": "training_cost",
    "ProfilingUnavailableError": "errors", "PowerUnavailableError": "errors",
    "GpuUnavailableError": "errors", "LoihiUnavailableError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)

"""Measuring: inference cost (the paper's Table II) per device, and training cost (Figure 3).

`inference/` (Table II):
- ``profile_cpu`` (cpu.py): the float engine on this CPU; RAPL energy when readable.
- ``profile_gpu`` / ``infer_gpu`` (gpu.py, gpu_kernels.py): one CUDA launch per batch;
  NVML or jtop power. Needs the optional extra `gpu` (numba-cuda, nvidia-ml-py).
- ``profile_loihi_hardware`` (loihi.py, loihi_hw.py): Loihi 2 via Intel's lava-loihi.
- ``estimate_loihi`` / ``fit_cost_model`` (loihi_estimate.py): activity cost model
  calibrated on the paper's Loihi rows, with leave-one-out errors; rows say "estimate".
- ``PROFILERS`` / ``profile`` (profile.py): which profiler serves which device.
- ``ProfileRow`` / ``COLUMNS`` (records.py): the tidy row schema.

`training/` (Figure 3):
- ``run_benchmark`` (training_cost.py, cost_*.py): Eventprop vs Spyx BPTT training cost.

Here, shared by both: power sampling (power.py), the RAPL/NVML/jtop sources (sources.py),
energy from power traces (energy.py) and the errors (errors.py).

Submodules are imported on first use, so ``inference.loihi_hw`` runs inside the Lava venv
(numpy and lava only) and importing this package does not load numba or numba-cuda.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "COLUMNS": "inference.records", "ProfileRow": "inference.records",
    "rows_to_frame": "inference.records", "synaptic_ops": "inference.records",
    "edp_uJs": "inference.records", "energy_per_sop_nJ": "inference.records",
    "unavailable_rows": "inference.records",
    "PowerTrace": "energy", "PowerSummary": "energy", "trapezoid_energy": "energy",
    "unwrap_counter": "energy", "per_sample_energy_mJ": "energy", "summarize": "energy",
    "CallableSource": "power", "PowerSampler": "power", "PowerSource": "power",
    "RaplSource": "sources", "NvmlSource": "sources", "JtopSource": "sources",
    "rapl_source": "sources",
    "measure_windows": "inference.measure", "timed_passes": "inference.measure",
    "profile_cpu": "inference.cpu", "cpu_name": "inference.cpu",
    "GpuForward": "inference.gpu", "cuda_status": "inference.gpu",
    "infer_gpu": "inference.gpu", "profile_gpu": "inference.gpu",
    "loihi_status": "inference.loihi_hw", "require_loihi": "inference.loihi_hw",
    "profile_loihi_hardware": "inference.loihi",
    "LoihiCostModel": "inference.loihi_estimate", "estimate_loihi": "inference.loihi_estimate",
    "estimate_from_activity": "inference.loihi_estimate",
    "fit_cost_model": "inference.loihi_estimate", "paper_calibration": "inference.loihi_estimate",
    "PROFILERS": "inference.profile", "ProfileJob": "inference.profile",
    "ProfileOptions": "inference.profile", "device_batch_sizes": "inference.profile",
    "profile": "inference.profile", "write_rows": "inference.profile",
    "CostSettings": "training.training_cost", "run_benchmark": "training.training_cost",
    "ProfilingUnavailableError": "errors", "PowerUnavailableError": "errors",
    "GpuUnavailableError": "errors", "LoihiUnavailableError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)

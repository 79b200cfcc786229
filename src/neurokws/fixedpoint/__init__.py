"""Fixed-point (Loihi 2 / Lava "fixed_pt") evaluation: a bit-exact numba emulator and a Lava runner.

- ``FixedPointNetwork`` (emulator.py): Lava's integer semantics for our NetX network, fast.
- ``build_inputs(mode, times_us, units, offsets, T)`` (inputs.py): "aligned" or "paper" input.
- ``run_lava`` (lava_bridge.py): run the real Lava simulation in the "lava" side environment
  (``neurokws.utils.sidecar``).
- ``lava_runner`` runs inside .venv-lava; it imports numpy, h5py and lava only, which is why
  this package imports its submodules lazily (no numba at package import).
Semantics reproduced bit-exactly: docs/fixedpoint.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Activity": "emulator", "Classification": "emulator", "FixedPointNetwork": "emulator",
    "RunResult": "emulator", "stream_bounds": "emulator",
    "INPUT_MODES": "inputs", "StepInputs": "inputs", "aligned_from_events": "inputs",
    "aligned_inputs": "inputs", "build_inputs": "inputs", "paper_inputs": "inputs",
    "NeuronParams": "netx_file", "read_netx_raw": "netx_file",
    "predict": "readout", "readout_scores": "readout",
    "LavaJob": "lava_bridge", "run_lava": "lava_bridge", "run_lava_jobs": "lava_bridge",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)

"""Loihi 2 rows: a hardware measurement when lava-loihi is present, else a clear reason.

The hardware run (loihi_hw.run_on_loihi) executes in this interpreter when it has the
stack, otherwise in the Lava side environment (`neurokws.utils.sidecar`, env "lava") when
that one has it. The estimate path lives in loihi_estimate.py; the method in
docs/profiling.md#loihi-2-hardware.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from neurokws.profiling.errors import LoihiUnavailableError
from neurokws.profiling.inference.loihi_estimate import LOIHI_HARDWARE
from neurokws.profiling.inference.loihi_hw import (
    loihi_status,
    per_sample_cost,
    run_on_loihi,
    unavailable_reason,
)
from neurokws.profiling.inference.records import ProfileRow, provenance_json
from neurokws.utils.provenance import provenance
from neurokws.utils.sidecar import SidecarUnavailableError, run_module, side_env

METHOD = ("measured: Loihi 2 hardware (Loihi2HwCfg), one sample replayed from a CyclicBuffer "
          "(IO-unconstrained), lava-loihi loihi2_profiler power and execution time")
HW_MODULE = "neurokws.profiling.inference.loihi_hw"


def hardware_location() -> str | None:
    """Where the hardware stack is: None (this interpreter) or "lava" (the Lava side env);
    LoihiUnavailableError saying what is missing where."""
    ok, here = loihi_status()
    if ok:
        return None
    try:
        missing = run_module("lava", HW_MODULE, {"op": "status"}, timeout=300).data["missing"]
    except SidecarUnavailableError as exc:
        raise LoihiUnavailableError(f"{here} (and {exc})") from exc
    if missing:
        raise LoihiUnavailableError(
            f"{here}; {unavailable_reason(missing, str(side_env('lava').path))}")
    return "lava"


def profile_loihi_hardware(net_path: str | os.PathLike, inputs: Any, *, hidden_size: int,
                           n_classes: int, repeats: int, sample: int = 0,
                           partition: str | None = None, model: str = "",
                           activity: Any | None = None,
                           provenance_extra: dict[str, Any] | None = None) -> ProfileRow:
    """One measured Loihi 2 row (B = 1) for the NetX file; LoihiUnavailableError without HW."""
    if hardware_location() is None:
        raw = run_on_loihi(net_path, inputs.dense(sample), repeats, inputs.message_bits,
                           partition)
    else:
        raw = run_module("lava", HW_MODULE, {
            "op": "run", "net": os.fspath(net_path), "repeats": int(repeats),
            "message_bits": int(inputs.message_bits), "partition": partition},
            {"sample": np.asarray(inputs.dense(sample), np.int32)}).data
    cost = per_sample_cost(raw)
    row = ProfileRow(
        source="measured", hardware=LOIHI_HARDWARE, backend="lava-loihi", batch_size=1,
        device="Loihi 2 (Lava Loihi2HwCfg)", model=model, hidden_size=hidden_size,
        n_classes=n_classes, precision="int8", n_steps=int(raw["n_steps"]),
        samples_measured=int(raw["repeats"]), n_batches=int(raw["repeats"]),
        latency_batch_ms=cost["latency_ms"], power_idle_W=cost["power_idle_W"],
        power_active_W=cost["power_active_W"], energy_total_mJ=cost["energy_total_mJ"],
        energy_dynamic_mJ=cost["energy_dynamic_mJ"],
        power_source="lava-loihi loihi2_profiler (total, static)", method=METHOD,
        provenance=provenance_json(provenance(profiler="loihi-hw", net=str(net_path),
                                              sample=sample, **(provenance_extra or {}))))
    row.add_note(f"sample {sample} replayed {raw['repeats']} times")
    if activity is not None:
        i = slice(sample, sample + 1)
        row.input_events_per_sample = float(np.asarray(activity.input_events)[i].mean())
        row.hidden_spikes_per_sample = float(np.asarray(activity.hidden_spikes)[i].mean())
        row.sop_per_sample = float(np.asarray(activity.synaptic_ops)[i].mean())
    return row.derive()

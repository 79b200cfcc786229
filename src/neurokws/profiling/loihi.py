"""Loihi 2 rows: a hardware measurement when lava-loihi is present, else a clear reason.

The hardware run (loihi_hw.run_on_loihi) executes in this interpreter when it has the
stack, otherwise in the Lava venv (`fixedpoint.lava_bridge.lava_venv()`) when that one has
it. The estimate path lives in loihi_estimate.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.profiling.errors import LoihiUnavailableError
from neurokws.profiling.loihi_estimate import LOIHI_HARDWARE
from neurokws.profiling.loihi_hw import loihi_status, per_sample_cost, run_on_loihi
from neurokws.profiling.records import ProfileRow, provenance_json
from neurokws.utils.provenance import provenance

METHOD = ("measured: Loihi 2 hardware (Loihi2HwCfg), one sample replayed from a CyclicBuffer "
          "(IO-unconstrained), lava-loihi loihi2_profiler power and execution time")


def _lava_python() -> Path | None:
    """The Lava venv's interpreter if it exists (no completeness check)."""
    from neurokws.fixedpoint.lava_bridge import lava_venv
    python = lava_venv() / "bin" / "python"
    return python if python.exists() else None


def hardware_interpreter(python: str | os.PathLike | None = None) -> str | None:
    """Where to run: None (this interpreter) or a path; LoihiUnavailableError if nowhere."""
    if python is not None:
        ok, reason = loihi_status(python)
        if not ok:
            raise LoihiUnavailableError(reason)
        return str(python)
    ok, here = loihi_status()
    if ok:
        return None
    venv = _lava_python()
    if venv is None:
        raise LoihiUnavailableError(here + " (and no Lava venv found)")
    ok, there = loihi_status(venv)
    if ok:
        return str(venv)
    raise LoihiUnavailableError(f"{here}; {there}")


def _run_elsewhere(python: str, net_path: str | os.PathLike, inputs: Any, sample: int,
                   repeats: int, partition: str | None) -> dict[str, Any]:
    """Run loihi_hw's CLI in `python` on one sample of `inputs` (a StepInputs)."""
    src = str(Path(__file__).resolve().parents[2])
    with tempfile.TemporaryDirectory(prefix="neurokws-loihi-") as tmp:
        npz, out = Path(tmp) / "inputs.npz", Path(tmp) / "result.json"
        np.savez(npz, **inputs.select(np.array([sample])).arrays())
        cmd = [python, "-m", "neurokws.profiling.loihi_hw", "--net", str(net_path),
               "--inputs", str(npz), "--sample", "0", "--repeats", str(repeats),
               "--out", str(out)]
        if partition:
            cmd += ["--partition", partition]
        env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"Loihi 2 run failed in {python}:\n{done.stderr[-4000:]}")
        return json.loads(out.read_text())


def profile_loihi_hardware(net_path: str | os.PathLike, inputs: Any, *, hidden_size: int,
                           n_classes: int, sample: int = 0, repeats: int = 200,
                           python: str | os.PathLike | None = None,
                           partition: str | None = None, model: str = "",
                           activity: Any | None = None,
                           provenance_extra: dict[str, Any] | None = None) -> ProfileRow:
    """One measured Loihi 2 row (B = 1) for the NetX file; LoihiUnavailableError without HW."""
    where = hardware_interpreter(python)
    if where is None:
        raw = run_on_loihi(net_path, inputs.dense(sample), repeats, inputs.message_bits,
                           partition)
    else:
        raw = _run_elsewhere(where, net_path, inputs, sample, repeats, partition)
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

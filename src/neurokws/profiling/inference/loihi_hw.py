"""Loihi 2 HARDWARE measurement through Intel's lava-loihi stack (Intel NRC members only).

Follows the public Lava pattern for hardware runs (lava-dl's PilotNet benchmark and the
SHD-on-Loihi 2 scripts): the NetX network runs under ``Loihi2HwCfg``; one sample sits in
on-chip memory in a ``CyclicBuffer`` and is replayed `repeats` times (the paper's
"IO-unconstrained mode"); netx's ``reset_interval = T`` resets u/v between replays;
``loihi2_profiler.Loihi2Power`` and ``Loihi2ExecutionTime`` are attached as run-config
callbacks, and a ``StateProbe`` on the output v checks the prediction. Reported per sample:
latency = mean time per step x T, total energy = mean total power x latency, dynamic energy
= (total - static power) x latency.

This module imports only numpy and (lazily) lava, so it also runs inside the Lava venv
through `neurokws.utils.sidecar` (`sidecar_main`: op "status" or "run"; see
profiling/inference/loihi.py). None of this can run without the hardware stack;
`require_loihi` names what is missing. Method: docs/profiling.md#loihi-2-hardware.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from neurokws.profiling.errors import LoihiUnavailableError

# module -> what provides it (lava-loihi is distributed to Intel NRC members only)
REQUIRED_MODULES: dict[str, str] = {
    "lava.magma.core.run_configs": "lava-nc",
    "lava.lib.dl.netx": "lava-dl (NetX)",
    "lava.magma.compiler.subcompilers.nc.ncproc_compiler": "lava-loihi (Loihi 2 compiler)",
    "lava.utils.loihi2_profiler": "lava-loihi (Loihi 2 power/time profiler)",
    "lava.utils.loihi2_state_probes": "lava-loihi (StateProbe)",
    "lava.proc.cyclic_buffer.process": "lava-loihi (CyclicBuffer)",
    "lava.proc.embedded_io.spike": "lava-loihi (embedded spike IO)",
}
LOIHI_GEN = "N3C1"  # Loihi 2 chip generation of the Oheo Gulch boards (Lava's env variable)


def missing_modules() -> list[str]:
    """REQUIRED_MODULES entries not importable in this interpreter, as "module [package]"."""
    missing = []
    for module, package in REQUIRED_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package is absent or broken
            found = False
        if not found:
            missing.append(f"{module} [{package}]")
    return missing


def loihi_status() -> tuple[bool, str]:
    """(available, reason) in this interpreter."""
    missing = missing_modules()
    if missing:
        return False, unavailable_reason(missing)
    return True, ""


def unavailable_reason(missing: list[str], where: str = "") -> str:
    """Why the hardware path cannot run (missing modules, and where they were looked for)."""
    return ("Loihi 2 hardware unavailable: missing " + ", ".join(missing)
            + (f" in {where}" if where else "") + "; the hardware path needs Intel's "
            "lava-loihi (INRC members) and a Loihi 2 system - use the estimate rows otherwise")


def require_loihi() -> None:
    """Raise LoihiUnavailableError naming the missing pieces of the hardware stack."""
    ok, reason = loihi_status()
    if not ok:
        raise LoihiUnavailableError(reason)


def run_on_loihi(net_path: str | os.PathLike, sample: np.ndarray, repeats: int,
                 message_bits: int = 0, partition: str | None = None) -> dict[str, Any]:
    """Replay one sample (dense (n_in, T) int array) `repeats` times on Loihi 2; raw results."""
    from neurokws.fixedpoint.netx_file import read_netx_raw

    if read_netx_raw(net_path).has_delays:
        raise LoihiUnavailableError(
            f"{net_path} has synaptic delays: this hardware path builds the network with "
            "lava-dl's netx, which cannot run recurrent delays (it gives `delay` to both "
            "synapses); running delay models on Loihi 2 needs our Lava graph "
            "(fixedpoint/lava_graph.py) on Loihi2HwCfg, not built here - see the estimate rows")
    require_loihi()
    if partition:
        os.environ.setdefault("PARTITION", partition)
    os.environ.setdefault("SLURM", "1")
    os.environ.setdefault("LOIHI_GEN", LOIHI_GEN)
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2HwCfg
    from lava.proc.cyclic_buffer.process import CyclicBuffer
    from lava.proc.dense.process import Dense
    from lava.proc.embedded_io.spike import PyToNxAdapter
    from lava.proc.io.source import RingBuffer
    from lava.utils import loihi2_profiler
    from lava.utils.loihi2_state_probes import StateProbe

    sample = np.asarray(sample, np.int32)
    n_in, t_len = sample.shape
    if t_len < 2 or repeats < 1:
        raise ValueError("need a sample of >= 2 steps and repeats >= 1")
    net = netx.hdf5.Network(net_config=str(net_path), reset_interval=t_len,
                            input_message_bits=message_bits)
    # The sample lives on chip and is replayed every T steps (IO-unconstrained mode).
    buffer = CyclicBuffer(first_frame=sample[:, 0], replay_frames=sample[:, 1:])
    # CyclicBuffer's a_in is driven from the host as in the public SHD example (all zeros).
    feed = RingBuffer(data=np.zeros((n_in, t_len), np.int32))
    adapter = PyToNxAdapter(shape=(n_in,))
    identity = Dense(weights=np.eye(n_in))
    feed.s_out.connect(adapter.inp)
    adapter.out.connect(identity.s_in)
    identity.a_out.connect(buffer.a_in)
    buffer.s_out.connect(net.inp)
    num_steps = t_len * repeats
    power = loihi2_profiler.Loihi2Power(num_steps=num_steps)
    runtime = loihi2_profiler.Loihi2ExecutionTime()
    probe = StateProbe(net.layers[-1].neuron.v)
    try:
        net.run(condition=RunSteps(num_steps=num_steps),
                run_cfg=Loihi2HwCfg(callback_fxs=[power, runtime, probe]))
    finally:
        net.stop()
    out_v = np.asarray(probe.time_series).reshape(-1, num_steps).T
    return {"time_per_step_us": float(runtime.avg_time_per_step),
            "total_power_W": float(np.mean(power.total_power)),
            "static_power_W": float(power.static_total_power),
            "n_steps": int(t_len), "repeats": int(repeats),
            "out_v_first_sample": out_v[:t_len].tolist()}


def per_sample_cost(result: dict[str, Any]) -> dict[str, float]:
    """latency_ms, power and energies per sample from run_on_loihi's raw result."""
    latency_ms = result["time_per_step_us"] * result["n_steps"] * 1e-3
    total_w, static_w = result["total_power_W"], result["static_power_W"]
    return {"latency_ms": latency_ms, "power_active_W": total_w, "power_idle_W": static_w,
            "energy_total_mJ": total_w * latency_ms,
            "energy_dynamic_mJ": (total_w - static_w) * latency_ms}


def sidecar_main(request: dict[str, Any], arrays: dict[str, Any]) -> dict[str, Any]:
    """Side-environment entry: {"op": "status"} -> {"missing": [...]}; {"op": "run", "net",
    "repeats", "message_bits", "partition"} with arrays["sample"] (n_in, T) -> run_on_loihi."""
    if request["op"] == "status":
        return {"missing": missing_modules()}
    return run_on_loihi(request["net"], arrays["sample"], int(request["repeats"]),
                        int(request["message_bits"]), request.get("partition"))

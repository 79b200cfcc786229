"""Latency from mlGeNN's GeNN kernel timers (the paper's method), as Table II rows.

GeNN's CUDA backend times neuron update + presynaptic update + reset with CUDA events; its
CPU backend times the same sections with a host clock. GeNN is not on PyPI: it runs in the
"genn" side environment (`make genn-env`); without it the rows say so.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from neurokws.data.formats.events import EventSplit, save_npz
from neurokws.model.network import NetworkConfig
from neurokws.profiling.inference.records import ProfileRow, unavailable_rows
from neurokws.utils.sidecar import SidecarUnavailableError, run_module

METHOD = ("GeNN kernel timers: neuron update + presynaptic update + reset, summed over the "
          "samples / number of batches (the paper's latency method); no power measured")


def kernel_timer_row(stats: dict[str, Any], config: NetworkConfig, model: str) -> ProfileRow:
    """A Table II row from `neurokws.backends.mlgenn.profile_kernels` output."""
    batch = int(stats["batch_size"])
    n_batches = -(-int(stats["n_samples"]) // batch)
    latency_batch_ms = stats["kernel_total_s"] / max(n_batches, 1) * 1e3
    on_gpu = stats["genn_backend"] == "cuda"
    return ProfileRow(
        source="measured", status="ok",
        hardware="GPU (mlGeNN)" if on_gpu else "CPU (mlGeNN, GeNN CPU backend)",
        backend=f"mlGeNN (GeNN {stats['genn_backend']})", batch_size=batch,
        device=str(stats.get("device", "")), model=model, hidden_size=config.n_hidden,
        n_classes=config.n_out, precision="fp32", n_steps=config.n_steps,
        samples_measured=int(stats["n_samples"]), n_batches=n_batches,
        latency_batch_ms=latency_batch_ms, latency_sample_ms=latency_batch_ms / batch,
        latency_step_us=latency_batch_ms * 1e3 / config.n_steps, method=METHOD,
        notes=f"timer {stats['timer']}; accuracy on the profiled samples {stats['accuracy']:.4f}")


def mlgenn_kernel_rows(model_path: str | os.PathLike, data: EventSplit, config: NetworkConfig,
                       batch_size: int, model: str = "") -> list[ProfileRow]:
    """Kernel-timer rows for one model and batch size; an 'unavailable' row without GeNN, or
    for batch sizes above 1 when GeNN has no CUDA backend (its CPU backend runs batch 1)."""
    from neurokws.backends import genn_built_backends

    built = genn_built_backends()
    if built and batch_size > 1 and "cuda" not in built:
        return unavailable_rows(
            "GPU (mlGeNN)", "mlGeNN", f"GeNN here is built with {built} only: its CPU backend "
            "runs batch size 1; build GeNN with CUDA_PATH set for larger batches", config,
            (batch_size,), model=model)
    with tempfile.TemporaryDirectory(prefix="neurokws-genn-profile-") as tmp:
        test = Path(tmp) / "test.npz"
        save_npz(test, data)
        try:
            stats = run_module("genn", "neurokws.backends.mlgenn", {
                "op": "profile_kernels", "model": os.fspath(Path(model_path).resolve()),
                "test": str(test), "batch_size": int(batch_size)}).data
        except SidecarUnavailableError as exc:
            return unavailable_rows("GPU (mlGeNN)", "mlGeNN", str(exc), config, (batch_size,),
                                    model=model)
    return [kernel_timer_row(stats, config, model)]

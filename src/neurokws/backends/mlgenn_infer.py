"""mlGeNN forward passes of our models: inference, one batch's Eventprop gradients, and the
paper's kernel-timer latency (neuron update + presynaptic update + reset, summed).

GeNN quirk handled here: spikes emitted in a trial's last timestep stay in GeNN's spike
queue and reach their targets in the first timestep of the next trial (mlGeNN's reset does
not clear the queue). `isolate_trials=True` runs an input-free spacer trial after every
batch so that each trial starts from a clean state, as in our engine.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.backends.genn_env import BackendUnavailableError, choose_backend, require, versions
from neurokws.data.formats.binning import BinnedSplit, bin_events
from neurokws.data.formats.events import EventSplit
from neurokws.model.engine import RegConfig
from neurokws.model.network import Delays, NetworkConfig, Weights, load_network

log = logging.getLogger(__name__)

CPU_BACKEND = "single_threaded_cpu"


@dataclass
class GennInference:
    """Readouts, hidden spikes and (optionally) kernel timers of an mlGeNN inference run."""

    readout: np.ndarray                  # (n, C) float64 copy of GeNN's float32 R
    hidden_spike_counts: np.ndarray      # (n, N) int64
    spike_trains: list[tuple[np.ndarray, np.ndarray]] | None  # (steps, ids), if kept
    timers: dict[str, float] | None      # seconds, when kernel_profiling
    genn_backend: str
    wall_s: float


@dataclass
class GennGradients:
    """One example's Eventprop gradients from mlGeNN (batch size 1)."""

    grads: Weights      # true gradient dL/dw: mlGeNN's raw Gradient times tau_mem (float64)
    raw: Weights        # mlGeNN's Gradient variables as accumulated (float64)
    readout: np.ndarray  # (C,) R of the example in mlGeNN's training forward pass
    raw_delays: Delays | None = None  # DelayGradient (float64; zeros where none learned)


def _check_batch(batch_size: int, backend: str) -> None:
    """GeNN's single-threaded CPU backend runs batch size 1 only."""
    if backend == CPU_BACKEND and batch_size != 1:
        raise ValueError(f"GeNN's CPU backend supports batch size 1 only (got {batch_size}); "
                         "use a CUDA build of GeNN for larger batches")


def _trial_list(spikes: list, empty: Any, batch_size: int, isolate: bool) -> tuple[list, list]:
    """Flat trial list (padded batches, spacer batches if isolate) and each sample's position."""
    trials: list = []
    where: list = []
    for start in range(0, len(spikes), batch_size):
        chunk = spikes[start:start + batch_size]
        where.extend((len(trials) // batch_size, b) for b in range(len(chunk)))
        trials.extend(chunk + [empty] * (batch_size - len(chunk)))
        if isolate:
            trials.extend([empty] * batch_size)
    return trials, where


def infer(net: NetworkConfig, weights: Weights, data: BinnedSplit, batch_size: int = 1, *,
          isolate_trials: bool = True, keep_spike_trains: bool = False,
          kernel_profiling: bool = False, genn_backend: str | None = None,
          build_dir: Path | None = None, optimize_code: bool = True,
          delays: Delays | None = None) -> GennInference:
    """Run every sample of `data` through mlGeNN's InferenceCompiler network (with the
    model's integer `delays`, if it has any)."""
    require()
    from ml_genn.utils.data import preprocess_spikes

    from neurokws.backends.mlgenn_callbacks import ReadoutTap
    from neurokws.backends.mlgenn_net import (
        build_location,
        build_model,
        build_network,
        inference_compiler,
        max_spikes_per_sample,
        to_spikes,
    )

    backend = choose_backend(genn_backend)
    _check_batch(batch_size, backend)
    gnet = build_network(net, weights, batch_size * max_spikes_per_sample(data),
                         delays=delays)
    compiled = inference_compiler(net, batch_size=batch_size, genn_backend=backend,
                                  optimize_code=optimize_code,
                                  kernel_profiling=kernel_profiling).compile(
        gnet.network, name="neurokws_infer")
    empty = preprocess_spikes(np.zeros(0), np.zeros(0, np.int64), net.n_in)
    trials, where = _trial_list(to_spikes(data), empty, batch_size, isolate_trials)
    tap = ReadoutTap(gnet, net.n_hidden, record_spikes=True, keep_trains=keep_spike_trains,
                     last_time=(net.n_steps - 1.5) * net.dt)
    with build_location(build_dir) as where_built:
        build_model(compiled, where_built)
        with compiled:
            start = time.perf_counter()
            compiled.evaluate({gnet.input: trials},
                              {gnet.output: np.zeros(len(trials), np.int64)}, callbacks=[tap])
            wall = time.perf_counter() - start
            timers = _timers(compiled.genn_model) if kernel_profiling else None
    readout = np.stack([tap.readouts[b][k] for b, k in where]) if where else np.zeros(
        (0, net.n_out))
    counts = np.stack([tap.counts[b * batch_size + k] for b, k in where]) if where else \
        np.zeros((0, net.n_hidden), np.int64)
    if isolate_trials:
        _check_spacers(tap, where, batch_size)
    trains = ([_steps(tap.spike_trains[b * batch_size + k], net.dt) for b, k in where]
              if keep_spike_trains else None)
    return GennInference(readout, counts, trains, timers, backend, wall)


def _steps(train: tuple[np.ndarray, np.ndarray], dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Spike times (ms) -> step indices, sorted by (step, neuron)."""
    steps = np.rint(np.asarray(train[0]) / dt).astype(np.int64)
    ids = np.asarray(train[1], dtype=np.int64)
    order = np.lexsort((ids, steps))
    return steps[order], ids[order]


def _check_spacers(tap: Any, where: list, batch_size: int) -> None:
    """Warn if a spacer trial still spiked in its last step (it would leak into the next)."""
    real = {b for b, _ in where}
    spacers = [b for b in range(len(tap.readouts)) if b not in real]
    if any(tap.late[b * batch_size + k] for b in spacers for k in range(batch_size)):
        log.warning("a spacer trial spiked in its last step: trials are not isolated")


def _timers(genn_model: Any) -> dict[str, float]:
    """GeNN's accumulated kernel times (s): the three the paper sums, and a few more."""
    return {"neuron_update_s": float(genn_model.neuron_update_time),
            "presynaptic_update_s": float(genn_model.presynaptic_update_time),
            "reset_s": float(genn_model.get_custom_update_time("Reset")),
            "init_s": float(genn_model.init_time)}


def eventprop_gradients(net: NetworkConfig, weights: Weights, data: BinnedSplit, sample: int,
                        reg: RegConfig | None = None, *, follower: int | None = None,
                        genn_backend: str | None = None, build_dir: Path | None = None,
                        optimize_code: bool = True,
                        delays: Delays | None = None) -> GennGradients:
    """mlGeNN's Eventprop gradient of sample `sample` alone (batch size 1), before any update.

    mlGeNN computes it during the next trial's forward pass (that of `follower`), so two
    trials are run and the Gradient variables are read at the end of the second one. With
    `delays` (a model with delays), every connection with delays learns them
    (`delay_learn_conns`), and their raw DelayGradient is returned too.
    """
    require()
    from ml_genn.optimisers import Adam

    from neurokws.backends.mlgenn_callbacks import GradientTap, ReadoutTap
    from neurokws.backends.mlgenn_net import (
        build_location,
        build_model,
        build_network,
        eventprop_compiler,
        max_spikes_per_sample,
        patch_batch1_labels,
        to_spikes,
    )

    patch_batch1_labels()
    backend = choose_backend(genn_backend)
    follower = sample if follower is None else follower
    pair = data.subset([sample, follower])
    gnet = build_network(net, weights, max_spikes_per_sample(pair), delays=delays)
    # no regulariser: both strengths 0 (nu_upper then has no effect)
    reg = reg or RegConfig(nu_upper=0.0, lambda_upper=0.0, lambda_lower=0.0)
    compiled = eventprop_compiler(
        net, batch_size=1, optimiser=Adam(), reg_lambda_upper=reg.lambda_upper,
        reg_lambda_lower=reg.lambda_lower, nu_upper=reg.nu_upper, seed=0,
        genn_backend=backend, optimize_code=optimize_code,
        delay_learn_conns=tuple(gnet.delayed.values()), delay_optimiser=Adam()).compile(
        gnet.network, name="neurokws_grad")
    grad_tap = GradientTap(gnet, batch=1, n_steps=net.n_steps)
    readout_tap = ReadoutTap(gnet, net.n_hidden, record_spikes=False)
    with build_location(build_dir) as where_built:
        build_model(compiled, where_built)
        with compiled:
            compiled.train({gnet.input: to_spikes(pair)},
                           {gnet.output: pair.labels.astype(np.int64)}, num_epochs=1,
                           shuffle=False, callbacks=[grad_tap, readout_tap])
    shapes = {k: getattr(weights, k).shape for k in Weights.NAMES}
    raw = Weights(*(grad_tap.raw[k].reshape(shapes[k]) for k in Weights.NAMES))
    grads = Weights(*(a * net.tau_mem for a in raw.arrays().values()))
    raw_delays = None
    if delays is not None:
        raw_delays = Delays(*(grad_tap.raw[k].reshape(getattr(weights, w).shape)
                              if k in grad_tap.raw else np.zeros(getattr(weights, w).shape)
                              for k, w in (("d_in", "w_in"), ("d_rec", "w_rec"))))
    return GennGradients(grads=grads, raw=raw, readout=readout_tap.readouts[0][0],
                         raw_delays=raw_delays)


def profile_kernels(model_path: str | Path, data: BinnedSplit | EventSplit,
                    batch_size: int = 1, *, n_samples: int | None = None,
                    genn_backend: str | None = None, require_gpu: bool = False,
                    build_dir: Path | None = None) -> dict[str, Any]:
    """The paper's latency: GeNN kernel timers (neuron + presynaptic update + reset) summed
    (a model with delays runs with them: GeNN's dendritic delays).

    CUDA: CUDA-event kernel times. GeNN's CPU backend times the same code sections with a
    host clock; those are reported with device 'cpu' (require_gpu=True refuses them).
    """
    require()
    config, weights, delays, _ = load_network(model_path)
    binned = data if isinstance(data, BinnedSplit) else bin_events(data, config.dt,
                                                                   config.n_steps)
    if n_samples is not None:
        binned = binned.subset(np.arange(min(int(n_samples), len(binned))))
    backend = choose_backend(genn_backend)
    if require_gpu and backend != "cuda":
        raise BackendUnavailableError(
            f"kernel profiling on GPU needs GeNN's CUDA backend; this pygenn has {backend!r} "
            "(build GeNN with CUDA_PATH set on a machine with CUDA)")
    res = infer(config, weights, binned, batch_size, isolate_trials=False,
                kernel_profiling=True, genn_backend=backend, build_dir=build_dir,
                delays=delays)
    t = res.timers or {}
    total = t["neuron_update_s"] + t["presynaptic_update_s"] + t["reset_s"]
    n = len(binned)
    n_batches = -(-n // batch_size)
    accuracy = float(np.mean(np.argmax(res.readout, axis=1) == binned.labels)) if n else np.nan
    return {"model": str(model_path), "genn_backend": backend,
            "device": "gpu" if backend == "cuda" else "cpu",
            "timer": "cuda_events" if backend == "cuda" else "host_clock",
            "batch_size": batch_size, "n_samples": n, "n_hidden": config.n_hidden,
            "n_steps": config.n_steps, "neuron_update_s": t["neuron_update_s"],
            "presynaptic_update_s": t["presynaptic_update_s"], "reset_s": t["reset_s"],
            "kernel_total_s": total,
            "latency_ms_per_sample": total / n * 1e3 if n else np.nan,
            "kernel_us_per_step": total / (n_batches * config.n_steps) * 1e6 if n else np.nan,
            "accuracy": accuracy, "wall_s": res.wall_s, **versions()}

"""mlGeNN training backend: the paper's network, compiler settings and schedules on GeNN.

Mirrors neurokws.train.loop.train (same seeded init, augmentation, shuffling, schedules,
silent-neuron rescue, checkpoints and TrainResult), but the forward and backward passes are
mlGeNN's EventPropCompiler, with its pipelining: the backward pass of batch b - 1 runs during
the forward pass of batch b, so the last batch of each epoch contributes no gradient, and the
training accuracy is online. GeNN's CUDA backend is used when built, else its single-threaded
CPU backend, which only supports batch size 1 (training then uses batch size 1).
pygenn/ml_genn are imported lazily; without them every entry point raises
BackendUnavailableError naming how to install GeNN.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.backends.genn_env import (
    BackendUnavailableError,
    available,
    choose_backend,
    require,
    versions,
)
from neurokws.backends.mlgenn_infer import (
    GennInference,
    eventprop_gradients,
    infer,
    profile_kernels,
)
from neurokws.config import TrainSettings
from neurokws.data.binning import BinnedSplit, bin_events
from neurokws.data.events import EventSplit
from neurokws.model.init import init_weights
from neurokws.model.network import NetworkConfig, Weights
from neurokws.train.checkpoint import TrainState, resume_or_none
from neurokws.train.loop import (
    TrainResult,
    epoch_inputs,
    epoch_rng,
    finish_epoch,
    resume_hash,
    selection_mode,
)
from neurokws.train.schedule import LearningRateSchedule

log = logging.getLogger(__name__)

CPU_BACKEND = "single_threaded_cpu"
MODEL_NAME = "neurokws_train"


def effective_batch_size(requested: int, genn_backend: str) -> int:
    """The batch size GeNN can run: as requested on CUDA, 1 on the single-threaded CPU."""
    if genn_backend == CPU_BACKEND and requested != 1:
        log.warning("GeNN's CPU backend supports batch size 1 only: training with batch size "
                    "1 instead of %d (a different trajectory; use a CUDA build for %d)",
                    requested, requested)
        return 1
    return int(requested)


def make_compiler(net: NetworkConfig, settings: TrainSettings, seed: int, batch_size: int,
                  genn_backend: str, optimize_code: bool = True,
                  kernel_profiling: bool = False) -> Any:
    """The paper's EventPropCompiler for these settings; Adam starts at the ease-in rate."""
    from ml_genn.optimisers import Adam

    from neurokws.backends.mlgenn_net import eventprop_compiler

    return eventprop_compiler(
        net, batch_size=batch_size,
        optimiser=Adam(settings.ease_in_start_lr, settings.adam_beta1, settings.adam_beta2,
                       settings.adam_eps),
        reg_lambda_upper=settings.reg_lambda_upper, reg_lambda_lower=settings.reg_lambda_lower,
        nu_upper=settings.nu_upper, seed=seed, genn_backend=genn_backend,
        optimize_code=optimize_code, kernel_profiling=kernel_profiling)


def _optimiser_updates(compiled: Any) -> dict[str, Any]:
    """The Adam custom update of each weight matrix (mlGeNN names them by connection order)."""
    updates = compiled.genn_model.custom_updates
    out = {}
    for i, name in enumerate(Weights.NAMES):
        key = f"CUGradientLearnWeight{i}"
        if key not in updates:
            raise RuntimeError(f"mlGeNN model has no optimiser update {key}; is this an "
                               "mlGeNN version other than 2.3?")
        out[name] = updates[key]
    return out


def get_adam_state(compiled: Any, weights: Weights) -> dict[str, np.ndarray]:
    """Adam's moments from GeNN, keyed like our optimiser's checkpoint arrays."""
    state = {}
    for name, update in _optimiser_updates(compiled).items():
        shape = getattr(weights, name).shape
        for var in ("M", "V"):
            update.vars[var].pull_from_device()
            state[f"adam_{var.lower()}_{name}"] = np.array(
                update.vars[var].view, dtype=np.float32).reshape(shape)
    return state


def set_adam_state(compiled: Any, state: dict[str, np.ndarray]) -> None:
    """Push moments saved by get_adam_state back into GeNN (no-op for a fresh run)."""
    for name, update in _optimiser_updates(compiled).items():
        for var in ("M", "V"):
            key = f"adam_{var.lower()}_{name}"
            if key in state:
                view = update.vars[var].view
                if view.size != state[key].size:
                    raise ValueError(f"checkpoint {key} has {state[key].size} values, "
                                     f"GeNN expects {view.size}")
                view[:] = np.asarray(state[key], dtype=np.float32).ravel()
                update.vars[var].push_to_device()


def input_spike_bound(train_split: EventSplit, settings: TrainSettings,
                      valid: BinnedSplit | None) -> int:
    """Upper bound on one example's input spikes in any epoch (blends merge two examples)."""
    bound = int(np.max(train_split.counts, initial=1))
    if "blend" in settings.augmentations:
        bound *= 2
    if valid is not None:
        bound = max(bound, int(np.max(np.diff(valid.offsets), initial=1)))
    return max(bound, 1)


def train(net: NetworkConfig, settings: TrainSettings, seed: int, train_split: EventSplit,
          out_dir: Path, valid_split: EventSplit | None = None,
          run_config: dict[str, Any] | None = None, *, genn_backend: str | None = None,
          optimize_code: bool = True) -> TrainResult:
    """Train one cell with mlGeNN; checkpoint every epoch into out_dir/checkpoints, resume."""
    require()
    backend = choose_backend(genn_backend)
    batch = effective_batch_size(settings.batch_size, backend)
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    identity = {**(run_config or {}), "backend": "mlgenn", "genn_backend": backend,
                "batch_size": batch, "versions": versions()}
    run_hash = resume_hash(net, settings, seed, train_split, identity)
    mode = selection_mode(settings, valid_split is not None)
    valid = bin_events(valid_split, net.dt, net.n_steps) if valid_split is not None else None
    state = resume_or_none(ckpt_dir / "last.npz", run_hash)
    if state is None:
        state = _fresh_state(net, settings, seed, run_hash)
    else:
        log.info("resuming %s after epoch %d", out_dir, state.epoch)
    if state.epoch < settings.epochs:
        context = {"net": net, "settings": settings, "seed": seed, "batch": batch,
                   "backend": backend, "valid": valid, "optimize_code": optimize_code,
                   "versions": ", ".join(f"{k} {v}" for k, v in versions().items())}
        _train_epochs(context, state, train_split, out_dir, mode)
    with np.load(ckpt_dir / "best.npz") as best:
        selected = Weights(*(np.array(best[k]) for k in Weights.NAMES))
    return TrainResult(weights=selected, selected_epoch=state.best_epoch, selection=mode,
                       log_rows=state.log_rows)


def _fresh_state(net: NetworkConfig, settings: TrainSettings, seed: int,
                 run_hash: str) -> TrainState:
    """Epoch 0: the paper's init from `seed` (as our engine) and a new schedule."""
    schedule = LearningRateSchedule(
        target_lr=settings.lr, start_lr=settings.ease_in_start_lr,
        factor=settings.ease_in_factor, fast_alpha=settings.plateau_fast,
        slow_alpha=settings.plateau_slow, patience=settings.plateau_patience,
        decay=settings.plateau_factor)
    return TrainState(epoch=0, weights=init_weights(net, np.random.default_rng(int(seed))),
                      optimizer={}, schedule=schedule.state(), run_hash=run_hash)


def _train_epochs(ctx: dict[str, Any], state: TrainState, train_split: EventSplit,
                  out_dir: Path, mode: str) -> None:
    """Compile the network from `state`, then run the remaining epochs, checkpointing each."""
    from neurokws.backends.mlgenn_net import (
        build_model,
        build_network,
        patch_batch1_labels,
        to_spikes,
    )

    patch_batch1_labels()
    net, settings, batch, valid = ctx["net"], ctx["settings"], ctx["batch"], ctx["valid"]
    schedule = LearningRateSchedule.from_state(state.schedule)
    gnet = build_network(net, state.weights,
                         batch * input_spike_bound(train_split, settings, valid))
    compiled = make_compiler(net, settings, ctx["seed"], batch, ctx["backend"],
                             ctx["optimize_code"]).compile(gnet.network, name=MODEL_NAME)
    build_model(compiled, out_dir / "genn")
    ctx["valid_x"] = to_spikes(valid) if valid is not None else None
    with compiled:
        set_adam_state(compiled, state.optimizer)
        for epoch in range(state.epoch, settings.epochs):
            row = _run_epoch(compiled, gnet, ctx, epoch, train_split, schedule)
            _finish_epoch(compiled, gnet, net, state, schedule, row, mode,
                          out_dir / "checkpoints")


def _run_epoch(compiled: Any, gnet: Any, ctx: dict[str, Any], epoch: int,
               train_split: EventSplit, schedule: LearningRateSchedule) -> dict[str, Any]:
    """One mlGeNN epoch on our seeded augmented, shuffled data (+ validation if any)."""
    from ml_genn.callbacks import BatchProgressBar

    from neurokws.backends.mlgenn_callbacks import EpochStats, ScheduleLR, SilentRescue
    from neurokws.backends.mlgenn_net import to_spikes

    net, settings, batch, valid = ctx["net"], ctx["settings"], ctx["batch"], ctx["valid"]
    start, cpu_start = time.perf_counter(), time.process_time()
    rng = epoch_rng(ctx["seed"], epoch)
    data = epoch_inputs(train_split, settings, net, rng)
    order = rng.permutation(len(data.labels)).astype(np.int64)
    labels = data.labels[order].astype(np.int64)
    stats = EpochStats(gnet, labels, batch, net.n_hidden)
    lr = ScheduleLR(schedule)
    rescue = SilentRescue(gnet, stats, settings.rescue_increment)
    callbacks = [lr, stats, rescue] + ([BatchProgressBar()] if settings.progress_bar else [])
    extra = {} if valid is None else {
        "validation_x": {gnet.input: ctx["valid_x"]}, "validation_y": {gnet.output: valid.labels},
        "validation_callbacks": []}
    result = compiled.train({gnet.input: to_spikes(data, order)}, {gnet.output: labels},
                            num_epochs=1, start_epoch=epoch, shuffle=False,
                            callbacks=callbacks, **extra)
    n, tally = len(labels), stats.tally
    return {"epoch": epoch, "loss": tally.loss_sum / n, "train_accuracy": tally.correct / n,
            "valid_accuracy": (float(result[1][gnet.output].result) if valid is not None
                               else np.nan),
            "lr": lr.tally.last_lr,
            "mean_hidden_spikes": float(tally.spikes.sum()) / (n * net.n_hidden),
            "max_hidden_spikes": float(tally.spikes.max()) / n,
            "silent_neurons": rescue.tally.n_silent, "n_samples": n,
            "wall_time_s": time.perf_counter() - start,
            "cpu_time_s": time.process_time() - cpu_start, "backend": "mlgenn",
            "genn_backend": ctx["backend"], "genn_versions": ctx["versions"], "batch_size": batch,
            "gradient_updates": max(0, -(-n // batch) - 1)}


def _finish_epoch(compiled: Any, gnet: Any, net: NetworkConfig, state: TrainState,
                  schedule: LearningRateSchedule, row: dict[str, Any], mode: str,
                  ckpt_dir: Path) -> None:
    """Plateau schedule, checkpoint selection and the resumable checkpoint, as loop.train."""
    from neurokws.backends.mlgenn_net import pull_weights

    weights = pull_weights(compiled, gnet, net)
    finish_epoch(state, row, weights, get_adam_state(compiled, weights), schedule, mode,
                 ckpt_dir)


__all__ = ["BackendUnavailableError", "GennInference", "available", "effective_batch_size",
           "eventprop_gradients", "infer", "profile_kernels", "train"]

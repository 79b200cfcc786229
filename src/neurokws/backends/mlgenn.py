"""mlGeNN training backend: the paper's network, compiler settings and schedules on GeNN.

`MlgennBackend` supplies epochs to the shared training loop (neurokws.train.loop.train: the
same seeded init, augmentation, shuffling, schedules, checkpoints and TrainResult as our
engine); the forward and backward passes are mlGeNN's EventPropCompiler, with its
pipelining: the backward pass of batch b - 1 runs during the forward pass of batch b, so the
last batch of each epoch contributes no gradient, and the training accuracy is online.
GeNN's CUDA backend is used when built, else its single-threaded CPU backend, which only
supports batch size 1 (training then uses batch size 1).

With `delays` (DelayTraining, a model with delays), every connection with delays learns
them as in mlGeNN's recipe (`delay_learn_conns`, `delay_optimiser`: their own Adam at the
fixed delay rate, clamped to [0, max] by mlGeNN, rounded with C's round in its forward pass,
which is train/delays.py's rounding for d >= 0); the float delays, their Adam moments and
checkpoints go through the same loop as our engine's.

GeNN is built from source into the side environment "genn" (`make genn-env`, see
envs/genn/README.md); the workflow reaches it through `sidecar_main` below. pygenn/ml_genn
are imported lazily; without them every entry point raises BackendUnavailableError naming
how to install GeNN.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from neurokws.backends.genn_env import (
    BackendUnavailableError,
    available,
    choose_backend,
    genn_backends,
    require,
    versions,
)
from neurokws.backends.mlgenn_infer import (
    GennInference,
    eventprop_gradients,
    infer,
    profile_kernels,
)
from neurokws.config import DelayTraining, TrainSettings
from neurokws.data.formats.binning import BinnedSplit, bin_events
from neurokws.data.formats.events import EventSplit, load_npz
from neurokws.model.network import Delays, NetworkConfig, Weights
from neurokws.train import loop
from neurokws.train.checkpoint import TrainState
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
                  kernel_profiling: bool = False, delay_learn_conns: tuple = (),
                  delay_optimiser: Any = None) -> Any:
    """The paper's EventPropCompiler for these settings; Adam starts at the ease-in rate."""
    from ml_genn.optimisers import Adam

    from neurokws.backends.mlgenn_net import eventprop_compiler

    return eventprop_compiler(
        net, batch_size=batch_size,
        optimiser=Adam(settings.ease_in_start_lr, settings.adam_beta1, settings.adam_beta2,
                       settings.adam_eps),
        reg_lambda_upper=settings.reg_lambda_upper, reg_lambda_lower=settings.reg_lambda_lower,
        nu_upper=settings.nu_upper, seed=seed, genn_backend=genn_backend,
        optimize_code=optimize_code, kernel_profiling=kernel_profiling,
        delay_learn_conns=delay_learn_conns, delay_optimiser=delay_optimiser)


def _optimiser_updates(compiled: Any, delayed: tuple[str, ...] = ()) -> dict[str, Any]:
    """Checkpoint key prefix -> the Adam custom update of each weight matrix and of each
    connection's learned delays in `delayed` (mlGeNN numbers them by connection order)."""
    from neurokws.backends.mlgenn_callbacks import DELAY_UPDATE
    from neurokws.train.loop import DELAY_ADAM

    updates = compiled.genn_model.custom_updates
    wanted = {f"adam_{{}}_{name}": f"CUGradientLearnWeight{i}"
              for i, name in enumerate(Weights.NAMES)}
    wanted.update({f"{DELAY_ADAM}{{}}_{name}": f"{DELAY_UPDATE}{i}"
                   for i, name in enumerate(Delays.NAMES) if name in delayed})
    out = {}
    for key, update in wanted.items():
        if update not in updates:
            raise RuntimeError(f"mlGeNN model has no optimiser update {update}; is this an "
                               "mlGeNN version other than 2.3?")
        out[key] = updates[update]
    return out


def get_adam_state(compiled: Any, weights: Weights,
                   delayed: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Adam's moments from GeNN, keyed like our optimisers' checkpoint arrays."""
    shapes = {**{f"_{k}": a.shape for k, a in weights.arrays().items()},
              "_d_in": weights.w_in.shape, "_d_rec": weights.w_rec.shape}
    state = {}
    for key, update in _optimiser_updates(compiled, delayed).items():
        shape = next(v for k, v in shapes.items() if key.endswith(k))
        for var in ("M", "V"):
            update.vars[var].pull_from_device()
            state[key.format(var.lower())] = np.array(
                update.vars[var].view, dtype=np.float32).reshape(shape)
    return state


def set_adam_state(compiled: Any, state: dict[str, np.ndarray],
                   delayed: tuple[str, ...] = ()) -> None:
    """Push moments saved by get_adam_state back into GeNN (no-op for a fresh run)."""
    for key_fmt, update in _optimiser_updates(compiled, delayed).items():
        for var in ("M", "V"):
            key = key_fmt.format(var.lower())
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


class MlgennBackend:
    """Epochs on mlGeNN's EventPropCompiler (the loop in neurokws.train.loop owns the rest)."""

    supports_qat = False   # mlGeNN's weight quantization, genn-team/ml_genn PR #88, is unmerged

    def __init__(self, net: NetworkConfig, settings: TrainSettings, seed: int, out_dir: Path,
                 *, genn_backend: str | None = None, optimize_code: bool = True,
                 delays: DelayTraining | None = None):
        require()
        self.net, self.settings, self.seed, self.delays = net, settings, int(seed), delays
        self.out_dir = Path(out_dir)
        self.genn_backend = choose_backend(genn_backend)
        self.batch = effective_batch_size(settings.batch_size, self.genn_backend)
        self.optimize_code = optimize_code
        self.versions = ", ".join(f"{k} {v}" for k, v in versions().items())

    def identity(self) -> dict[str, Any]:
        ident = {"backend": "mlgenn", "genn_backend": self.genn_backend,
                 "batch_size": self.batch, "versions": versions()}
        return ident if self.delays is None else {**ident, "delays": self.delays.to_dict()}

    @contextlib.contextmanager
    def session(self, state: TrainState, train_split: EventSplit,
                valid_split: EventSplit | None, qat: None = None) -> Iterator[_MlgennSession]:
        """Compile the network from `state` (weights and Adam moments) once for all epochs.
        mlGeNN takes an epoch's inputs at once, so each epoch is binned whole. No QAT
        (`supports_qat`: the loop refuses it first)."""
        from neurokws.backends.mlgenn_net import (
            build_model,
            build_network,
            patch_batch1_labels,
            to_spikes,
        )

        patch_batch1_labels()
        valid = None if valid_split is None else bin_events(valid_split, self.net.dt,
                                                            self.net.n_steps)
        from ml_genn.optimisers import Adam

        gnet = build_network(self.net, state.weights,
                             self.batch * input_spike_bound(train_split, self.settings, valid),
                             delays=state.delays)
        s = self.settings
        delay_opt = (None if self.delays is None else
                     Adam(self.delays.lr, s.adam_beta1, s.adam_beta2, s.adam_eps))
        compiler = make_compiler(self.net, s, self.seed, self.batch, self.genn_backend,
                                 self.optimize_code, delay_learn_conns=tuple(
                                     gnet.delayed.values()), delay_optimiser=delay_opt)
        compiled = compiler.compile(gnet.network, name=MODEL_NAME)
        build_model(compiled, self.out_dir / "genn")
        valid_x = to_spikes(valid) if valid is not None else None
        with compiled:
            set_adam_state(compiled, state.optimizer, tuple(gnet.delayed))
            yield _MlgennSession(self, compiled, gnet, valid, valid_x)


class _MlgennSession:
    def __init__(self, backend: MlgennBackend, compiled: Any, gnet: Any,
                 valid: BinnedSplit | None, valid_x: Any):
        self.b, self.compiled, self.gnet = backend, compiled, gnet
        self.valid, self.valid_x = valid, valid_x

    def run_epoch(self, epoch: int, epoch_data: loop.EpochData,
                  schedule: LearningRateSchedule) -> loop.EpochOutcome:
        """One mlGeNN epoch on the loop's augmented, shuffled data (+ validation if any)."""
        from ml_genn.callbacks import BatchProgressBar

        from neurokws.backends.mlgenn_callbacks import EpochStats, ScheduleLR, SilentRescue
        from neurokws.backends.mlgenn_net import pull_delays, pull_weights, to_spikes

        b, gnet, valid = self.b, self.gnet, self.valid
        net, settings, batch = b.net, b.settings, b.batch
        start, cpu_start = time.perf_counter(), time.process_time()
        data, order = epoch_data.binned(), epoch_data.order
        labels = data.labels[order].astype(np.int64)
        stats = EpochStats(gnet, labels, batch, net.n_hidden)
        lr = ScheduleLR(schedule)
        rescue = SilentRescue(gnet, stats, settings.rescue_increment)
        callbacks = [lr, stats, rescue] + ([BatchProgressBar()] if settings.progress_bar else [])
        extra = {} if valid is None else {
            "validation_x": {gnet.input: self.valid_x},
            "validation_y": {gnet.output: valid.labels}, "validation_callbacks": []}
        result = self.compiled.train({gnet.input: to_spikes(data, order)},
                                     {gnet.output: labels}, num_epochs=1, start_epoch=epoch,
                                     shuffle=False, callbacks=callbacks, **extra)
        n, tally = len(labels), stats.tally
        row = {"epoch": epoch, "loss": tally.loss_sum / n, "train_accuracy": tally.correct / n,
               "valid_accuracy": (float(result[1][gnet.output].result) if valid is not None
                                  else np.nan),
               "lr": lr.tally.last_lr,
               "mean_hidden_spikes": float(tally.spikes.sum()) / (n * net.n_hidden),
               "max_hidden_spikes": float(tally.spikes.max()) / n,
               "silent_neurons": rescue.tally.n_silent, "n_samples": n,
               "wall_time_s": time.perf_counter() - start,
               "cpu_time_s": time.process_time() - cpu_start, "backend": "mlgenn",
               "genn_backend": b.genn_backend, "genn_versions": b.versions, "batch_size": batch,
               "gradient_updates": max(0, -(-n // batch) - 1)}
        weights = pull_weights(self.compiled, gnet, net)
        delays = None if b.delays is None else pull_delays(self.compiled, gnet, net)
        return loop.EpochOutcome(row, weights,
                                 get_adam_state(self.compiled, weights, tuple(gnet.delayed)),
                                 delays)


def train(net: NetworkConfig, settings: TrainSettings, seed: int, train_split: EventSplit,
          out_dir: Path, valid_split: EventSplit | None = None, *,
          genn_backend: str | None = None, optimize_code: bool = True,
          delays: DelayTraining | None = None, init: Weights | None = None
          ) -> loop.TrainResult:
    """Train one cell with mlGeNN (learning `delays` too, if given; from weights `init`
    instead of the paper's initialisation, if given); checkpoint every epoch into
    out_dir/checkpoints, resume."""
    backend = MlgennBackend(net, settings, seed, out_dir, genn_backend=genn_backend,
                            optimize_code=optimize_code, delays=delays)
    return loop.train(net, settings, seed, train_split, out_dir, valid_split, backend=backend,
                      delays=delays, init=init)


def sidecar_main(request: dict[str, Any], arrays: dict[str, Any]) -> tuple[dict, dict]:
    """Entry point in the "genn" side environment (neurokws.utils.sidecar).

    op "train": {net, settings, seed, cell_dir, train, valid[, delays]} (prepared .npz paths;
    delays: DelayTraining as a dict; arrays init_w_in, init_w_rec, init_w_out: the starting
    weights, if any) -> the TrainResult (weights, and integer delays, as arrays); op
    "profile_kernels": {model, test, batch_size} ->
    profile_kernels' record; op "backends": the GeNN backends this pygenn was built with.
    """
    op = request["op"]
    if op == "backends":
        return {"backends": genn_backends(), "versions": versions()}, {}
    if op == "profile_kernels":
        return profile_kernels(request["model"], load_npz(request["test"]),
                               int(request["batch_size"])), {}
    if op != "train":
        raise ValueError(f"unknown op {op!r}")
    valid = load_npz(request["valid"]) if request.get("valid") else None
    delays = (DelayTraining.from_dict(request["delays"]) if request.get("delays") else None)
    init = (Weights(*(np.asarray(arrays[f"init_{k}"], np.float32) for k in Weights.NAMES))
            if "init_w_in" in arrays else None)
    result = train(NetworkConfig.from_dict(request["net"]),
                   TrainSettings.from_dict(request["settings"]), int(request["seed"]),
                   load_npz(request["train"]), Path(request["cell_dir"]), valid, delays=delays,
                   init=init)
    arrays = result.weights.arrays()
    if result.delays is not None:
        arrays.update(result.delays.arrays())
    return ({"selected_epoch": result.selected_epoch, "selection": result.selection,
             "log_rows": result.log_rows}, arrays)


__all__ = ["BackendUnavailableError", "GennInference", "MlgennBackend", "available",
           "effective_batch_size", "eventprop_gradients", "infer", "profile_kernels",
           "sidecar_main", "train"]
